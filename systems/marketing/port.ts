import type { CallKey, Outcome } from '../contract.ts';

/** One discount an order used, as marketing accounts for it. Amount in fen. */
export interface MarketingDiscount {
  /** What gave the discount: `promotion`, `coupon`, `points`, … */
  kind: string;
  /** The promotion or coupon id; absent where there is none (points). */
  id?: string;
  amountFen: number;
}

/** The marketing data of one paid order. */
export interface MarketingRecordRequest {
  txnNo: string;
  orderNo: string;
  userId: string;
  /** What the order was paid, in fen. */
  amountFen: number;
  discounts: MarketingDiscount[];
}

/** A refund of (part of) a recorded transaction. */
export interface MarketingReverseRequest {
  txnNo: string;
  refundNo: string;
  /** The refunded amount, in fen; with earlier reversals at most what was recorded. */
  amountFen: number;
}

/**
 * The marketing system (non-core): records which discounts each paid order used (budgets,
 * campaign reporting) and reversal records for refunds. Idempotent by key, `record` also by
 * `orderNo` and `reverse` by `refundNo`: the same number under another key returns the first result.
 */
export interface MarketingPort {
  /** Records a paid order's discounts; never refused. */
  record(key: CallKey, req: MarketingRecordRequest): Promise<Outcome<{ orderNo: string }, never>>;
  /**
   * Records a refund against the transaction. Refused with RECORD_NOT_FOUND when the transaction
   * has no record, EXCEEDS_RECORDED when the reversals would exceed the recorded amount.
   */
  reverse(key: CallKey, req: MarketingReverseRequest): Promise<Outcome<{ refundNo: string }, 'RECORD_NOT_FOUND' | 'EXCEEDS_RECORDED'>>;
}
