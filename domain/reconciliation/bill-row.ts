/**
 * One row of a channel's daily bill, as every parser yields it whatever the channel's own format
 * (WeChat Pay v3 trade bill, Alipay `trade` bill, the documented UnionPay and senseless CSV).
 * The reconciliation matcher compares these with the platform's side (`PlatformRow`) and knows
 * no file format. Amounts are integer fen; the channel's yuan strings are converted exactly.
 */
export type BillChannel = 'wechat' | 'alipay' | 'unionpay' | 'senseless';

/** A payment the channel collected, or a refund it accepted (refunds are rows of their own). */
export type BillRowKind = 'payment' | 'refund';

/** The channel's status of the row: a payment paid, a refund paid back, or one that failed. */
export type BillRowStatus = 'succeeded' | 'failed' | 'pending';

export interface BillRow {
  channel: BillChannel;
  kind: BillRowKind;
  /**
   * Our number as the channel echoes it: the payment leg number (`txnNo-P<n>`) for a payment,
   * the refund leg number (`R…-<n>`) for a refund.
   */
  merchantRef: string;
  /** Our payment leg number; for a payment the same as `merchantRef`. */
  paymentNo: string;
  /** The channel's own id: its transaction id for a payment, its refund id for a refund. */
  channelRef: string;
  /** The channel's transaction id of the payment (for a refund: the payment refunded). */
  channelTradeNo: string;
  /** Our merchant id, as the channel's sub-merchant / device fields carry it. */
  merchantId: string;
  status: BillRowStatus;
  /** Money moved, in fen: collected for a payment, paid back for a refund. Never negative. */
  amountFen: number;
  /** The channel's fee for this row, in fen (a refund's fee given back is negative). */
  feeFen: number;
  /** When the channel counted the row: an ISO instant (the channel prints China time). */
  at: string;
  /** Where the row came from in the file, for evidence: 1-based line number. */
  line: number;
}

/** The totals a bill states about itself (its summary lines), for a check against its rows. */
export interface BillTotals {
  rows: number;
  paymentsFen: number;
  refundsFen: number;
  feesFen: number;
}
