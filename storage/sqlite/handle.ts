import { closeSync, fsync, openSync } from 'node:fs';
import Database from 'better-sqlite3';

/**
 * Run after SCHEMA, so that files made by earlier versions are brought up to date in place.
 * needsAttention used to be read out of the snapshot JSON by an index expression, which made every
 * save parse the whole snapshot inside SQLite; it is a column now, written with the snapshot.
 */
const MIGRATIONS = `
DROP INDEX IF EXISTS transactions_attention;
DROP INDEX IF EXISTS transactions_moving;
CREATE INDEX IF NOT EXISTS transactions_flagged ON transactions(txn_no) WHERE needs_attention = 1;
CREATE INDEX IF NOT EXISTS transactions_final ON transactions(final_at, txn_no) WHERE final_at IS NOT NULL;
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
-- One writer per transaction across the processes sharing the file (runtime/lease.ts SqliteLeases).
CREATE TABLE IF NOT EXISTS leases (
  txn_no TEXT PRIMARY KEY,
  token  TEXT NOT NULL,
  until  INTEGER NOT NULL
);
-- The purge deletes by age (purgeIdempotency); files made before it get the index on open.
CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency(created_at);
-- Quoted-only transactions (issue 21): one row each instead of a snapshot, swept once kept long enough.
CREATE TABLE IF NOT EXISTS quotes (
  txn_no      TEXT PRIMARY KEY,
  version     INTEGER NOT NULL,
  merchant_id TEXT NOT NULL,
  station_id  TEXT NOT NULL,
  state_value TEXT NOT NULL,
  snapshot    TEXT NOT NULL,
  keep_until  INTEGER NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS quotes_keep_until ON quotes(keep_until);
-- OS order events per station (storage/sqlite/os-outbox.ts), written by the snapshot saves.
CREATE TABLE IF NOT EXISTS os_events (
  station_id  TEXT NOT NULL,
  station_seq INTEGER NOT NULL,
  event_id    TEXT NOT NULL UNIQUE,
  txn_no      TEXT NOT NULL,
  order_no    TEXT NOT NULL,
  kind        TEXT NOT NULL,
  event_seq   INTEGER NOT NULL,
  payload     TEXT NOT NULL,
  at          INTEGER NOT NULL,
  PRIMARY KEY (station_id, station_seq)
);
CREATE INDEX IF NOT EXISTS os_events_order ON os_events(order_no, event_seq);
CREATE INDEX IF NOT EXISTS os_events_at ON os_events(station_id, at);
-- The events each transaction in the hot store has had numbered (storage/sqlite/os-outbox.ts), kept
-- while the station's copy is trimmed: what numbers its next event and keeps one from being
-- numbered twice. They leave with the transaction when it is archived.
CREATE TABLE IF NOT EXISTS os_txn_events (
  txn_no    TEXT NOT NULL,
  event_id  TEXT NOT NULL,
  event_seq INTEGER NOT NULL,
  PRIMARY KEY (txn_no, event_id)
) WITHOUT ROWID;
-- One deliverer per station across the processes sharing the file (runtime/os-sync.ts).
CREATE TABLE IF NOT EXISTS os_leases (
  station_id TEXT PRIMARY KEY,
  owner      TEXT NOT NULL,
  until      INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS os_cursors (
  station_id    TEXT PRIMARY KEY,
  head_seq      INTEGER NOT NULL,
  delivered_seq INTEGER NOT NULL DEFAULT 0,
  delivered_at  INTEGER
);
CREATE TABLE IF NOT EXISTS os_groups (
  group_id     TEXT PRIMARY KEY,
  reads_online INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS os_group_changes (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  group_id     TEXT NOT NULL,
  reads_online INTEGER NOT NULL,
  changed_by   TEXT NOT NULL,
  at           INTEGER NOT NULL
);
`;

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

/** Options of {@link SqliteHandle}. */
export interface SqliteOptions {
  /** The WAL's fsync; tests hold it back or fail it. */
  syncFile?: (fd: number, done: (error: NodeJS.ErrnoException | null) => void) => void;
  /**
   * Other processes write the file too (`trade serve --role api` and `--role worker`): how often
   * to look for their commits, ms (`PRAGMA data_version`, one cheap read), so followers of the
   * journal and the task runner see them without polling the tables. Absent: this handle is the
   * file's only writer but for the odd `trade` command, which the followers' own polls cover.
   */
  watchOthersMs?: number;
}

