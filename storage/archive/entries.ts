import type { ArchiveEntry, OrderRow } from '../types.ts';

/** Of each txnNo given more than once, the entry of the newest record version. */
export function newestPerTxn(entries: ArchiveEntry[]): ArchiveEntry[] {
  const newest = new Map<string, ArchiveEntry>();
  for (const e of entries) {
    if (e.row.txnNo !== e.record.txnNo) throw new RangeError(`archive entry of ${e.record.txnNo} carries the row of ${e.row.txnNo}`);
    const seen = newest.get(e.row.txnNo);
    if (!seen || seen.record.version < e.record.version) newest.set(e.row.txnNo, e);
  }
  return [...newest.values()];
}

/** The channel transaction id of each payment leg of a row, for its refunds' movements. */
export function channelTradeNoByPayment(row: OrderRow): Map<string, string | null> {
  return new Map(row.legs.map((l) => [l.paymentNo, l.channelTradeNo]));
}

/** What an order paid and got back through one method: a row of the by-method summary. */
export interface MethodShare {
  method: string;
  /** Its legs captured (capturedAt set). */
  paidFen: number;
  /** Its refund legs refunded (refundedAt set). */
  refundedFen: number;
}

/** Each method an order has a leg of, with its share (OrderSummaryRow: grouped by method). */
export function methodShares(row: OrderRow): MethodShare[] {
  const shares = new Map<string, MethodShare>();
  for (const l of row.legs) {
    const share = shares.get(l.method) ?? { method: l.method, paidFen: 0, refundedFen: 0 };
    if (l.capturedAt !== null) share.paidFen += l.amountFen;
    shares.set(l.method, share);
  }
  for (const r of row.refunds) {
    for (const l of r.legs) {
      const share = shares.get(l.method);
      if (share && l.refundedAt !== null) share.refundedFen += l.amountFen;
    }
  }
  return [...shares.values()];
}
