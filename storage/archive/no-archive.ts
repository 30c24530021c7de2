import type { ArchiveCounts, ArchiveEntry, ArchivePutResult, OrderArchive, OrderMovement, OrderPage, OrderSummaryRow } from '../types.ts';

/**
 * The archive of a deployment that has none: Redis without `TRADE_ARCHIVE_URL`. Nothing may
 * leave the hot store (`enabled` false, `put` refuses), so every transaction stays readable there
 * and the hot store grows with history as it did before the archive; reads find nothing here.
 */
export class NoOrderArchive implements OrderArchive {
  readonly enabled = false;

  async put(entries: ArchiveEntry[]): Promise<ArchivePutResult> {
    throw new Error(`no order archive is configured (TRADE_ARCHIVE_URL): ${entries.length} entries not archived`);
  }

  async get(): Promise<ArchiveEntry | null> {
    return null;
  }

  async findTxnNoByOrderNo(): Promise<string | null> {
    return null;
  }

  async findTxnNoByOsOrderNo(): Promise<string | null> {
    return null;
  }

  async search(): Promise<OrderPage> {
    return { rows: [], nextCursor: null };
  }

  async summary(_filter: unknown, groupBy: unknown[]): Promise<OrderSummaryRow[]> {
    // Totals over nothing are one row of zeros, as on every archive; groups of nothing are none.
    return groupBy.length ? [] : [{ day: null, stationId: null, method: null, count: 0, originalAmountFen: 0, discountAmountFen: 0, payableAmountFen: 0, paidAmountFen: 0, refundedAmountFen: 0 }];
  }

  async *movements(): AsyncGenerator<OrderMovement> {}

  async counts(): Promise<ArchiveCounts> {
    return { orders: 0, journalEntries: 0 };
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}
