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
  /**
   * Returns used coupons of a fully refunded purchase (DOMAIN.md "Refund": only while still
   * valid). Each used coupon whose validity has not ended at the callee's clock becomes available
   * again (`restored`); one past its `validTo` stays used (`expired`); one not used is left alone
   * (in neither list). Refused with COUPON_NOT_FOUND, changing nothing, when a coupon is unknown
   * or another user's. Idempotent by key and by `restoreNo`: the same `restoreNo` under another key
   * returns the first result, so a coupon used again since is not handed back twice.
   */
  restore(key: CallKey, req: { userId: string; restoreNo: string; couponIds: string[] }): Promise<Outcome<{ restored: string[]; expired: string[] }, 'COUPON_NOT_FOUND'>>;
  /**
   * Issues a reward coupon from a template (e.g. `TPL-WASH5`) to the user: available at once,
   * valid for the template's days from the callee's clock. Idempotent by key and by `issueNo`: the
   * same `issueNo` under another key answers the first coupon, never a second one. Refused with
   * TEMPLATE_NOT_FOUND for an unknown template, USER_NOT_FOUND for an unknown user.
   */
  issue(key: CallKey, req: { userId: string; issueNo: string; templateId: string }): Promise<Outcome<{ couponId: string }, 'TEMPLATE_NOT_FOUND' | 'USER_NOT_FOUND'>>;
  /**
   * Takes an issued coupon back (a reward of a refunded purchase): it leaves the user's wallet.
   * Refused with COUPON_USED, changing nothing, when the coupon was used or is locked by a pending
   * purchase, and COUPON_NOT_FOUND when it is unknown or another user's. Idempotent by key and by
   * `couponId`: revoking a revoked coupon answers the first result.
   */
  revoke(key: CallKey, req: { userId: string; couponId: string }): Promise<Outcome<{ couponId: string }, 'COUPON_USED' | 'COUPON_NOT_FOUND'>>;
}
