import type { DueTimer, FinalTransaction, JournalEntry, SaveRecord, SaveResult, SnapshotStore, StoredJournalEntry, TaskRecord, TransactionRecord } from '../types.ts';
import type { SqliteHandle } from './handle.ts';
import { SqliteOsEventWriter } from './os-outbox.ts';

interface TxnRow {
  txn_no: string;
  version: number;
  merchant_id: string;
  station_id: string;
  order_no: string | null;
  state: string;
  state_value: string;
  snapshot: string;
  at_rest: number;
  working: number;
  needs_attention: number;
  final_at: number | null;
  created_at: number;
  updated_at: number;
}

/** What this process stored of a transaction's timers and task specs, at which version. */
interface Written {
  version: number;
  /** The timers as JSON. */
  timers: string;
  tasks: Set<string>;
  /** The OS event ids the record listed. */
  osEvents: Set<string>;
}

/** Snapshots on SQLite: the `transactions` row, its `timers` rows, and (once each) its task rows, OS event numbers and rows, and journal rows. */
export class SqliteSnapshotStore implements SnapshotStore {
  private readonly stmts;
  private readonly saveTx;
  /** What this process last stored of a transaction's timers and tasks, by version. Bounded. */
  private readonly written = new Map<string, Written>();

  constructor(private readonly handle: SqliteHandle) {
    const db = handle.db;
    const osEvents = new SqliteOsEventWriter(handle);
    this.stmts = {
      get: db.prepare<[string], TxnRow>('SELECT * FROM transactions WHERE txn_no = ?'),
      version: db.prepare<[string], { version: number }>('SELECT version FROM transactions WHERE txn_no = ?'),
      quoteVersion: db.prepare<[string], { version: number }>('SELECT version FROM quotes WHERE txn_no = ?'),
      removeQuote: db.prepare<[string]>('DELETE FROM quotes WHERE txn_no = ?'),
      insert: db.prepare(
        `INSERT INTO transactions (txn_no, version, merchant_id, station_id, order_no, state, state_value, snapshot, at_rest, working, needs_attention, final_at, created_at, updated_at)
         VALUES (@txnNo, @version, @merchantId, @stationId, @orderNo, @state, @stateValue, @snapshot, @atRest, @working, @needsAttention, @finalAt, @createdAt, @updatedAt)`,
      ),
      update: db.prepare(
        `UPDATE transactions SET version = version + 1, station_id = @stationId, order_no = @orderNo, state = @state, state_value = @stateValue,
           snapshot = @snapshot, at_rest = @atRest, working = @working, needs_attention = @needsAttention, final_at = @finalAt, updated_at = @updatedAt
         WHERE txn_no = @txnNo AND version = @expectedVersion`,
      ),
      deleteTimers: db.prepare('DELETE FROM timers WHERE txn_no = ?'),
      insertTimer: db.prepare('INSERT INTO timers (txn_no, name, due_at) VALUES (?, ?, ?)'),
      insertJournal: db.prepare(
        'INSERT INTO journal (txn_no, at, actor, event, data, from_state, to_state) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      byOrderNo: db.prepare<[string], { txn_no: string }>('SELECT txn_no FROM transactions WHERE order_no = ?'),
      dueTimers: db.prepare<[number, number], { txn_no: string; name: string; due_at: number }>(
        'SELECT txn_no, name, due_at FROM timers WHERE due_at <= ? ORDER BY due_at LIMIT ?',
      ),
      needingWork: db.prepare<[number, number], { txn_no: string }>(
        `SELECT txn_no FROM transactions WHERE at_rest = 0 AND working = 1
         UNION SELECT DISTINCT txn_no FROM timers WHERE due_at <= ? LIMIT ?`,
      ),
      insertTask: db.prepare(
        `INSERT OR IGNORE INTO tasks (txn_no, task, kind, system, core, max_attempts, payload, status, next_run_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
      ),
      timersOf: db.prepare<[string], { name: string; due_at: number }>('SELECT name, due_at FROM timers WHERE txn_no = ?'),
      finalFirst: db.prepare<[number, number], { txn_no: string; version: number; final_at: number }>(
        'SELECT txn_no, version, final_at FROM transactions WHERE final_at IS NOT NULL AND final_at <= ? ORDER BY final_at, txn_no LIMIT ?',
      ),
      finalAfter: db.prepare<[number, number, number, string, number], { txn_no: string; version: number; final_at: number }>(
        `SELECT txn_no, version, final_at FROM transactions WHERE final_at IS NOT NULL AND final_at <= ? AND (final_at > ? OR (final_at = ? AND txn_no > ?))
         ORDER BY final_at, txn_no LIMIT ?`,
      ),
      remove: db.prepare<[string, number]>('DELETE FROM transactions WHERE txn_no = ? AND version = ?'),
      removeJournal: db.prepare<[string]>('DELETE FROM journal WHERE txn_no = ?'),
      removeTasks: db.prepare<[string]>('DELETE FROM tasks WHERE txn_no = ?'),
      removeSentinel: db.prepare<[string]>('DELETE FROM sentinel WHERE txn_no = ?'),
      // Its events' numbers leave with it (as Redis's tc:{T}:os does): rehydrated, its next save
      // numbers them again in the order listed, and the station keeps those it still holds once.
      removeOsEvents: db.prepare<[string]>('DELETE FROM os_txn_events WHERE txn_no = ?'),
      // The archived sequence numbers: AUTOINCREMENT never hands them out again, and a follower of
      // the feed (which reads on by sequence) does not see a rehydrated history a second time.
      reinsertJournal: db.prepare(
        'INSERT OR IGNORE INTO journal (seq, txn_no, at, actor, event, data, from_state, to_state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      reinsertTask: db.prepare(
        `INSERT OR IGNORE INTO tasks (txn_no, task, kind, system, core, max_attempts, payload, status, attempts, last_error, next_run_at, result, refusals, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
    };
    // Runs inside a write's savepoint (see SqliteHandle.write), so it is atomic with its journal and timers.
    this.saveTx = (record: SaveRecord, expectedVersion: number, journal: JournalEntry[]): SaveResult => {
      const params = {
        txnNo: record.txnNo,
        merchantId: record.merchantId,
        orderNo: record.orderNo,
        state: record.state,
        stateValue: JSON.stringify(record.stateValue),
        snapshot: JSON.stringify(record.snapshot),
        atRest: record.atRest ? 1 : 0,
        working: record.working ? 1 : 0,
        stationId: record.stationId,
        needsAttention: record.needsAttention ? 1 : 0,
        finalAt: record.finalAt,
        createdAt: record.createdAt,
        updatedAt: record.updatedAt,
        expectedVersion,
      };
      if (expectedVersion === 0) {
        const actual = this.stmts.version.get(record.txnNo) ?? this.stmts.quoteVersion.get(record.txnNo);
        if (actual) return { ok: false, conflict: true, actualVersion: actual.version };
        const { expectedVersion: _unused, ...insertParams } = params;
        this.stmts.insert.run({ ...insertParams, version: 1 });
      } else if (this.stmts.update.run(params).changes === 0) {
        const stored = this.stmts.version.get(record.txnNo);
        const quoted = stored ? undefined : this.stmts.quoteVersion.get(record.txnNo);
        // The first snapshot of a quoted-only transaction continues its quote record's version.
        if (quoted?.version !== expectedVersion) return { ok: false, conflict: true, actualVersion: (stored ?? quoted)?.version ?? null };
        this.stmts.removeQuote.run(record.txnNo);
        const { expectedVersion: _unused, ...insertParams } = params;
        this.stmts.insert.run({ ...insertParams, version: expectedVersion + 1 });
      }
      // Timer rows and task specs this process wrote at the version just replaced are there still
      // (the compare-and-set proves nobody wrote since): only what changed is written again.
      const known = this.written.get(record.txnNo);
      const unchanged = known?.version === expectedVersion ? known : undefined;
      const timers = JSON.stringify(record.timers);
      if (timers !== unchanged?.timers) {
        this.stmts.deleteTimers.run(record.txnNo);
        for (const [name, dueAt] of Object.entries(record.timers)) this.stmts.insertTimer.run(record.txnNo, name, dueAt);
      }
      for (const t of record.tasks) {
        if (unchanged?.tasks.has(t.task)) continue;
        this.stmts.insertTask.run(record.txnNo, t.task, t.kind, t.system, t.core ? 1 : 0, t.maxAttempts, JSON.stringify(t.payload), record.updatedAt, record.updatedAt);
      }
      const freshEvents = unchanged ? record.osEvents.filter((e) => !unchanged.osEvents.has(e.eventId)) : record.osEvents;
      if (freshEvents.length) osEvents.write(record.txnNo, record.stationId, freshEvents, record.updatedAt);
      for (const j of journal) {
        this.stmts.insertJournal.run(record.txnNo, j.at, j.actor, j.event, JSON.stringify(j.data), JSON.stringify(j.from), JSON.stringify(j.to));
      }
      const written: Written = { version: expectedVersion + 1, timers, tasks: new Set(record.tasks.map((t) => t.task)), osEvents: new Set(record.osEvents.map((e) => e.eventId)) };
      // Known once the commit is: a batch that fails to commit leaves the rows as they were.
      this.handle.afterCommit(() => {
        if (this.written.size > 10_000) this.written.clear();
        this.written.set(record.txnNo, written);
      });
      return { ok: true, version: expectedVersion + 1 };
    };
  }

  save(record: SaveRecord, expectedVersion: number, journal: JournalEntry[]): Promise<SaveResult> {
    return this.handle.write(() => this.saveTx(record, expectedVersion, journal));
  }

  async load(txnNo: string): Promise<TransactionRecord | null> {
    const row = this.stmts.get.get(txnNo);
    if (!row) return null;
    const timers: Record<string, number> = {};
    for (const t of this.stmts.timersOf.all(txnNo)) {
      timers[t.name] = t.due_at;
    }
    return {
      txnNo: row.txn_no,
      version: row.version,
      merchantId: row.merchant_id,
      stationId: row.station_id,
      orderNo: row.order_no,
      state: row.state,
      stateValue: JSON.parse(row.state_value),
      snapshot: JSON.parse(row.snapshot),
      atRest: row.at_rest === 1,
      working: row.working === 1,
      needsAttention: row.needs_attention === 1,
      finalAt: row.final_at,
      timers,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  async findTxnNoByOrderNo(orderNo: string): Promise<string | null> {
    return this.stmts.byOrderNo.get(orderNo)?.txn_no ?? null;
  }

  async dueTimers(nowMs: number, limit: number): Promise<DueTimer[]> {
    return this.stmts.dueTimers.all(nowMs, limit).map((r) => ({ txnNo: r.txn_no, name: r.name, dueAt: r.due_at }));
  }

  async needingWork(nowMs: number, limit: number): Promise<string[]> {
    return this.stmts.needingWork.all(nowMs, limit).map((r) => r.txn_no);
  }

  async finalTransactions(finalBefore: number, limit: number, after: FinalTransaction | null): Promise<FinalTransaction[]> {
    const rows = after
      ? this.stmts.finalAfter.all(finalBefore, after.finalAt, after.finalAt, after.txnNo, limit)
      : this.stmts.finalFirst.all(finalBefore, limit);
    return rows.map((r) => ({ txnNo: r.txn_no, version: r.version, finalAt: r.final_at }));
  }

  removeArchived(txnNo: string, version: number): Promise<boolean> {
    return this.handle.write((): boolean => {
      if (this.stmts.remove.run(txnNo, version).changes === 0) return false;
      this.stmts.deleteTimers.run(txnNo);
      this.stmts.removeJournal.run(txnNo);
      this.stmts.removeTasks.run(txnNo);
      this.stmts.removeSentinel.run(txnNo);
      this.stmts.removeOsEvents.run(txnNo);
      this.handle.afterCommit(() => this.written.delete(txnNo));
      return true;
    });
  }

  reinstate(record: TransactionRecord, journal: StoredJournalEntry[], tasks: TaskRecord[]): Promise<boolean> {
    return this.handle.write((): boolean => {
      if (this.stmts.version.get(record.txnNo)) return false;
      this.stmts.insert.run({
        txnNo: record.txnNo,
        version: record.version,
        merchantId: record.merchantId,
        stationId: record.stationId,
        orderNo: record.orderNo,
        state: record.state,
        stateValue: JSON.stringify(record.stateValue),
        snapshot: JSON.stringify(record.snapshot),
        atRest: record.atRest ? 1 : 0,
        working: record.working ? 1 : 0,
        needsAttention: record.needsAttention ? 1 : 0,
        finalAt: record.finalAt,
        createdAt: record.createdAt,
        updatedAt: record.updatedAt,
      });
      for (const [name, dueAt] of Object.entries(record.timers)) this.stmts.insertTimer.run(record.txnNo, name, dueAt);
      for (const j of journal) {
        this.stmts.reinsertJournal.run(j.seq, record.txnNo, j.at, j.actor, j.event, JSON.stringify(j.data), JSON.stringify(j.from), JSON.stringify(j.to));
      }
      for (const t of tasks) {
        this.stmts.reinsertTask.run(
          record.txnNo, t.task, t.kind, t.system, t.core ? 1 : 0, t.maxAttempts, JSON.stringify(t.payload), t.status, t.attempts, t.lastError,
          t.nextRunAt, t.result === null ? null : JSON.stringify(t.result), t.refusals, t.updatedAt,
        );
      }
      this.handle.afterCommit(() => this.written.delete(record.txnNo));
      return true;
    });
  }

  /** One process owns the file: the archiver's turn is always its own. */
  async claimArchiveScan(_periodMs: number): Promise<boolean> {
    return true;
  }
}
