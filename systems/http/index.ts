import { CampaignHttp } from '../campaign/http.ts';
import type { SystemName } from '../contract.ts';
import { CouponHttp } from '../coupon/http.ts';
import { FuelCatalogHttp } from '../fuel-catalog/http.ts';
import { GoodsHttp } from '../goods/http.ts';
import type { Systems } from '../index.ts';
import { InvoiceHttp } from '../invoice/http.ts';
import { LevelHttp } from '../level/http.ts';
import { MarketingHttp } from '../marketing/http.ts';
import { NotifyHttp } from '../notify/http.ts';
import { OrderHttp } from '../order/http.ts';
import { OsHttp } from '../os/http.ts';
import { PaymentGatewayHttp } from '../payment-gateway/http.ts';
import { PointsHttp } from '../points/http.ts';
import { PromotionHttp } from '../promotion/http.ts';
import { PushHttp } from '../push/http.ts';
import { SettlementHttp } from '../settlement/http.ts';
import { StoredValueHttp } from '../stored-value/http.ts';
import { UserHttp } from '../user/http.ts';
import { ConnectionPools, HttpConnector } from './connector.ts';

/** Options of {@link createHttpSystems}. */
export interface HttpSystemsOptions {
  /** Base URL of every system. */
  urls: Record<SystemName, string>;
  /** Keep-alive connections per origin. */
  poolSize: number;
  /** Deadline of one call to the system, ms. */
  timeoutMs(system: SystemName): number;
  /** Sends `x-tc-now` from this clock (a `trade sim --clock follow` replaying a seeded run). */
  sendClock?: { now(): number };
}

/** The downstream systems over HTTP, and the connection pools to close at shutdown. */
export interface HttpSystems {
  systems: Systems;
  close(): Promise<void>;
}

/** Builds one HTTP connector per port, all sharing keep-alive pools per origin. */
export function createHttpSystems(opts: HttpSystemsOptions): HttpSystems {
  const pools = new ConnectionPools(opts.poolSize);
  const connector = (system: SystemName) =>
    new HttpConnector({
      system,
      baseUrl: opts.urls[system],
      timeoutMs: opts.timeoutMs(system),
      pools,
      ...(opts.sendClock ? { sendClock: opts.sendClock } : {}),
    });
  const systems: Systems = {
    user: new UserHttp(connector('user')),
    fuelCatalog: new FuelCatalogHttp(connector('fuelCatalog')),
    order: new OrderHttp(connector('order')),
    paymentGateway: new PaymentGatewayHttp(connector('paymentGateway')),
    storedValue: new StoredValueHttp(connector('storedValue')),
    promotion: new PromotionHttp(connector('promotion')),
    goods: new GoodsHttp(connector('goods')),
    coupon: new CouponHttp(connector('coupon')),
    points: new PointsHttp(connector('points')),
    level: new LevelHttp(connector('level')),
    marketing: new MarketingHttp(connector('marketing')),
    campaign: new CampaignHttp(connector('campaign')),
    settlement: new SettlementHttp(connector('settlement')),
    push: new PushHttp(connector('push')),
    invoice: new InvoiceHttp(connector('invoice')),
    notify: new NotifyHttp(connector('notify')),
    os: new OsHttp(connector('os')),
  };
  return { systems, close: () => pools.close() };
}
