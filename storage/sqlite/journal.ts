import type { Journal, StoredJournalEntry } from '../types.ts';
import type { SqliteHandle } from './handle.ts';

/** A `journal` row (written by the snapshot store's save). */
export interface JournalRow {
  seq: number;
  at: number;
  actor: string;
  event: string;
  data: string;
  from_state: string | null;
  to_state: string | null;
}

export function toJournalEntry(r: JournalRow): StoredJournalEntry {
  return {
    seq: r.seq,
    at: r.at,
    actor: r.actor,
    event: r.event,
    data: JSON.parse(r.data) as Record<string, unknown>,
    from: r.from_state === null ? null : JSON.parse(r.from_state),
    to: r.to_state === null ? null : JSON.parse(r.to_state),
  };
}

/** The journal on SQLite: one row per transition, numbered in the order of the saves. */
export class SqliteJournal implements Journal {
  private readonly byTxn;

  constructor(handle: SqliteHandle) {
    this.byTxn = handle.db.prepare<[string], JournalRow>('SELECT * FROM journal WHERE txn_no = ? ORDER BY seq');
  }

  async entries(txnNo: string): Promise<StoredJournalEntry[]> {
    return this.byTxn.all(txnNo).map(toJournalEntry);
  }
}
