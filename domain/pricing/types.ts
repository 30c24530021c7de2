import type { Coupon } from '../../systems/coupon/port.ts';
import type { PointsRule } from '../../systems/points/port.ts';
import type { Promotion } from '../../systems/promotion/port.ts';

/** A priced fuel line. Amount in fen, volume in ml, unit price in fen per litre. */
export interface FuelLine {
  lineNo: number;
  type: 'fuel';
  nozzleNo: number;
  grade: string;
  unitPrice: number;
  volumeMl: number;
  amount: number;
}

/** A priced shop line: `quantity` units of one SKU at `unitPrice` fen. */
export interface GoodsLine {
  lineNo: number;
  type: 'goods';
  sku: string;
  name: string;
  category: string;
  unitPrice: number;
  quantity: number;
  amount: number;
}

/** A stored-value top-up: outside every discount; may earn a top-up bonus credited to the card. */
export interface TopUpLine {
  lineNo: number;
  type: 'stored_value';
  cardNo: string;
  amount: number;
}

/**
 * Any other paid item (a lucky-wheel spin, a car-wash voucher): a price, no stock; delivered
 * after payment by the fulfilment hook named by its `code` (a post-payment task).
 */
export interface VirtualLine {
  lineNo: number;
  type: 'virtual';
  code: string;
  name: string;
  amount: number;
}

export type QuoteLine = FuelLine | GoodsLine | TopUpLine | VirtualLine;

/** One discount of a combination, with its allocation to lines (`byLine[lineNo] = fen`). */
export type Discount =
  | { kind: 'promotion'; id: string; name: string; amount: number; byLine: Record<number, number> }
  | { kind: 'coupon'; id: string; name: string; amount: number; byLine: Record<number, number> }
  | { kind: 'points'; points: number; amount: number; byLine: Record<number, number> };

/** Extra card credit a top-up earns (not a price change). */
export interface TopUpBonus {
  promotionId: string;
  lineNo: number;
  bonusFen: number;
}

/** One way to pay for the quote: the discounts that apply when every money leg uses `paymentMethod`. */
export interface Combo {
  comboId: string;
  /** The candidate payment method this combination is for; null when none was given. */
  paymentMethod: string | null;
  /** Discounts in the order they were applied: promotions, coupons, points. */
  discounts: Discount[];
  couponIds: string[];
  points: number;
  discountAmount: number;
  payableAmount: number;
  /** Net amount per line after the discounts, `lineNo → fen`. */
  lineNets: Record<number, number>;
  topUpBonuses: TopUpBonus[];
  /**
   * The money methods every leg must use, because an applied promotion names payment methods
   * (DOMAIN.md: such a condition holds only if every leg uses a listed method). Absent: any.
   * Filled in by the quote service, which knows the promotions' conditions.
   */
  allowedMethods?: string[];
}

/** A kept quote (DOMAIN.md "Quote"): what an order placed from it is charged, to the fen. */
export interface Quote {
  quoteId: string;
  quotedAt: string;
  expiresAt: string;
  /** Non-core sources that failed, so the quote may miss their discounts (`promotion`, `coupon`, …). */
  degraded: string[];
  lines: QuoteLine[];
  originalAmount: number;
  combos: Combo[];
  bestComboId: string;
}

/** Everything the optimizer needs; pure data, gathered by the runtime. */
export interface PricingInput {
  lines: QuoteLine[];
  promotions: Promotion[];
  /** The user's coupons (any status; the optimizer keeps the valid, available ones). */
  coupons: Coupon[];
  /** At most this many coupons in one combination (DOMAIN.md default 1). */
  maxCouponsPerOrder: number;
  /** Null when the user did not opt in to points or has no account. */
  points: { balance: number; rule: PointsRule } | null;
  memberLevel: string;
  /** Candidate payment methods; empty → promotions naming methods are not eligible. */
  paymentMethods: string[];
  /** The quote's time, epoch ms. */
  atMs: number;
  /** Station time zone, for time windows and weekdays. */
  timeZone: string;
}

export interface PricingResult {
  combos: Combo[];
  bestComboId: string;
}