/** How long a write waits for another process's write lock before failing with SQLITE_BUSY, ms. */
export const BUSY_TIMEOUT_MS = 5_000;

/**
 * The embedded default's shared handle: one SQLite file in WAL mode, its schema, and the group
 * commit every concept's writes go through (better-sqlite3 is synchronous, so each write is one
 * atomic step; the async signatures are the shared interfaces').
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
export class SqliteHandle {
  readonly db: Database.Database;
  private readonly saveBatch;
  /** Runs one write in a savepoint of the batch; built once (a wrapper per write cost a few % of a checkout). */
  private readonly savepoint;
  /** Writes waiting for the next group commit. */
  private pending: PendingWrite[] = [];
  /** What the writes of the batch being committed asked to run once it has (see {@link afterCommit}). */
  private committing: (() => void)[] = [];
  /** The WAL to fsync before acknowledging, or null when commits are not synced (`NORMAL`, memory). */
  private readonly walPath: string | null;
  private walFd: number | null = null;
  /** An fsync is running; writes committed meanwhile wait for the next one, which starts after it. */
  private syncing = false;
  private awaitingSync: AwaitingSync[] = [];
  private syncIdle: (() => void)[] = [];
  /** Commits made durable so far: a follower that read before the latest one reads again. */
  commits = 0;
  /** Called once per durable commit (followers of the journal waiting for more), another process's included when watched. */
  readonly onDurable = new Set<() => void>();
  /** Called when another process's commit was seen (see {@link SqliteOptions.watchOthersMs}). */
  readonly onOthersCommit = new Set<() => void>();
  private othersWatch: NodeJS.Timeout | null = null;
  private dataVersion = 0;
  private readonly syncFile: NonNullable<SqliteOptions['syncFile']>;

  constructor(path: string, options: SqliteOptions = {}) {
    this.syncFile = options.syncFile ?? fsync;
    this.db = new Database(path);
    const wal = this.db.pragma('journal_mode = WAL', { simple: true }) === 'wal';
    const sync = (process.env.TRADE_SQLITE_SYNC ?? 'FULL').toUpperCase();
    // FULL is kept by fsyncing the WAL off the event loop (see the class comment).
    this.walPath = sync === 'FULL' && wal ? `${this.db.name}-wal` : null;
    this.db.pragma(`synchronous = ${this.walPath ? 'NORMAL' : sync}`);
    // Another process (a worker beside the API, a `trade` command) may hold the write lock: wait for it.
    this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    const hadTxnEvents = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'os_txn_events'").get() !== undefined;
    this.db.exec(SCHEMA);
    // Files made before the outbox was trimmed numbered events from os_events itself: the hot
    // transactions' rows are copied over once, before any of them can be trimmed.
    if (!hadTxnEvents) {
      this.db.exec('INSERT OR IGNORE INTO os_txn_events (txn_no, event_id, event_seq) SELECT txn_no, event_id, event_seq FROM os_events WHERE txn_no IN (SELECT txn_no FROM transactions)');
    }
    // Files made before task results were kept lack the column: add it in place.
    const taskColumns = this.db.prepare<[], { name: string }>('PRAGMA table_info(tasks)').all();
    if (!taskColumns.some((c) => c.name === 'result')) this.db.exec('ALTER TABLE tasks ADD COLUMN result TEXT');
    if (!taskColumns.some((c) => c.name === 'refusals')) this.db.exec('ALTER TABLE tasks ADD COLUMN refusals INTEGER NOT NULL DEFAULT 0');
    const txnColumns = this.db.prepare<[], { name: string }>('PRAGMA table_info(transactions)').all();
    // Older files lack columns the host now derives: they are filled in by each transaction's next save.
    if (!txnColumns.some((c) => c.name === 'needs_attention')) this.db.exec('ALTER TABLE transactions ADD COLUMN needs_attention INTEGER NOT NULL DEFAULT 0');
    if (!txnColumns.some((c) => c.name === 'station_id')) this.db.exec("ALTER TABLE transactions ADD COLUMN station_id TEXT NOT NULL DEFAULT ''");
    if (!txnColumns.some((c) => c.name === 'final_at')) this.db.exec('ALTER TABLE transactions ADD COLUMN final_at INTEGER');
    // Files made before claims had owners: their running claims read as lapsed leases (taken over).
    const idemColumns = this.db.prepare<[], { name: string }>('PRAGMA table_info(idempotency)').all();
    if (!idemColumns.some((c) => c.name === 'owner')) {
      this.db.exec(`ALTER TABLE idempotency ADD COLUMN owner TEXT;
        ALTER TABLE idempotency ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE idempotency ADD COLUMN run_id TEXT;
        ALTER TABLE idempotency ADD COLUMN txn_no TEXT;`);
    }
    this.db.exec(MIGRATIONS);
    this.saveBatch = this.db.transaction((writes: PendingWrite[]) => writes.map((w) => this.attempt(w)));
    this.savepoint = this.db.transaction((op: () => unknown): unknown => op());
    if (options.watchOthersMs !== undefined) this.watchOthers(options.watchOthersMs);
  }

  /**
   * `PRAGMA data_version` changes when another connection to the file commits (never for this
   * one's own commits): a read of a counter in shared memory, cheap enough to ask every few ms.
   */
  private watchOthers(everyMs: number): void {
    const version = this.db.prepare<[], { data_version: number }>('PRAGMA data_version');
    this.dataVersion = version.get()!.data_version;
    this.othersWatch = setInterval(() => {
      if (!this.db.open) return;
      const now = version.get()!.data_version;
      if (now === this.dataVersion) return;
      this.dataVersion = now;
      this.commits++;
      for (const wake of [...this.onDurable]) wake();
      for (const seen of [...this.onOthersCommit]) seen();
    }, everyMs);
    this.othersWatch.unref();
  }

  /**
   * Group commit: the writes of one event-loop turn (snapshot saves, task claims and outcomes,
   * idempotency records) share one SQLite transaction, hence one fsync, and each promise resolves
   * only after that commit (persist before acknowledge holds). Each write runs in its own
   * savepoint: a failing one is rolled back and rejected alone; a save's conflict is a value for
   * its caller alone.
   */
  write<T>(op: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const pending: PendingWrite = { op, resolve: (value) => resolve(value as T), reject };
      if (this.pending.push(pending) === 1) setImmediate(() => this.flush());
    });
  }

  /**
   * Called from inside a write: runs `committed` once the batch holding it has committed, and never
   * when that commit fails (what a store caches about rows must match the rows).
   */
  afterCommit(committed: () => void): void {
    this.committing.push(committed);
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
      // BEGIN IMMEDIATE: the write lock is taken first, waiting out another process's
      // (busy_timeout); a deferred BEGIN that read first could fail at once with SQLITE_BUSY when
      // another process committed in between, which no timeout retries.
      const results = this.saveBatch.immediate(batch);
      for (const committed of this.committing) committed();
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
          for (const wake of [...this.onDurable]) wake();
        },
        failed: (error) =>
          batch.forEach((w, i) => {
            const r = results[i]!;
            w.reject(r.ok ? error : r.error);
          }),
      });
    } catch (err) {
      // The commit itself failed (disk full, I/O error): nothing of the batch is stored.
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

  ping(): void {
    this.db.prepare('SELECT 1').get();
  }

  /**
   * The simulation's kill -9: the writes of the group commit still open are lost and never
   * answered, the file is left as a killed process leaves it (what was committed stays).
   */
  crash(): void {
    if (this.othersWatch) clearInterval(this.othersWatch);
    this.pending = [];
    this.awaitingSync = [];
    if (this.walFd !== null) closeSync(this.walFd);
    this.walFd = null;
    if (this.db.open) this.db.close();
  }

  async close(): Promise<void> {
    if (this.othersWatch) clearInterval(this.othersWatch);
    if (this.pending.length) this.flush();
    if (this.syncing) await new Promise<void>((idle) => this.syncIdle.push(idle));
    if (this.walFd !== null) closeSync(this.walFd);
    this.walFd = null;
    if (this.db.open) this.db.close();
  }
}
