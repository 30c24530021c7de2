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
 * event is stored exactly when the snapshot that records it is. An event already stored (by its
 * id) is left as it is; a new one takes the order's next event sequence and the station's next
 * station sequence.
 */
export class SqliteOsEventWriter {
  private readonly stmts;

  constructor(handle: SqliteHandle) {
    const db = handle.db;
    this.stmts = {
      exists: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM os_events WHERE event_id = ?'),
      lastOfOrder: db.prepare<[string], { seq: number | null }>('SELECT MAX(event_seq) AS seq FROM os_events WHERE order_no = ?'),
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

  /** Stores the events of `specs` not stored yet; returns how many it stored. */
  write(txnNo: string, stationId: string, specs: OsEventSpec[], at: number): number {
    let stored = 0;
    for (const e of specs) {
      if (this.stmts.exists.get(e.eventId)) continue;
      const eventSeq = (this.stmts.lastOfOrder.get(e.orderNo)?.seq ?? 0) + 1;
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
   * Keeps every event: they live in the file, as the archive beside them does, and an order's
   * rows are what numbers its next event (the writer's MAX(event_seq)), so none is dropped.
   */
  async trim(_stationId: string, _recordedBefore: number, _limit: number): Promise<number> {
    return 0;
  }
}
