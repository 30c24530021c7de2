import type { CallKey, Outcome } from '../contract.ts';

export interface Card {
  cardNo: string;
  userId: string;
  /** Spendable balance in fen (locked amounts excluded). */
  availableFen: number;
  /** Amount in fen currently locked by unfinished payments. */
  lockedFen: number;
}

export type LockRefusal = 'CARD_NOT_FOUND' | 'INSUFFICIENT_BALANCE' | 'LOCK_CANCELLED';

/**
 * The stored-value card system (core when used): a TCC resource.
 * `lock` is the try; `confirm` deducts the locked amount; `cancel` releases it.
 * The lock is identified by `lockKey` (deterministic: `txnNo:leg-N`).
 * - every call is idempotent by (lockKey, verb);
 * - `cancel` without a prior lock records the cancel and succeeds (empty rollback), and a later
 *   `lock` with that key is refused with LOCK_CANCELLED (no hanging lock);
 * - `cancel` after `confirm` is refused with ALREADY_CONFIRMED, `confirm` after `cancel` with
 *   LOCK_CANCELLED.
 */
export interface StoredValuePort {
  getCard(cardNo: string): Promise<Card | null>;
  lock(key: CallKey, req: { lockKey: string; cardNo: string; amountFen: number }): Promise<Outcome<{ lockKey: string }, LockRefusal>>;
  confirm(key: CallKey, req: { lockKey: string }): Promise<Outcome<{}, 'LOCK_CANCELLED' | 'LOCK_NOT_FOUND'>>;
  cancel(key: CallKey, req: { lockKey: string }): Promise<Outcome<{}, 'ALREADY_CONFIRMED'>>;
}
