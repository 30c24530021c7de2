import type { IdleTransaction, SentinelIndex } from '../types.ts';
import type { SqliteHandle } from './handle.ts';

/** The sentinel's rows on SQLite: nudge counts and stuck flags, per transaction and version. */
export class SqliteSentinelIndex implements SentinelIndex {
  private readonly db;
  private readonly version;

  constructor(private readonly handle: SqliteHandle) {
    this.db = handle.db;
    this.version = handle.db.prepare<[string], { version: number }>('SELECT version FROM transactions WHERE txn_no = ?');
  }

  /** One process owns the file: its scan is always its own to make. */
  async claimScan(_periodMs: number): Promise<boolean> {
    return true;
  }

  /** Nothing to repair: the indexes are written in the same SQLite transaction as the record. */
  async repairIndexes(_nowMs: number): Promise<number> {
    return 0;
  }

  async idleTransactions(updatedBefore: number, limit: number): Promise<IdleTransaction[]> {
    const rows = this.db
      .prepare<[number, number], { txn_no: string; version: number; state: string; updated_at: number; working: number; stuck: number | null }>(
        `SELECT t.txn_no, t.version, t.state, t.updated_at, t.working, s.stuck FROM transactions t
         LEFT JOIN sentinel s ON s.txn_no = t.txn_no AND s.version = t.version
         WHERE t.at_rest = 0 AND t.updated_at <= ? ORDER BY t.updated_at LIMIT ?`,
      )
      .all(updatedBefore, limit);
    const timers = this.db.prepare<[string], { name: string; due_at: number }>('SELECT name, due_at FROM timers WHERE txn_no = ?');
    return rows.map((r) => ({
      txnNo: r.txn_no,
      version: r.version,
      state: r.state,
      updatedAt: r.updated_at,
      working: r.working === 1,
      timers: Object.fromEntries(timers.all(r.txn_no).map((x) => [x.name, x.due_at])),
      stuck: r.stuck === 1,
    }));
  }

  async recordNudge(txnNo: string, version: number): Promise<number> {
    return this.handle.write((): number => {
      if (this.version.get(txnNo)?.version !== version) return 0;
      this.db
        .prepare(
          `INSERT INTO sentinel (txn_no, version, nudges) VALUES (?, ?, 1)
           ON CONFLICT(txn_no) DO UPDATE SET nudges = CASE WHEN version = excluded.version THEN nudges + 1 ELSE 1 END,
             stuck = CASE WHEN version = excluded.version THEN stuck ELSE 0 END, version = excluded.version`,
        )
        .run(txnNo, version);
      return this.db.prepare<[string], { nudges: number }>('SELECT nudges FROM sentinel WHERE txn_no = ?').get(txnNo)?.nudges ?? 0;
    });
  }

  async markStuck(txnNo: string, version: number): Promise<boolean> {
    return this.handle.write((): boolean => {
      if (this.version.get(txnNo)?.version !== version) return false;
      this.db
        .prepare('INSERT INTO sentinel (txn_no, version, nudges, stuck) VALUES (?, ?, 0, 1) ON CONFLICT(txn_no) DO UPDATE SET stuck = 1, version = excluded.version')
        .run(txnNo, version);
      return true;
    });
  }

  async stuckCount(): Promise<number> {
    return (
      this.db
        .prepare<[], { n: number }>('SELECT count(*) AS n FROM sentinel s JOIN transactions t ON t.txn_no = s.txn_no AND t.version = s.version WHERE s.stuck = 1')
        .get()?.n ?? 0
    );
  }
}
