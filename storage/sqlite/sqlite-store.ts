import { closeSync, fsync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import type {
  AdminQueries,
  DueTimer,
  FeedFollow,
  FeedGap,
  FeedTransition,
  IdempotencyRecords,
  Journal,
  SentinelIndex,
  SnapshotStore,
  Storage,
  TaskStore,
  TransitionFeed,
  IdempotencyClaim,
  IdempotencyLease,
  JournalEntry,
  SaveRecord,
  SaveResult,
  StoredJournalEntry,
  StoredResponse,
  IdleTransaction,
  StoreStats,
  TaskOutcome,
  TaskRecord,
  TransactionRecord,
} from '../types.ts';

/** What `follow` reads the journal on with: its sequence numbers, as the cursors it issues. */
interface TxnJournalEntry extends StoredJournalEntry {
  txnNo: string;
}

/** Cursors of the SQLite feed: journal sequence numbers (below 2^53). */
const SEQ_CURSOR = '^[0-9]{1,15}$';
/** Journal rows read per query by a follower. */
const FEED_BATCH = 500;
/**
 * How often a follower looks at the journal when no save of this process woke it: the file may
 * have another writer (a `trade` command changing a transaction, or a server when the reader is
 * `trade tail`).
 */
const DEFAULT_FEED_POLL_MS = 1_000;

/**
 * Run after SCHEMA, so that files made by earlier versions are brought up to date in place.
 * needsAttention used to be read out of the snapshot JSON by an index expression, which made every
 * save parse the whole snapshot inside SQLite; it is a column now, written with the snapshot.
 */
const MIGRATIONS = `
DROP INDEX IF EXISTS transactions_attention;
DROP INDEX IF EXISTS transactions_moving;
CREATE INDEX IF NOT EXISTS transactions_flagged ON transactions(txn_no) WHERE needs_attention = 1;
`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS transactions (
  txn_no      TEXT PRIMARY KEY,
  version     INTEGER NOT NULL,
  merchant_id TEXT NOT NULL,
  station_id  TEXT NOT NULL DEFAULT '',
  order_no    TEXT,
  state       TEXT NOT NULL,
  state_value TEXT NOT NULL,
  snapshot    TEXT NOT NULL,
  at_rest     INTEGER NOT NULL,
  working     INTEGER NOT NULL,
  needs_attention INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS transactions_order_no ON transactions(order_no) WHERE order_no IS NOT NULL;
CREATE INDEX IF NOT EXISTS transactions_working ON transactions(working) WHERE at_rest = 0 AND working = 1;
CREATE TABLE IF NOT EXISTS timers (
  txn_no TEXT NOT NULL,
  name   TEXT NOT NULL,
  due_at INTEGER NOT NULL,
  PRIMARY KEY (txn_no, name)
);
CREATE INDEX IF NOT EXISTS transactions_state ON transactions(state);
-- Small partial indexes keep the metrics' counts off a full scan (transactions_flagged: see MIGRATIONS).
CREATE INDEX IF NOT EXISTS timers_due ON timers(due_at);
CREATE TABLE IF NOT EXISTS journal (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  txn_no     TEXT NOT NULL,
  at         INTEGER NOT NULL,
  actor      TEXT NOT NULL,
  event      TEXT NOT NULL,
  data       TEXT NOT NULL,
  from_state TEXT,
  to_state   TEXT
);
CREATE INDEX IF NOT EXISTS journal_txn ON journal(txn_no, seq);
CREATE TABLE IF NOT EXISTS tasks (
  txn_no       TEXT NOT NULL,
  task         TEXT NOT NULL,
  kind         TEXT NOT NULL,
  system       TEXT NOT NULL,
  core         INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  payload      TEXT NOT NULL,
  status       TEXT NOT NULL,
  attempts     INTEGER NOT NULL DEFAULT 0,
  last_error   TEXT,
  next_run_at  INTEGER,
  result       TEXT,
  refusals     INTEGER NOT NULL DEFAULT 0,
  updated_at   INTEGER NOT NULL,
  PRIMARY KEY (txn_no, task)
);
CREATE INDEX IF NOT EXISTS tasks_due ON tasks(next_run_at) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS sentinel (
  txn_no  TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  nudges  INTEGER NOT NULL,
  stuck   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS transactions_active ON transactions(updated_at) WHERE at_rest = 0;
CREATE INDEX IF NOT EXISTS tasks_dead ON tasks(txn_no) WHERE status = 'dead';
CREATE TABLE IF NOT EXISTS idempotency (
  key         TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  status      TEXT NOT NULL,
  response    TEXT,
  created_at  INTEGER NOT NULL,
  owner       TEXT,
  lease_until INTEGER NOT NULL DEFAULT 0,
  run_id      TEXT,
  txn_no      TEXT
);
-- The purge deletes by age (purgeIdempotency); files made before it get the index on open.
CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency(created_at);
`;

interface IdempotencyRow {
  fingerprint: string;
  status: string;
  response: string | null;
  owner: string | null;
  lease_until: number;
  run_id: string | null;
  txn_no: string | null;
}

interface TaskRow {
  txn_no: string;
  task: string;
  kind: string;
  system: string;
  core: number;
  max_attempts: number;
  payload: string;
  status: TaskRecord['status'];
  attempts: number;
  last_error: string | null;
  next_run_at: number | null;
  result: string | null;
  refusals: number;
  updated_at: number;
}

function toTask(r: TaskRow): TaskRecord {
  return {
    txnNo: r.txn_no,
    task: r.task,
    kind: r.kind,
    system: r.system,
    core: r.core === 1,
    maxAttempts: r.max_attempts,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    status: r.status,
    attempts: r.attempts,
    lastError: r.last_error,
    nextRunAt: r.next_run_at,
    refusals: r.refusals,
    result: r.result === null ? null : (JSON.parse(r.result) as Record<string, unknown>),
    updatedAt: r.updated_at,
  };
}

interface JournalRow {
  seq: number;
  at: number;
  actor: string;
  event: string;
  data: string;
  from_state: string | null;
  to_state: string | null;
}

function toJournalEntry(r: JournalRow): StoredJournalEntry {
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
  created_at: number;
  updated_at: number;
}

/** What this process stored of a transaction's timers and task specs, at which version. */
interface Written {
  version: number;
  /** The timers as JSON. */
  timers: string;
  tasks: Set<string>;
}

/** A write waiting for the next group commit. */
interface PendingWrite {
  op: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Callbacks of writes committed and waiting for the WAL fsync that makes them durable. */
interface AwaitingSync {
  durable: () => void;
  failed: (error: unknown) => void;
}

/**
 * The embedded default: one SQLite file in WAL mode. better-sqlite3 is synchronous, so each
 * method's work is one atomic SQLite transaction; the async signatures are the shared interface.
 *
 * Durability (`TRADE_SQLITE_SYNC`): by default (`FULL`) an acknowledged payment survives a power
 * cut, as SQLite's `synchronous = FULL` promises, but the fsync runs on libuv's thread pool rather
 * than inside COMMIT on the event loop, where it cost about a millisecond per commit: SQLite runs
 * with `synchronous = NORMAL` (a commit writes the WAL without syncing it; the WAL is still synced
 * before every checkpoint), and the writes of a commit resolve only once an fsync of the WAL
 * started after that commit has finished. A torn tail of unsynced frames fails the WAL's checksums
 * and is rolled back on recovery, so nothing acknowledged is lost and nothing half-written appears.
 * `NORMAL` skips the fsync: a write survives a crash of the process, not a power cut.
 */
export class SqliteTransactionStore implements SnapshotStore, Journal, TransitionFeed, IdempotencyRecords, TaskStore, SentinelIndex, AdminQueries {
  readonly cursorPattern = SEQ_CURSOR;
  private readonly db: Database.Database;
  private readonly stmts;
  private readonly saveTx;
  private readonly saveBatch;
  /** Runs one write in a savepoint of the batch; built once (a wrapper per write cost a few % of a checkout). */
  private readonly savepoint;
  /** Writes waiting for the next group commit. */
  private pending: PendingWrite[] = [];
  /** What this process last stored of a transaction's timers and tasks, by version. Bounded. */
  private readonly written = new Map<string, Written>();
  /** Entries for `written` from the batch being committed; they count once the commit has. */
  private committing: [string, Written][] = [];
  /** The WAL to fsync before acknowledging, or null when commits are not synced (`NORMAL`, memory). */
  private readonly walPath: string | null;
  private walFd: number | null = null;
  /** An fsync is running; writes committed meanwhile wait for the next one, which starts after it. */
  private syncing = false;
  private awaitingSync: AwaitingSync[] = [];
  private syncIdle: (() => void)[] = [];
  /** Commits made durable so far: a follower that read before the latest one reads again. */
  private commits = 0;
  /** Follows under way (they end when their signal aborts): what a test checks nothing leaks. */
  followers = 0;
  /** Followers waiting for the next durable commit. */
  private readonly commitWaiters = new Set<() => void>();

  constructor(
    path: string,
    /** The WAL's fsync; tests hold it back or fail it. */
    private readonly syncFile: (fd: number, done: (error: NodeJS.ErrnoException | null) => void) => void = fsync,
    private readonly feedPollMs = DEFAULT_FEED_POLL_MS,
  ) {
    this.db = new Database(path);
    const wal = this.db.pragma('journal_mode = WAL', { simple: true }) === 'wal';
    const sync = (process.env.TRADE_SQLITE_SYNC ?? 'FULL').toUpperCase();
    // FULL is kept by fsyncing the WAL off the event loop (see the class comment).
    this.walPath = sync === 'FULL' && wal ? `${this.db.name}-wal` : null;
    this.db.pragma(`synchronous = ${this.walPath ? 'NORMAL' : sync}`);
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    // Files made before task results were kept lack the column: add it in place.
    const taskColumns = this.db.prepare<[], { name: string }>('PRAGMA table_info(tasks)').all();
    if (!taskColumns.some((c) => c.name === 'result')) this.db.exec('ALTER TABLE tasks ADD COLUMN result TEXT');
    if (!taskColumns.some((c) => c.name === 'refusals')) this.db.exec('ALTER TABLE tasks ADD COLUMN refusals INTEGER NOT NULL DEFAULT 0');
    const txnColumns = this.db.prepare<[], { name: string }>('PRAGMA table_info(transactions)').all();
    // Older files lack columns the host now derives: they are filled in by each transaction's next save.
    if (!txnColumns.some((c) => c.name === 'needs_attention')) this.db.exec('ALTER TABLE transactions ADD COLUMN needs_attention INTEGER NOT NULL DEFAULT 0');
    if (!txnColumns.some((c) => c.name === 'station_id')) this.db.exec("ALTER TABLE transactions ADD COLUMN station_id TEXT NOT NULL DEFAULT ''");
    // Files made before claims had owners: their running claims read as lapsed leases (taken over).
    const idemColumns = this.db.prepare<[], { name: string }>('PRAGMA table_info(idempotency)').all();
    if (!idemColumns.some((c) => c.name === 'owner')) {
      this.db.exec(`ALTER TABLE idempotency ADD COLUMN owner TEXT;
        ALTER TABLE idempotency ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE idempotency ADD COLUMN run_id TEXT;
        ALTER TABLE idempotency ADD COLUMN txn_no TEXT;`);
    }
    this.db.exec(MIGRATIONS);
    this.stmts = {
      get: this.db.prepare<[string], TxnRow>('SELECT * FROM transactions WHERE txn_no = ?'),
      version: this.db.prepare<[string], { version: number }>('SELECT version FROM transactions WHERE txn_no = ?'),
      insert: this.db.prepare(
        `INSERT INTO transactions (txn_no, version, merchant_id, station_id, order_no, state, state_value, snapshot, at_rest, working, needs_attention, created_at, updated_at)
         VALUES (@txnNo, 1, @merchantId, @stationId, @orderNo, @state, @stateValue, @snapshot, @atRest, @working, @needsAttention, @createdAt, @updatedAt)`,
      ),
      update: this.db.prepare(
        `UPDATE transactions SET version = version + 1, station_id = @stationId, order_no = @orderNo, state = @state, state_value = @stateValue,
           snapshot = @snapshot, at_rest = @atRest, working = @working, needs_attention = @needsAttention, updated_at = @updatedAt
         WHERE txn_no = @txnNo AND version = @expectedVersion`,
      ),
      deleteTimers: this.db.prepare('DELETE FROM timers WHERE txn_no = ?'),
      insertTimer: this.db.prepare('INSERT INTO timers (txn_no, name, due_at) VALUES (?, ?, ?)'),
      insertJournal: this.db.prepare(
        'INSERT INTO journal (txn_no, at, actor, event, data, from_state, to_state) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      byOrderNo: this.db.prepare<[string], { txn_no: string }>('SELECT txn_no FROM transactions WHERE order_no = ?'),
      dueTimers: this.db.prepare<[number, number], { txn_no: string; name: string; due_at: number }>(
        'SELECT txn_no, name, due_at FROM timers WHERE due_at <= ? ORDER BY due_at LIMIT ?',
      ),
      needingWork: this.db.prepare<[number, number], { txn_no: string }>(
        `SELECT txn_no FROM transactions WHERE at_rest = 0 AND working = 1
         UNION SELECT DISTINCT txn_no FROM timers WHERE due_at <= ? LIMIT ?`,
      ),
      journal: this.db.prepare<[string], JournalRow>(
        'SELECT * FROM journal WHERE txn_no = ? ORDER BY seq',
      ),
      // Prepared once: the event stream reads the journal back after every save while it is open.
      journalSince: this.db.prepare<[number, number], JournalRow & { txn_no: string }>('SELECT * FROM journal WHERE seq > ? ORDER BY seq LIMIT ?'),
      insertTask: this.db.prepare(
        `INSERT OR IGNORE INTO tasks (txn_no, task, kind, system, core, max_attempts, payload, status, next_run_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
      ),
      idemGet: this.db.prepare<[string], IdempotencyRow>(
        'SELECT fingerprint, status, response, owner, lease_until, run_id, txn_no FROM idempotency WHERE key = ?',
      ),
      idemInsert: this.db.prepare(
        "INSERT INTO idempotency (key, fingerprint, status, created_at, owner, lease_until, run_id) VALUES (?, ?, 'running', ?, ?, ?, ?)",
      ),
      idemTakeOver: this.db.prepare("UPDATE idempotency SET owner = ?, lease_until = ?, run_id = ? WHERE key = ? AND status = 'running'"),
      idemRenew: this.db.prepare("UPDATE idempotency SET lease_until = ? WHERE key = ? AND owner = ? AND status = 'running'"),
      idemNoteTxn: this.db.prepare("UPDATE idempotency SET txn_no = ? WHERE key = ? AND owner = ? AND status = 'running'"),
      idemComplete: this.db.prepare("UPDATE idempotency SET status = 'done', response = ? WHERE key = ? AND owner = ? AND status = 'running'"),
      idemDelete: this.db.prepare("DELETE FROM idempotency WHERE key = ? AND owner = ? AND status = 'running'"),
      // A bounded batch, so one purge never holds the group commit long; the subquery, because DELETE … LIMIT is a build option.
      idemPurge: this.db.prepare('DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency WHERE created_at < ? LIMIT ?)'),
      timersOf: this.db.prepare<[string], { name: string; due_at: number }>('SELECT name, due_at FROM timers WHERE txn_no = ?'),
      dueTasks: this.db.prepare<[number, number], TaskRow>("SELECT * FROM tasks WHERE status = 'pending' AND next_run_at <= ? ORDER BY next_run_at LIMIT ?"),
      claimTask: this.db.prepare("UPDATE tasks SET status = 'running', updated_at = ? WHERE txn_no = ? AND task = ? AND status = 'pending'"),
      finishTask: this.db.prepare(
        'UPDATE tasks SET status = ?, attempts = ?, refusals = coalesce(?, refusals), last_error = ?, next_run_at = ?, result = ?, updated_at = ? WHERE txn_no = ? AND task = ?',
      ),
      tasksOf: this.db.prepare<[string], TaskRow>('SELECT * FROM tasks WHERE txn_no = ? ORDER BY rowid'),
      taskOf: this.db.prepare<[string, string], TaskRow>('SELECT * FROM tasks WHERE txn_no = ? AND task = ?'),
      reviveTask: this.db.prepare("UPDATE tasks SET status = 'pending', attempts = 0, next_run_at = ?, updated_at = ? WHERE txn_no = ? AND task = ? AND status = 'dead'"),
    };
    // Runs inside a write's savepoint (see `write`), so it is atomic with its journal and timers.
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
        createdAt: record.createdAt,
        updatedAt: record.updatedAt,
        expectedVersion,
      };
      if (expectedVersion === 0) {
        if (this.stmts.version.get(record.txnNo)) return { ok: false, conflict: true, actualVersion: this.stmts.version.get(record.txnNo)?.version ?? null };
        const { expectedVersion: _unused, ...insertParams } = params;
        this.stmts.insert.run(insertParams);
      } else if (this.stmts.update.run(params).changes === 0) {
        return { ok: false, conflict: true, actualVersion: this.stmts.version.get(record.txnNo)?.version ?? null };
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
      for (const j of journal) {
        this.stmts.insertJournal.run(record.txnNo, j.at, j.actor, j.event, JSON.stringify(j.data), JSON.stringify(j.from), JSON.stringify(j.to));
      }
      this.committing.push([record.txnNo, { version: expectedVersion + 1, timers, tasks: new Set(record.tasks.map((t) => t.task)) }]);
      return { ok: true, version: expectedVersion + 1 };
    };
    this.saveBatch = this.db.transaction((writes: PendingWrite[]) => writes.map((w) => this.attempt(w)));
    this.savepoint = this.db.transaction((op: () => unknown): unknown => op());
  }

  /**
   * Group commit: the writes of one event-loop turn (snapshot saves, task claims and outcomes,
   * idempotency records) share one SQLite transaction, hence one fsync, and each promise resolves
   * only after that commit (persist before acknowledge holds). Each write runs in its own
   * savepoint: a failing one is rolled back and rejected alone; a save's conflict is a value for
   * its caller alone.
   */
  save(record: SaveRecord, expectedVersion: number, journal: JournalEntry[]): Promise<SaveResult> {
    return this.write(() => this.saveTx(record, expectedVersion, journal));
  }

  private write<T>(op: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const pending: PendingWrite = { op, resolve: (value) => resolve(value as T), reject };
      if (this.pending.push(pending) === 1) setImmediate(() => this.flush());
    });
  }

  private attempt(w: PendingWrite): { ok: true; value: unknown } | { ok: false; error: unknown } {
    try {
      return { ok: true, value: this.savepoint(w.op) };
    } catch (error) {
      return { ok: false, error };
    }
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    if (!batch.length) return;
    try {
      const results = this.saveBatch(batch);
      if (this.written.size > 10_000) this.written.clear();
      for (const [txnNo, written] of this.committing) this.written.set(txnNo, written);
      this.committing = [];
      // The batch settles together, once durable (a write rolled back to its savepoint keeps its own error).
      this.whenDurable({
        durable: () => {
          batch.forEach((w, i) => {
            const r = results[i]!;
            if (r.ok) w.resolve(r.value);
            else w.reject(r.error);
          });
          this.commits++;
          for (const wake of this.commitWaiters) wake();
          this.commitWaiters.clear();
        },
        failed: (error) =>
          batch.forEach((w, i) => {
            const r = results[i]!;
            w.reject(r.ok ? error : r.error);
          }),
      });
    } catch (err) {
      // The commit itself failed (disk full, I/O error): nothing of the batch is stored.
      for (const [txnNo] of this.committing) this.written.delete(txnNo);
      this.committing = [];
      batch.forEach((w) => w.reject(err));
    }
  }

  /** Calls back once everything committed so far is on disk (at once when commits are not synced). */
  private whenDurable(waiter: AwaitingSync): void {
    if (!this.walPath) {
      waiter.durable();
      return;
    }
    this.awaitingSync.push(waiter);
    if (!this.syncing) this.syncWal(this.walPath);
  }

  /**
   * One fsync of the WAL for every commit made before it started (fsync is per file, whichever
   * descriptor asks). Commits made while it runs wait for the next one.
   */
  private syncWal(walPath: string): void {
    const waiting = this.awaitingSync;
    this.awaitingSync = [];
    this.syncing = true;
    const finished = (error: unknown) => {
      this.syncing = false;
      for (const w of waiting) {
        if (error) w.failed(error);
        else w.durable();
      }
      if (this.awaitingSync.length) this.syncWal(walPath);
      else for (const idle of this.syncIdle.splice(0)) idle();
    };
    try {
      this.walFd ??= openSync(walPath, 'r+');
    } catch (error) {
      finished(error);
      return;
    }
    this.syncFile(this.walFd, (error) => finished(error));
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

  async entries(txnNo: string): Promise<StoredJournalEntry[]> {
    return this.stmts.journal.all(txnNo).map(toJournalEntry);
  }

  async claimIdempotencyKey(key: string, fingerprint: string, nowMs: number, lease: IdempotencyLease): Promise<IdempotencyClaim> {
    return this.write((): IdempotencyClaim => {
      const row = this.stmts.idemGet.get(key);
      if (!row) {
        this.stmts.idemInsert.run(key, fingerprint, nowMs, lease.owner, lease.leaseUntil, lease.runId);
        return { status: 'claimed' };
      }
      if (row.fingerprint !== fingerprint) return { status: 'mismatch' };
      if (row.status === 'done' && row.response !== null) return { status: 'done', response: JSON.parse(row.response) as StoredResponse };
      if (row.lease_until >= nowMs) return { status: 'in-progress', owner: row.owner ?? '', leaseUntil: row.lease_until };
      // A record from before runs had ids has none to keep: the new run's stands in.
      const runId = row.run_id ?? lease.runId;
      this.stmts.idemTakeOver.run(lease.owner, lease.leaseUntil, runId, key);
      return { status: 'taken-over', runId, txnNo: row.txn_no };
    });
  }

  async renewIdempotencyKey(key: string, owner: string, leaseUntil: number): Promise<boolean> {
    return this.write(() => this.stmts.idemRenew.run(leaseUntil, key, owner).changes === 1);
  }

  async noteIdempotencyTxn(key: string, owner: string, txnNo: string): Promise<boolean> {
    return this.write(() => this.stmts.idemNoteTxn.run(txnNo, key, owner).changes === 1);
  }

  async completeIdempotencyKey(key: string, owner: string, response: StoredResponse): Promise<void> {
    await this.write(() => this.stmts.idemComplete.run(JSON.stringify(response), key, owner));
  }

  async releaseIdempotencyKey(key: string, owner: string): Promise<void> {
    await this.write(() => this.stmts.idemDelete.run(key, owner));
  }

  async purgeIdempotency(olderThanMs: number, limit: number): Promise<number> {
    return this.write(() => this.stmts.idemPurge.run(olderThanMs, limit).changes);
  }

  async dueTasks(nowMs: number, limit: number): Promise<TaskRecord[]> {
    return this.stmts.dueTasks.all(nowMs, limit).map(toTask);
  }

  async claimTask(txnNo: string, task: string, nowMs: number): Promise<boolean> {
    return this.write(() => this.stmts.claimTask.run(nowMs, txnNo, task).changes === 1);
  }

  async finishTask(
    txnNo: string,
    task: string,
    o: TaskOutcome,
    nowMs: number,
  ): Promise<void> {
    await this.write(() =>
      this.stmts.finishTask.run(o.status, o.attempts, o.refusals ?? null, o.lastError, o.nextRunAt, o.result ? JSON.stringify(o.result) : null, nowMs, txnNo, task),
    );
  }

  async tasksOf(txnNo: string): Promise<TaskRecord[]> {
    return this.stmts.tasksOf.all(txnNo).map(toTask);
  }

  async task(txnNo: string, task: string): Promise<TaskRecord | null> {
    const row = this.stmts.taskOf.get(txnNo, task);
    return row ? toTask(row) : null;
  }

  async reviveTask(txnNo: string, task: string, nowMs: number): Promise<boolean> {
    return this.write(() => this.stmts.reviveTask.run(nowMs, nowMs, txnNo, task).changes === 1);
  }

  async requeueRunningTasks(nowMs: number): Promise<number> {
    return this.write(() => this.db.prepare("UPDATE tasks SET status = 'pending', next_run_at = ?, updated_at = ? WHERE status = 'running'").run(nowMs, nowMs).changes);
  }

  async listTransactions(filter: { state?: string; needsAttention?: boolean; limit: number; before?: string }): Promise<{ txnNo: string; state: string; updatedAt: number }[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.state) {
      where.push('state = ?');
      args.push(filter.state);
    }
    if (filter.needsAttention) {
      where.push(
        `(needs_attention = 1 OR EXISTS (SELECT 1 FROM tasks k WHERE k.txn_no = transactions.txn_no AND k.status = 'dead')
          OR EXISTS (SELECT 1 FROM sentinel s WHERE s.txn_no = transactions.txn_no AND s.version = transactions.version AND s.stuck = 1))`,
      );
    }
    if (filter.before) {
      where.push('txn_no < ?');
      args.push(filter.before);
    }
    const sql = `SELECT txn_no, state, updated_at FROM transactions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY txn_no DESC LIMIT ?`;
    return this.db
      .prepare<(string | number)[], { txn_no: string; state: string; updated_at: number }>(sql)
      .all(...args, filter.limit)
      .map((r) => ({ txnNo: r.txn_no, state: r.state, updatedAt: r.updated_at }));
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
    return this.write((): number => {
      if (this.stmts.version.get(txnNo)?.version !== version) return 0;
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
    return this.write((): boolean => {
      if (this.stmts.version.get(txnNo)?.version !== version) return false;
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

  async stats(idleBefore: number): Promise<StoreStats> {
    const byState: Record<string, number> = {};
    for (const r of this.db.prepare<[], { state: string; n: number }>('SELECT state, count(*) AS n FROM transactions GROUP BY state').all()) byState[r.state] = r.n;
    // Flagged transactions, plus those with a dead task and no flag: both through partial indexes.
    const needsAttention = this.db
      .prepare<[], { n: number }>(
        `SELECT (SELECT count(*) FROM transactions WHERE needs_attention = 1)
              + (SELECT count(DISTINCT k.txn_no) FROM tasks k WHERE k.status = 'dead' AND NOT EXISTS (
                  SELECT 1 FROM transactions x WHERE x.txn_no = k.txn_no AND x.needs_attention = 1)) AS n`,
      )
      .get()!.n;
    const idle = this.db.prepare<[number], { n: number }>("SELECT count(*) AS n FROM transactions WHERE at_rest = 0 AND updated_at < ? AND state <> 'quoted'").get(idleBefore)!.n;
    return { byState, needsAttention, idle };
  }

  private journalSince(afterSeq: number, limit: number): TxnJournalEntry[] {
    return this.stmts.journalSince.all(afterSeq, limit).map((r) => ({ ...toJournalEntry(r), txnNo: r.txn_no }));
  }

  private lastJournalSeq(): number {
    return this.db.prepare<[], { seq: number | null }>('SELECT max(seq) AS seq FROM journal').get()?.seq ?? 0;
  }

  /**
   * The journal itself is the feed, its sequence numbers the cursors: resuming is reading on from
   * the follower's cursor, one cursor, no merging of a replay with live events, hence no
   * duplicate and no hole. A follower reads again as soon as a commit of this store is durable,
   * and every `feedPollMs` for other writers of the file. The journal is never trimmed: the only
   * gap is a cursor beyond its end (or none of this form).
   */
  async follow(signal: AbortSignal, after?: string): Promise<FeedFollow> {
    const last = this.lastJournalSeq();
    let from = last;
    let gap: FeedGap | null = null;
    if (after !== undefined) {
      if (new RegExp(SEQ_CURSOR).test(after) && Number(after) <= last) from = Number(after);
      else gap = { reason: 'unknown', resumedAfter: String(last) };
    }
    const read = async function* (this: SqliteTransactionStore): AsyncGenerator<FeedTransition> {
      this.followers++;
      try {
        while (!signal.aborted) {
          const seen = this.commits;
          const rows = this.journalSince(from, FEED_BATCH);
          for (const { seq, ...entry } of rows) {
            from = seq;
            yield { ...entry, cursor: String(seq) };
            if (signal.aborted) return;
          }
          if (rows.length < FEED_BATCH) await this.nextCommit(seen, signal);
        }
      } finally {
        this.followers--;
      }
    }.call(this);
    return Object.assign(read, { gap });
  }

  /** Resolves once a commit after the `seen`-th is durable, after `feedPollMs`, or on abort. */
  private nextCommit(seen: number, signal: AbortSignal): Promise<void> {
    if (this.commits !== seen || signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.commitWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, this.feedPollMs);
      signal.addEventListener('abort', done, { once: true });
      this.commitWaiters.add(done);
    });
  }

  /** One process owns the file: its scan is always its own to make. */
  async claimScan(_periodMs: number): Promise<boolean> {
    return true;
  }

  /** Nothing to repair: the indexes are written in the same SQLite transaction as the record. */
  async repairIndexes(_nowMs: number): Promise<number> {
    return 0;
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.pending.length) this.flush();
    if (this.syncing) await new Promise<void>((idle) => this.syncIdle.push(idle));
    if (this.walFd !== null) closeSync(this.walFd);
    this.walFd = null;
    if (this.db.open) this.db.close();
  }
}

/** The embedded default's storage: every concept over one SQLite file. */
export function openSqliteStorage(path: string, options: { feedPollMs?: number } = {}): Storage {
  const store = new SqliteTransactionStore(path, fsync, options.feedPollMs);
  return {
    snapshots: store,
    journal: store,
    feed: store,
    idempotency: store,
    tasks: store,
    sentinel: store,
    admin: store,
    ping: () => store.ping(),
    close: () => store.close(),
  };
}
