import type { Journal, OrderArchive, SnapshotStore, Storage, StoredJournalEntry, TaskRecord, TaskStore, TransactionRecord } from '../storage/types.ts';

/** The storage bundle's order archive, or null where there is none (Redis without `TRADE_ARCHIVE_URL`). */
export function archiveOf(storage: Storage): OrderArchive | null {
  return storage.archive.enabled ? storage.archive : null;
}

/**
 * Reads of one transaction wherever it lives (issue 18, transparent reads): the hot store first,
 * where a rehydrated transaction is newer than its archived copy, then the order archive. Reads
 * only: nothing is rehydrated by looking at it.
 */
export class TransactionReads {
  constructor(
    private readonly hot: { snapshots: SnapshotStore; journal: Journal; tasks: TaskStore },
    private readonly archive: OrderArchive | null,
  ) {}

  async record(txnNo: string): Promise<TransactionRecord | null> {
    return (await this.hot.snapshots.load(txnNo)) ?? (await this.archived(txnNo))?.record ?? null;
  }

  /** The journal, oldest first; empty for a transaction found nowhere. */
  async journal(txnNo: string): Promise<StoredJournalEntry[]> {
    if (await this.hot.snapshots.load(txnNo)) return this.hot.journal.entries(txnNo);
    return (await this.archived(txnNo))?.journal ?? [];
  }

  async tasks(txnNo: string): Promise<TaskRecord[]> {
    if (await this.hot.snapshots.load(txnNo)) return this.hot.tasks.tasksOf(txnNo);
    return (await this.archived(txnNo))?.tasks ?? [];
  }

  async txnNoByOrderNo(orderNo: string): Promise<string | null> {
    return (await this.hot.snapshots.findTxnNoByOrderNo(orderNo)) ?? (this.archive ? await this.archive.findTxnNoByOrderNo(orderNo) : null);
  }

  private async archived(txnNo: string) {
    return this.archive ? this.archive.get(txnNo) : null;
  }
}
