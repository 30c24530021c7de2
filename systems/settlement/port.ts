import type { CallKey, Outcome } from '../contract.ts';

/** One paid order as settlement books it: amounts in fen, the money legs add up to `amountFen`. */
export interface SettlementRecordRequest {
  txnNo: string;
  orderNo: string;
  stationId: string;
  merchantId: string;
  amountFen: number;
  /** The money legs by payment method (`wechat`, `stored_value`, …). */
  legs: { method: string; amountFen: number }[];
}

/** A refund of (part of) a booked transaction. */
export interface SettlementReverseRequest {
  txnNo: string;
  refundNo: string;
  /** The refunded amount, in fen; with earlier reversals at most what was booked. */
  amountFen: number;
}

/**
 * The settlement system (non-core, must eventually succeed): books paid orders for shift close
 * and finance, and reversal records for refunds. Idempotent by key, `record` also by `orderNo`
 * and `reverse` by `refundNo`, so the platform may retry until it succeeds.
 */
export interface SettlementPort {
  /** Books a paid order; never refused. Legs that do not add up to the amount are a caller bug (thrown). */
  record(key: CallKey, req: SettlementRecordRequest): Promise<Outcome<{ orderNo: string }, never>>;
  /**
   * Books a refund against the transaction. Refused with RECORD_NOT_FOUND when the transaction was
   * not booked, EXCEEDS_RECORDED when the reversals would exceed the booked amount.
   */
  reverse(key: CallKey, req: SettlementReverseRequest): Promise<Outcome<{ refundNo: string }, 'RECORD_NOT_FOUND' | 'EXCEEDS_RECORDED'>>;
}
