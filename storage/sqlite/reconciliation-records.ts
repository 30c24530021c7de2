import Database from 'better-sqlite3';
import { discrepancyOf, type DiscrepancySql } from '../archive/recon-rows.ts';
import type { DiscrepancyStatus, ReconciliationRecords, ReconciliationRun, StoredDiscrepancy } from '../types.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS recon_runs (
  channel TEXT NOT NULL, day TEXT NOT NULL, ran_at INTEGER NOT NULL, totals TEXT NOT NULL, carry TEXT NOT NULL,
  PRIMARY KEY (channel, day)
);
CREATE TABLE IF NOT EXISTS recon_discrepancies (
  id TEXT PRIMARY KEY, channel TEXT NOT NULL, day TEXT NOT NULL, kind TEXT NOT NULL, ref TEXT NOT NULL, txn_no TEXT,
  evidence TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('open', 'auto-fixed', 'resolved')), resolution TEXT, found_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS recon_discrepancies_day ON recon_discrepancies (channel, day, found_at, id);
`;

/** The reconciliation records in tables of the platform's SQLite file, on a connection of their own (WAL). */
export class SqliteReconciliationRecords implements ReconciliationRecords {
  private readonly db: Database.Database;
  private readonly saveTx;
  private readonly stmts;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.stmts = {
      putRun: this.db.prepare('INSERT OR REPLACE INTO recon_runs (channel, day, ran_at, totals, carry) VALUES (?, ?, ?, ?, ?)'),
      insert: this.db.prepare("INSERT INTO recon_discrepancies (id, channel, day, kind, ref, txn_no, evidence, status, resolution, found_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'open', NULL, ?) ON CONFLICT (id) DO NOTHING"),
      run: this.db.prepare<[string, string], { channel: string; day: string; ran_at: number; totals: string; carry: string }>('SELECT * FROM recon_runs WHERE channel = ? AND day = ?'),
      ofDay: this.db.prepare<[string, string], DiscrepancySql>('SELECT * FROM recon_discrepancies WHERE channel = ? AND day = ? ORDER BY found_at, id'),
      get: this.db.prepare<[string], DiscrepancySql>('SELECT * FROM recon_discrepancies WHERE id = ?'),
      settle: this.db.prepare("UPDATE recon_discrepancies SET status = ?, resolution = ? WHERE id = ? AND status = 'open'"),
    };
    this.saveTx = this.db.transaction((run: ReconciliationRun, found: Omit<StoredDiscrepancy, 'status' | 'resolution'>[]): string[] => {
      this.stmts.putRun.run(run.channel, run.day, run.ranAt, JSON.stringify(run.totals), JSON.stringify(run.carry));
      const added: string[] = [];
      for (const d of found) {
        if (this.stmts.insert.run(d.id, d.channel, d.day, d.kind, d.ref, d.txnNo, JSON.stringify(d.evidence), d.foundAt).changes === 1) added.push(d.id);
      }
      return added;
    });
  }

  async saveRun(run: ReconciliationRun, found: Omit<StoredDiscrepancy, 'status' | 'resolution'>[]): Promise<string[]> {
    return this.saveTx.immediate(run, found);
  }

  async run(channel: string, day: string): Promise<ReconciliationRun | null> {
    const r = this.stmts.run.get(channel, day);
    return r ? { channel: r.channel, day: r.day, ranAt: r.ran_at, totals: JSON.parse(r.totals), carry: JSON.parse(r.carry) } : null;
  }

  async discrepancies(channel: string, day: string): Promise<StoredDiscrepancy[]> {
    return this.stmts.ofDay.all(channel, day).map(discrepancyOf);
  }

  async get(id: string): Promise<StoredDiscrepancy | null> {
    const r = this.stmts.get.get(id);
    return r ? discrepancyOf(r) : null;
  }

  async settle(id: string, status: Exclude<DiscrepancyStatus, 'open'>, resolution: NonNullable<StoredDiscrepancy['resolution']>): Promise<StoredDiscrepancy | null> {
    // Only an open one changes: a second fix or decision of the same one is no change (exactly once).
    this.stmts.settle.run(status, JSON.stringify(resolution), id);
    return this.get(id);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
