import type { OsCursor, OsEvent, OsEventKind, OsEventSpec, OsGroupChange, OsOutbox } from '../types.ts';
import type { SqliteHandle } from './handle.ts';

interface EventRow {
  station_id: string;
  station_seq: number;
  event_id: string;
  txn_no: string;
  order_no: string;
  kind: string;
  event_seq: number;
  payload: string;
  at: number;
}

interface CursorRow {
  station_id: string;
  head_seq: number;
  delivered_seq: number;
  delivered_at: number | null;
}

interface ChangeRow {
  seq: number;
  group_id: string;
  reads_online: number;
  changed_by: string;
  at: number;
}

const eventOf = (r: EventRow): OsEvent => ({
  eventId: r.event_id,
  orderNo: r.order_no,
  kind: r.kind as OsEventKind,
  payload: JSON.parse(r.payload) as Record<string, unknown>,
  txnNo: r.txn_no,
  stationId: r.station_id,
  eventSeq: r.event_seq,
  stationSeq: r.station_seq,
  at: r.at,
});

const cursorOf = (r: CursorRow): OsCursor => ({
  stationId: r.station_id,
  deliveredSeq: r.delivered_seq,
  deliveredAt: r.delivered_at,
  headSeq: r.head_seq,
  pending: r.head_seq - r.delivered_seq,
});

const changeOf = (r: ChangeRow): OsGroupChange => ({ seq: r.seq, group: r.group_id, readsOnline: r.reads_online === 1, by: r.changed_by, at: r.at });

/**
 * Writes a save's new OS events: run by the snapshot store inside the save's savepoint, so an
 * event is stored exactly when the snapshot that records it is. Two steps, as on Redis: the
 * transaction's own numbering (`os_txn_events`: an event id it has numbered is left as it is, a
 * new one takes the order's next event sequence), then the station's copy (`os_events`: an event
 * not there takes the station's next sequence). The numbering outlives the station's trimmed
 * copy, so a delivered event let go is never numbered again while its transaction is hot; a
 * transaction rehydrated from the archive numbers its events again in the order listed, and one
 * the station no longer holds is sent again under its own number, which OS keeps once.
 */
export class SqliteOsEventWriter {
  private readonly stmts;

