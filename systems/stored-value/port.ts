import type { CallKey, Outcome } from '../contract.ts';

export interface Card {
  cardNo: string;
  userId: string;
  /** Spendable balance in fen (locked amounts excluded). */
  availableFen: number;
  /** Amount in fen currently locked by unfinished payments. */
  lockedFen: number;
}

/** Why money is added to a card: a refunded card payment, a paid top-up, or a top-up bonus. */
export type CreditReason = 'top-up' | 'refund' | 'bonus';

/** Why money is taken from a card outside a payment: a top-up being refunded. */
export type DebitReason = 'top-up-refund';

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
  /**
   * Adds `amountFen` to the card's available balance: the refund of a card payment, the top-up
   * after its payment, a top-up bonus. Idempotent by key and by `creditNo`: the same `creditNo`
   * under another key has no second effect and returns the first result (reusing it for another
   * card or amount throws, a caller bug).
   */
  credit(key: CallKey, req: { cardNo: string; creditNo: string; amountFen: number; reason: CreditReason }): Promise<Outcome<{ creditNo: string }, 'CARD_NOT_FOUND'>>;
  /**
   * Takes `amountFen` from the card's available balance only if all of it is there (locked money
   * does not count); otherwise refused with INSUFFICIENT_BALANCE and nothing is taken. Refunding a
   * top-up debits first: the card must still hold the credit (DOMAIN.md "Refund"). Idempotent by
   * key and by `debitNo`, like {@link StoredValuePort.credit}.
   */
  debit(key: CallKey, req: { cardNo: string; debitNo: string; amountFen: number; reason: DebitReason }): Promise<Outcome<{ debitNo: string }, 'CARD_NOT_FOUND' | 'INSUFFICIENT_BALANCE'>>;
}
