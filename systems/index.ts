import type { CampaignPort } from './campaign/port.ts';
import type { CouponPort } from './coupon/port.ts';
import type { FuelCatalogPort } from './fuel-catalog/port.ts';
import type { GoodsPort } from './goods/port.ts';
import type { InvoicePort } from './invoice/port.ts';
import type { LevelPort } from './level/port.ts';
import type { MarketingPort } from './marketing/port.ts';
import type { NotifyPort } from './notify/port.ts';
import type { OsPort } from './os/port.ts';
import type { PointsPort } from './points/port.ts';
import type { OrderPort } from './order/port.ts';
import type { PaymentGatewayPort } from './payment-gateway/port.ts';
import type { PromotionPort } from './promotion/port.ts';
import type { PushPort } from './push/port.ts';
import type { SettlementPort } from './settlement/port.ts';
import type { StoredValuePort } from './stored-value/port.ts';
import type { UserPort } from './user/port.ts';

/** Every downstream system the platform talks to, by port. */
export interface Systems {
  user: UserPort;
  fuelCatalog: FuelCatalogPort;
  order: OrderPort;
  paymentGateway: PaymentGatewayPort;
  storedValue: StoredValuePort;
  promotion: PromotionPort;
  goods: GoodsPort;
  coupon: CouponPort;
  points: PointsPort;
  level: LevelPort;
  marketing: MarketingPort;
  campaign: CampaignPort;
  settlement: SettlementPort;
  push: PushPort;
  invoice: InvoicePort;
  notify: NotifyPort;
  os: OsPort;
}