  constructor(handle: SqliteHandle) {
    const db = handle.db;
    this.stmts = {
      numbered: db.prepare<[string, string], { one: number }>('SELECT 1 AS one FROM os_txn_events WHERE txn_no = ? AND event_id = ?'),
      lastOfTxn: db.prepare<[string], { seq: number | null }>('SELECT MAX(event_seq) AS seq FROM os_txn_events WHERE txn_no = ?'),
      number: db.prepare('INSERT INTO os_txn_events (txn_no, event_id, event_seq) VALUES (?, ?, ?)'),
      atStation: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM os_events WHERE event_id = ?'),
      bumpHead: db.prepare<[string], { head_seq: number }>(
        `INSERT INTO os_cursors (station_id, head_seq) VALUES (?, 1)
         ON CONFLICT (station_id) DO UPDATE SET head_seq = head_seq + 1 RETURNING head_seq`,
      ),
      insert: db.prepare(
        `INSERT INTO os_events (station_id, station_seq, event_id, txn_no, order_no, kind, event_seq, payload, at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
    };
  }

  /** Stores the events of `specs` not numbered yet (a transaction's events are one order's); returns how many went to the station. */
  write(txnNo: string, stationId: string, specs: OsEventSpec[], at: number): number {
    let stored = 0;
    for (const e of specs) {
      if (this.stmts.numbered.get(txnNo, e.eventId)) continue;
      const eventSeq = (this.stmts.lastOfTxn.get(txnNo)?.seq ?? 0) + 1;
      this.stmts.number.run(txnNo, e.eventId, eventSeq);
      if (this.stmts.atStation.get(e.eventId)) continue;
      const stationSeq = this.stmts.bumpHead.get(stationId)!.head_seq;
      this.stmts.insert.run(stationId, stationSeq, e.eventId, txnNo, e.orderNo, e.kind, eventSeq, JSON.stringify(e.payload), at);
      stored++;
    }
    return stored;
  }
}

/** The OS outbox on SQLite: `os_events` (written by the saves), `os_cursors`, and the group switch with its journal. */
export class SqliteOsOutbox implements OsOutbox {
  private readonly stmts;

  constructor(private readonly handle: SqliteHandle) {
    const db = handle.db;
    this.stmts = {
      cursors: db.prepare<[], CursorRow>('SELECT * FROM os_cursors ORDER BY station_id'),
      cursor: db.prepare<[string], CursorRow>('SELECT * FROM os_cursors WHERE station_id = ?'),
      events: db.prepare<[string, number, number], EventRow>('SELECT * FROM os_events WHERE station_id = ? AND station_seq > ? ORDER BY station_seq LIMIT ?'),
      advance: db.prepare<[number, number, string, number, number]>(
        'UPDATE os_cursors SET delivered_seq = ?, delivered_at = ? WHERE station_id = ? AND delivered_seq = ? AND head_seq >= ?',
      ),
      firstAt: db.prepare<[string, number], { seq: number | null }>('SELECT MIN(station_seq) AS seq FROM os_events WHERE station_id = ? AND at >= ?'),
      rewind: db.prepare<[number, string, number]>('UPDATE os_cursors SET delivered_seq = ? WHERE station_id = ? AND delivered_seq > ?'),
      groups: db.prepare<[], { group_id: string }>('SELECT group_id FROM os_groups WHERE reads_online = 1 ORDER BY group_id'),
      setGroup: db.prepare<[string, number]>(
        'INSERT INTO os_groups (group_id, reads_online) VALUES (?, ?) ON CONFLICT (group_id) DO UPDATE SET reads_online = excluded.reads_online',
      ),
      journal: db.prepare<[string, number, string, number], ChangeRow>(
        'INSERT INTO os_group_changes (group_id, reads_online, changed_by, at) VALUES (?, ?, ?, ?) RETURNING *',
      ),
      changes: db.prepare<[number], ChangeRow>('SELECT * FROM os_group_changes ORDER BY seq DESC LIMIT ?'),
      oldest: db.prepare<[string, number, number], { station_seq: number; at: number }>(
        'SELECT station_seq, at FROM os_events WHERE station_id = ? AND station_seq <= ? ORDER BY station_seq LIMIT ?',
      ),
      trimTo: db.prepare<[string, number]>('DELETE FROM os_events WHERE station_id = ? AND station_seq <= ?'),
      lease: db.prepare<[string, string, number, number]>(
        `INSERT INTO os_leases (station_id, owner, until) VALUES (?, ?, ?)
         ON CONFLICT (station_id) DO UPDATE SET owner = excluded.owner, until = excluded.until WHERE os_leases.owner = excluded.owner OR os_leases.until <= ?`,
      ),
      release: db.prepare<[string, string]>('DELETE FROM os_leases WHERE station_id = ? AND owner = ?'),
    };
  }

  async cursors(): Promise<OsCursor[]> {
    return this.stmts.cursors.all().map(cursorOf);
  }

  async cursor(stationId: string): Promise<OsCursor> {
    const row = this.stmts.cursor.get(stationId);
    return row ? cursorOf(row) : { stationId, deliveredSeq: 0, deliveredAt: null, headSeq: 0, pending: 0 };
  }

  async events(stationId: string, afterSeq: number, limit: number): Promise<OsEvent[]> {
    return this.stmts.events.all(stationId, afterSeq, limit).map(eventOf);
  }

  advance(stationId: string, fromSeq: number, toSeq: number, nowMs: number): Promise<boolean> {
    return this.handle.write(() => this.stmts.advance.run(toSeq, nowMs, stationId, fromSeq, toSeq).changes === 1);
  }

  rewind(stationId: string, fromMs: number): Promise<number> {
    return this.handle.write((): number => {
      const first = this.stmts.firstAt.get(stationId, fromMs)?.seq ?? null;
      if (first !== null) this.stmts.rewind.run(first - 1, stationId, first - 1);
      return this.stmts.cursor.get(stationId)?.delivered_seq ?? 0;
    });
  }

  async readsOnlineGroups(): Promise<string[]> {
    return this.stmts.groups.all().map((r) => r.group_id);
  }

  setGroup(group: string, readsOnline: boolean, by: string, nowMs: number): Promise<OsGroupChange> {
    return this.handle.write((): OsGroupChange => {
      this.stmts.setGroup.run(group, readsOnline ? 1 : 0);
      return changeOf(this.stmts.journal.get(group, readsOnline ? 1 : 0, by, nowMs)!);
    });
  }

  async groupChanges(limit: number): Promise<OsGroupChange[]> {
    return this.stmts.changes.all(limit).map(changeOf);
  }

  /** A save stores its events in its own transaction: nothing is ever half-published. */
  async repair(_limit: number): Promise<number> {
    return 0;
  }

  /**
   * Deletes the station's oldest delivered events recorded before `recordedBefore`, in station
   * order, stopping at the first undelivered or recent one (so what is kept runs on from some
   * sequence without a hole, as on Redis). Their transactions' numbering (`os_txn_events`) stays.
   * Reads one row past what goes: a pass with nothing to let go costs one indexed row and takes
   * no write lock (every pass trims every station). What the read finds stays delivered and old, so
   * deleting it in a later write is as safe as in the same one.
   */
  async trim(stationId: string, recordedBefore: number, limit: number): Promise<number> {
    const delivered = this.stmts.cursor.get(stationId)?.delivered_seq ?? 0;
    let last = 0;
    let count = 0;
    for (const row of this.stmts.oldest.iterate(stationId, delivered, limit)) {
      if (row.at >= recordedBefore) break;
      last = row.station_seq;
      count++;
    }
    if (count === 0) return 0;
    await this.handle.write(() => this.stmts.trimTo.run(stationId, last));
    return count;
  }

  /**
   * Written straight to the file, outside the group commit, as the transactions' leases are
   * (runtime/lease.ts SqliteLeases): one statement, atomic across the processes sharing the file;
   * about who is alive now, so it needs no fsync.
   */
  async leaseStation(stationId: string, owner: string, nowMs: number, untilMs: number): Promise<boolean> {
    return this.stmts.lease.run(stationId, owner, untilMs, nowMs).changes === 1;
  }

  async releaseStation(stationId: string, owner: string): Promise<void> {
    this.stmts.release.run(stationId, owner);
  }
}
