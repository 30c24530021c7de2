import type { CallKey, Outcome } from '../contract.ts';
import type { Scope } from '../promotion/port.ts';

/** The benefit of a coupon (DOMAIN.md "Coupons"). Amounts in fen, percent in basis points. */
export type CouponBenefit =
  | { type: 'cash'; valueFen: number; thresholdFen?: number }
  | { type: 'percent'; bp: number; maxDiscountFen?: number; thresholdFen?: number }
  | { type: 'perLiter'; valueFen: number; thresholdFen?: number };

/** A coupon a user holds. */
export interface Coupon {
  couponId: string;
  userId: string;
  name: string;
  benefit: CouponBenefit;
  scope: Scope;
  /** ISO instants; outside [validFrom, validTo] the coupon is not a candidate. */
  validFrom: string;
  validTo: string;
  stackableWithPromotions: boolean;
  status: 'available' | 'locked' | 'used';
}

/**
 * The coupon system (non-core for quoting; core once a coupon is locked). Locking is a TCC
 * resource keyed by `lockKey` (`txnNo:coupons`) over a set of coupon ids: `lock` the try, `use`
 * the confirm, `release` the cancel, with the callee contract (idempotent by key, empty rollback,
 * no hanging lock, release after use refused with ALREADY_CONFIRMED).
 */
export interface CouponPort {
  /** The user's available coupons (locked and used ones are not offered). */
  listCoupons(userId: string): Promise<Coupon[]>;
  lock(key: CallKey, req: { lockKey: string; userId: string; couponIds: string[] }): Promise<Outcome<{ lockKey: string }, 'COUPON_UNAVAILABLE' | 'LOCK_CANCELLED'>>;
  use(key: CallKey, req: { lockKey: string }): Promise<Outcome<{}, 'LOCK_CANCELLED' | 'LOCK_NOT_FOUND'>>;
  release(key: CallKey, req: { lockKey: string }): Promise<Outcome<{}, 'ALREADY_CONFIRMED'>>;
}
