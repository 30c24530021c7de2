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
