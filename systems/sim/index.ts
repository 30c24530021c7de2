import type { SystemName } from '../contract.ts';
import { CampaignSimulator } from '../campaign/simulator.ts';
import { CouponSimulator } from '../coupon/simulator.ts';
import { FuelCatalogSimulator } from '../fuel-catalog/simulator.ts';
import { GoodsSimulator } from '../goods/simulator.ts';
import { InvoiceSimulator } from '../invoice/simulator.ts';
import type { Systems } from '../index.ts';
import { LevelSimulator } from '../level/simulator.ts';
import { MarketingSimulator } from '../marketing/simulator.ts';
import { NotifySimulator } from '../notify/simulator.ts';
import { OrderSimulator } from '../order/simulator.ts';
import { OsSimulator } from '../os/simulator.ts';
import { PaymentGatewaySimulator } from '../payment-gateway/simulator.ts';
import { PointsSimulator } from '../points/simulator.ts';
import { PromotionSimulator } from '../promotion/simulator.ts';
import { PushSimulator } from '../push/simulator.ts';
import { SettlementSimulator } from '../settlement/simulator.ts';
import { StoredValueSimulator } from '../stored-value/simulator.ts';
import { UserSimulator } from '../user/simulator.ts';
import type { Dataset } from './dataset.ts';
import type { CallbackTransport } from './callback-outbox.ts';
import { FaultInjector, type FaultTiming } from './faults.ts';
import { SimStore, type Clock } from './store.ts';
import { ChannelBills } from '../payment-gateway/bills/channel-bills.ts';

/** Options of {@link createSimulators}. */
export interface SimulatorOptions {
  /** The simulators' own SQLite file (never the platform's); `:memory:` for unit tests. */
  dbPath: string;
  /** Loaded into an empty store only (or always, with `reset`). */
  dataset: Dataset;
  clock: Clock;
  /** Where the payment gateway calls back and the secret it signs with; see `setCallbackTarget`. */
  callback: { baseUrl: string; secret: string; delayMs?: number; transport?: CallbackTransport; nonce?: () => string };
  /** Virtual time for latency and hangs (the deterministic simulation); real timers without it. */
  timing?: FaultTiming;
  /** Wipe the store (dataset and all state) and load the dataset again. */
  reset?: boolean;
  /** Seed of the fault injectors' RNG (failRate), for replayable runs. */
  faultSeed?: number;
}

/** The simulators behind each port; structurally a {@link Systems}, with fault-free `peek*` reads. */
export interface SimulatedSystems extends Systems {
  user: UserSimulator;
  fuelCatalog: FuelCatalogSimulator;
  order: OrderSimulator;
  paymentGateway: PaymentGatewaySimulator;
  storedValue: StoredValueSimulator;
  promotion: PromotionSimulator;
  goods: GoodsSimulator;
  coupon: CouponSimulator;
  points: PointsSimulator;
  level: LevelSimulator;
  marketing: MarketingSimulator;
  campaign: CampaignSimulator;
  settlement: SettlementSimulator;
  push: PushSimulator;
  invoice: InvoiceSimulator;
  notify: NotifySimulator;
  os: OsSimulator;
}

/** The simulated downstream world: ports for the platform, knobs and views for tests and admins. */
export interface Simulators {
  systems: SimulatedSystems;
  store: SimStore;
  faults: Record<SystemName, FaultInjector>;
  gateway: PaymentGatewaySimulator;
  /** The channels' daily bills made from the gateway's records, with planted discrepancies. */
  bills: ChannelBills;
  /** Starts background work: the gateway's callback delivery (resuming its outbox). */
  start(): void;
  /** Stops background work and closes the store. */
  close(): Promise<void>;
}

/** Operation names each simulated system accepts in its fault settings (besides `*`). */
export const SIMULATED_OPERATIONS: Record<SystemName, readonly string[]> = {
  user: ['getUser'],
  fuelCatalog: ['getStation', 'getNozzle'],
  order: ['createOrder', 'markPaid', 'cancelOrder', 'getOrder', 'markRefunded'],
  paymentGateway: ['createPayment', 'queryPayment', 'closePayment', 'refundPayment', 'queryRefund'],
  storedValue: ['getCard', 'lock', 'confirm', 'cancel', 'credit', 'debit'],
  promotion: ['listPromotions'],
  goods: ['getGoods', 'reserve', 'deduct', 'release'],
  coupon: ['listCoupons', 'lock', 'use', 'release', 'restore', 'issue', 'revoke'],
  points: ['getAccount', 'lock', 'deduct', 'release', 'restore', 'award', 'reverseAward'],
  level: ['getLevel', 'addGrowth', 'reverseGrowth'],
  marketing: ['record', 'reverse'],
  campaign: ['reward', 'reverse'],
  settlement: ['record', 'reverse'],
  push: ['notify'],
  invoice: ['issue', 'reverse'],
  notify: ['send'],
  os: ['deliverEvent'],
};

const SYSTEM_NAMES = Object.keys(SIMULATED_OPERATIONS) as SystemName[];

/**
 * Opens the simulators' store, loads the dataset if the store is new, and builds one simulator
 * per port. Callbacks are not delivered until {@link Simulators.start}, so the caller can point
 * them at the platform first.
 */
export function createSimulators(opts: SimulatorOptions): Simulators {
  const store = new SimStore(opts.dbPath, opts.clock);
  try {
    store.seed(opts.dataset, { reset: opts.reset ?? false });
  } catch (err) {
    store.close();
    throw err;
  }
  const faults = Object.fromEntries(
    SYSTEM_NAMES.map((name) => [name, new FaultInjector(name, opts.faultSeed, () => store.pendingCommit(), opts.timing)]),
  ) as Record<SystemName, FaultInjector>;
  const gateway = new PaymentGatewaySimulator(store, faults.paymentGateway, opts.clock, opts.callback);
  const systems: SimulatedSystems = {
    user: new UserSimulator(store, faults.user),
    fuelCatalog: new FuelCatalogSimulator(store, faults.fuelCatalog),
    order: new OrderSimulator(store, faults.order),
    paymentGateway: gateway,
    storedValue: new StoredValueSimulator(store, faults.storedValue),
    promotion: new PromotionSimulator(store, faults.promotion, opts.clock),
    goods: new GoodsSimulator(store, faults.goods),
    coupon: new CouponSimulator(store, faults.coupon, opts.clock),
    points: new PointsSimulator(store, faults.points),
    level: new LevelSimulator(store, faults.level, opts.dataset.levels),
    marketing: new MarketingSimulator(store, faults.marketing),
    campaign: new CampaignSimulator(store, faults.campaign),
    settlement: new SettlementSimulator(store, faults.settlement),
    push: new PushSimulator(store, faults.push),
    invoice: new InvoiceSimulator(store, faults.invoice),
    notify: new NotifySimulator(store, faults.notify),
    os: new OsSimulator(store, faults.os),
  };
  return {
    systems,
    store,
    faults,
    gateway,
    bills: new ChannelBills(store, opts.clock),
    start: () => gateway.start(),
    close: async () => {
      await gateway.stop();
      store.close();
    },
  };
}

export { FaultInjector, type FaultSettings, type FaultTiming, type OpFaults } from './faults.ts';
export { SimStore, IdempotencyConflictError, type Clock, type EffectRow } from './store.ts';
export { loadDataset, validateDataset, InvalidDatasetError, DEMO_DATASET_URL, type Dataset } from './dataset.ts';
export { PaymentGatewaySimulator, type CallbackSettings } from '../payment-gateway/simulator.ts';
