import type { Journal, OrderArchive, QuoteRecord, QuoteRecords, SnapshotStore, StoredJournalEntry, TaskRecord, TaskStore, TransactionRecord } from '../storage/types.ts';
import { topState } from './view.ts';

/**
 * A quoted-only transaction's quote record (issue 21) as the transaction record reads see: in
 * `quoted`, nothing running, nothing due, not final; its snapshot is the quoted transaction's.
 */
export function recordOfQuote(quote: QuoteRecord): TransactionRecord {
  return {
    txnNo: quote.txnNo,
    version: quote.version,
    merchantId: quote.merchantId,
    stationId: quote.stationId,
    orderNo: null,
    state: topState(quote.stateValue),
    stateValue: quote.stateValue,
    snapshot: quote.snapshot,
    atRest: false,
    working: false,
    needsAttention: false,
    timers: {},
    finalAt: null,
    createdAt: quote.createdAt,
    updatedAt: quote.updatedAt,
  };
}

/**
 * The hot store's record of a transaction: its snapshot's, else its quote record's. Read again
 * after a missing quote record: an order in between turned the one into the other.
 */
export async function hotRecord(hot: { snapshots: SnapshotStore; quotes: QuoteRecords }, txnNo: string): Promise<TransactionRecord | null> {
  const stored = await hot.snapshots.load(txnNo);
  if (stored) return stored;
  const quote = await hot.quotes.load(txnNo);
  if (quote) return recordOfQuote(quote);
  return hot.snapshots.load(txnNo);
}

/**
 * Reads of one transaction wherever it lives (issue 18, transparent reads): the hot store first,
 * where a rehydrated transaction is newer than its archived copy, a quoted-only one's quote record
 * next (issue 21), then the order archive. Reads only: nothing is rehydrated by looking at it.
 */
export class TransactionReads {
  constructor(
    private readonly hot: { snapshots: SnapshotStore; quotes: QuoteRecords; journal: Journal; tasks: TaskStore },
    /** The bundle's archive; a disabled one (Redis without `TRADE_ARCHIVE_URL`) finds nothing. */
    private readonly archive: OrderArchive,
  ) {}

  async record(txnNo: string): Promise<TransactionRecord | null> {
    return (await hotRecord(this.hot, txnNo)) ?? (await this.archived(txnNo))?.record ?? null;
  }

  /** The journal, oldest first; empty for a transaction found nowhere. */
  async journal(txnNo: string): Promise<StoredJournalEntry[]> {
    if (await hotRecord(this.hot, txnNo)) return this.hot.journal.entries(txnNo);
    return (await this.archived(txnNo))?.journal ?? [];
  }

  async tasks(txnNo: string): Promise<TaskRecord[]> {
    if (await hotRecord(this.hot, txnNo)) return this.hot.tasks.tasksOf(txnNo);
    return (await this.archived(txnNo))?.tasks ?? [];
  }

  async txnNoByOrderNo(orderNo: string): Promise<string | null> {
    return (await this.hot.snapshots.findTxnNoByOrderNo(orderNo)) ?? (await this.archive.findTxnNoByOrderNo(orderNo));
  }

  private async archived(txnNo: string) {
    return this.archive.get(txnNo);
  }
}
