import type { CallKey, Outcome } from '../contract.ts';

/** How points may be spent as a discount (DOMAIN.md "Points"). */
export interface PointsRule {
  /** Points worth one yuan (100 fen), e.g. 100. */
  pointsPerYuan: number;
  /** Points are used in multiples of this. */
  step: number;
  /** At most this share (basis points) of the amount left after promotions and coupons. */
  maxRatioBp: number;
}

export interface PointsAccount {
  userId: string;
  /** Spendable points (locked points excluded). */
  balance: number;
  rule: PointsRule;
}

/**
 * The points system (non-core for quoting; core once points are locked). A TCC resource keyed by
 * `lockKey` (`txnNo:points`): `lock` the try, `deduct` the confirm, `release` the cancel, with the
 * callee contract (idempotent by key, empty rollback, no hanging lock).
 */
export interface PointsPort {
  getAccount(userId: string): Promise<PointsAccount | null>;
  lock(key: CallKey, req: { lockKey: string; userId: string; points: number }): Promise<Outcome<{ lockKey: string }, 'INSUFFICIENT_POINTS' | 'LOCK_CANCELLED'>>;
  deduct(key: CallKey, req: { lockKey: string }): Promise<Outcome<{}, 'LOCK_CANCELLED' | 'LOCK_NOT_FOUND'>>;
  release(key: CallKey, req: { lockKey: string }): Promise<Outcome<{}, 'ALREADY_CONFIRMED'>>;
  /**
   * Gives back `points` that a refunded purchase used as a discount (added to the spendable
   * balance). Idempotent by key and by `restoreNo`: the same `restoreNo` under another key has no
   * second effect and returns the first result.
   */
  restore(key: CallKey, req: { userId: string; restoreNo: string; points: number }): Promise<Outcome<{ restoreNo: string }, 'ACCOUNT_NOT_FOUND'>>;
  /**
   * Awards the points a paid purchase earns (added to the spendable balance). Idempotent by key and
   * by `awardNo`. Refused with ACCOUNT_NOT_FOUND for a user without a points account.
   */
  award(key: CallKey, req: { userId: string; awardNo: string; points: number }): Promise<Outcome<{ awardNo: string }, 'ACCOUNT_NOT_FOUND'>>;
  /**
   * Takes back awarded points of a refunded purchase from the spendable balance. The user may have
   * spent them meanwhile: the balance goes down to zero at most (locked points are not touched) and
   * `reversed` says how many were taken back, so the caller can flag the shortfall. Idempotent by
   * key and by `reverseNo`. Refused with ACCOUNT_NOT_FOUND for a user without a points account.
   */
  reverseAward(key: CallKey, req: { userId: string; reverseNo: string; points: number }): Promise<Outcome<{ reverseNo: string; reversed: number }, 'ACCOUNT_NOT_FOUND'>>;
}
