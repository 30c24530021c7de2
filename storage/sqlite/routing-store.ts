import Database from 'better-sqlite3';
import type { RoutingChange, RoutingTable } from '../../domain/routing.ts';
import type { RoutingChangeResult, RoutingStore } from '../types.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS routing_changes (
  seq        INTEGER PRIMARY KEY,
  at         INTEGER NOT NULL,
  changed_by TEXT NOT NULL,
  before     TEXT NOT NULL,
  after      TEXT NOT NULL
);
`;

interface Row {
  seq: number;
  at: number;
  changed_by: string;
  before: string;
  after: string;
}

const changeOf = (r: Row): RoutingChange => ({ seq: r.seq, at: r.at, by: r.changed_by, before: JSON.parse(r.before) as RoutingTable, after: JSON.parse(r.after) as RoutingTable });

/**
 * The routing table in the platform's SQLite file, on a connection of its own: the journal of
 * changes is the table (the current one is the newest change's `after`), so a change and its
 * record cannot part. The sequence number is the primary key: of two processes changing from the
 * same number, the second insert fails and is answered as a conflict.
 */
export class SqliteRoutingStore implements RoutingStore {
  private readonly db: Database.Database;
  private readonly latest;
  private readonly insert;
  private readonly recent;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.latest = this.db.prepare<[], Row>('SELECT * FROM routing_changes ORDER BY seq DESC LIMIT 1');
    this.insert = this.db.prepare('INSERT INTO routing_changes (seq, at, changed_by, before, after) VALUES (?, ?, ?, ?, ?) ON CONFLICT (seq) DO NOTHING');
    this.recent = this.db.prepare<[number], Row>('SELECT * FROM routing_changes ORDER BY seq DESC LIMIT ?');
  }

  async current(): Promise<{ table: RoutingTable; seq: number } | null> {
    const row = this.latest.get();
    return row ? { table: JSON.parse(row.after) as RoutingTable, seq: row.seq } : null;
  }

  async change(expectedSeq: number, change: Omit<RoutingChange, 'seq'>): Promise<RoutingChangeResult> {
    // IMMEDIATE: the check of the newest number and the insert see one state across processes.
    return this.db.transaction((): RoutingChangeResult => {
      const actualSeq = this.latest.get()?.seq ?? 0;
      if (actualSeq !== expectedSeq) return { ok: false, conflict: true, actualSeq };
      const seq = expectedSeq + 1;
      this.insert.run(seq, change.at, change.by, JSON.stringify(change.before), JSON.stringify(change.after));
      return { ok: true, change: { seq, ...change } };
    }).immediate();
  }

  async history(limit: number): Promise<RoutingChange[]> {
    return this.recent.all(limit).map(changeOf);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
