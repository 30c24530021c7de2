/**
 * What the runtime needs from a storage backend. The SQLite backend (embedded default) is here;
 * the Redis backend implements the same interface and passes the same conformance suite.
 */

/** One row of the transition journal (DESIGN.md rule 8). */
export interface JournalEntry {
  /** Epoch ms. */
  at: number;
  /** The actor that transitioned: `transaction` or a child id (`leg-1`). */
  actor: string;
  event: string;
  /** The event's data, without the type. */
  data: Record<string, unknown>;
  from: unknown;
  to: unknown;
}

export interface StoredJournalEntry extends JournalEntry {
  seq: number;
}

/** A transaction as stored: its XState persisted snapshot plus the columns indexes need. */
export interface TransactionRecord {
  txnNo: string;
  version: number;
  merchantId: string;
  stationId: string;
  orderNo: string | null;
  /** Top-level state name (`quoted`, `paying`, …). */
  state: string;
  stateValue: unknown;
  /** `actor.getPersistedSnapshot()`, as JSON. */
  snapshot: unknown;
  /** Nothing runs and nothing is due: completed, cancelled or failed. */
  atRest: boolean;
  /** A downstream call was in flight when this snapshot was taken (re-run on restore). */
  working: boolean;
  /**
   * The machine asks for a person (a refund it could not finish, a dead task). Derived by the host
   * like every indexed field (DESIGN.md rule 9): a store never reads the snapshot.
   */
  needsAttention: boolean;
  /** Durable timers armed by the machine: name → due epoch ms. */
  timers: Record<string, number>;
  createdAt: number;
  updatedAt: number;
}

/** A post-payment step to run as a durable task, keyed `txnNo:task` (DESIGN.md "Sentinel, retries"). */
export interface TaskSpec {
  /** Unique within the transaction: `settlement`, `invoice`, `settlement-reverse:R…`, … */
  task: string;
  /** What to do; the runtime's task handlers know each kind. */
  kind: string;
  system: string;
  /** Core tasks retry for ever (and alert); the others go dead after their attempts. */
  core: boolean;
  maxAttempts: number;
  payload: Record<string, unknown>;
}

export type TaskStatus = 'pending' | 'running' | 'done' | 'dead';

/** What one run of a task ended in, as `finishTask` records it. */
export interface TaskOutcome {
  status: 'done' | 'pending' | 'dead';
  attempts: number;
  refusals?: number;
  lastError: string | null;
  nextRunAt: number | null;
  result?: Record<string, unknown>;
}

export interface TaskRecord extends TaskSpec {
  txnNo: string;
  status: TaskStatus;
  attempts: number;
  lastError: string | null;
  /** Epoch ms of the next run (pending), or null. */
  nextRunAt: number | null;
  /**
   * Times the callee refused the task. A refusal is an answer stored under its key, so the next
   * attempt asks under a new key (`task:r<n>`); a transport fault retries under the same key.
   */
  refusals: number;
  /** What a done task produced that a later task needs (the reward coupons issued, say). */
  result: Record<string, unknown> | null;
  updatedAt: number;
}

/** What a save writes: the record, plus the post-payment tasks the machine asked for (stored once each, never replaced). */
export type SaveRecord = Omit<TransactionRecord, 'version'> & { tasks: TaskSpec[] };

export type SaveResult = { ok: true; version: number } | { ok: false; conflict: true; actualVersion: number | null };

export interface DueTimer {
  txnNo: string;
  name: string;
  dueAt: number;
}

/** API.md: "Keys are kept at least 24 h". The default idempotency retention, ms. */
export const DEFAULT_IDEMPOTENCY_RETENTION_MS = 24 * 3_600_000;

/**
 * Who claims an idempotency key, and until when: a claim is a lease its owner (one id per
 * process) renews while the request runs. Once the lease has run out the owner is taken to be
 * gone (killed mid-request) and the next claim of the key takes the request over.
 */
export interface IdempotencyLease {
  /** The claiming process. */
  owner: string;
  /** The lease ends at this instant, epoch ms, unless renewed. */
  leaseUntil: number;
  /** Names this run of the request: the prefix of its commands' request ids (kept on takeover). */
  runId: string;
}

/** The outcome of claiming an idempotency key for a request. */
export type IdempotencyClaim =
  | { status: 'claimed' }
  /**
   * The key's owner let its lease run out (it died): the claim is now the caller's, with the run
   * id and the transaction the earlier run recorded, so the caller can pick its work up.
   */
  | { status: 'taken-over'; runId: string; txnNo: string | null }
  /** Another run holds the key under a live lease. */
  | { status: 'in-progress'; owner: string; leaseUntil: number }
  | { status: 'mismatch' }
  | { status: 'done'; response: StoredResponse };

export interface StoredResponse {
  statusCode: number;
  body: unknown;
}

/** A transaction not at rest whose last write is older than the sentinel's cutoff. */
export interface IdleTransaction {
  txnNo: string;
  version: number;
  state: string;
  updatedAt: number;
  working: boolean;
  timers: Record<string, number>;
  /** The sentinel already gave up on this version (needsAttention). */
  stuck: boolean;
}

/** Counts the metrics endpoint reads at scrape time. */
export interface StoreStats {
  /** Transactions by stored (top-level) state. */
  byState: Record<string, number>;
  /** Transactions waiting for a person: the machine's flag or a dead task. */
  needsAttention: number;
  /** Transactions not at rest and untouched since the `idleBefore` instant given. */
  idle: number;
}

/** A journal entry with the transaction it belongs to, in store order (for `trade tail`). */
export interface TxnJournalEntry extends StoredJournalEntry {
  txnNo: string;
}

/**
 * A transition as a store's feed of every process's saves carries it (see
 * {@link TransactionStore.follow}): a journal entry with its transaction, once stored.
 */
export interface FeedTransition extends JournalEntry {
  txnNo: string;
  /**
   * Where in the feed the save that stored it sits; every entry of that save carries the same
   * one, so following from it resumes after the whole save.
   */
  feedId: string;
  /** Its place among the transitions of its save, from 0 (see {@link FeedPosition.seen}). */
  feedIndex: number;
  /** How many transitions its save holds. */
  feedCount: number;
}

/** Where to resume the feed: after the save `feedId`, or inside it. */
export interface FeedPosition {
  feedId: string;
  /**
   * The first `seen` transitions of that save were had already (a reader cut off in the middle
   * of one): resume with the rest of it, then the saves after it. Absent: after the whole save.
   */
  seen?: number;
}

/**
 * Following could not resume where it was asked to: saves after that place may be missing from
 * the feed, so the follower is told instead of silently skipping them.
 */
export interface FeedGap {
  /**
   * `trimmed`: the place is older than the oldest save the capped feed keeps. `unknown`: the
   * feed holds no such place (an id of another deployment, or of a feed since deleted).
   */
  reason: 'trimmed' | 'unknown';
  /** Where following resumed instead: after the feed's latest save when the gap was found. */
  resumedAfter: string;
}

/** A follow of the feed (see {@link TransactionStore.follow}). */
export interface FeedFollow extends AsyncIterable<FeedTransition> {
  /** Set when following from a given place could not resume exactly there. */
  readonly gap: FeedGap | null;
}

export interface TransactionStore {
  /**
   * Writes the next version of a transaction atomically with its journal entries and timer rows.
   * `expectedVersion` 0 creates it. Compare-and-set: a stale writer gets a conflict, not a write.
   */
  save(record: SaveRecord, expectedVersion: number, journal: JournalEntry[]): Promise<SaveResult>;
  load(txnNo: string): Promise<TransactionRecord | null>;
  findTxnNoByOrderNo(orderNo: string): Promise<string | null>;
  /** Timers due at or before `nowMs`, oldest first. */
  dueTimers(nowMs: number, limit: number): Promise<DueTimer[]>;
  /** Transactions not at rest whose snapshot holds running work or a due timer. */
  needingWork(nowMs: number, limit: number): Promise<string[]>;
  journal(txnNo: string): Promise<StoredJournalEntry[]>;
  /**
   * Claims `key` for a request whose body hashes to `fingerprint` (API.md Idempotency-Key); the
   * record is created at `nowMs` and kept at least the store's idempotency retention. A running
   * claim whose lease ended before `nowMs` is taken over (`taken-over`), in one atomic step, so
   * that of two retries racing for it one wins.
   */
  claimIdempotencyKey(key: string, fingerprint: string, nowMs: number, lease: IdempotencyLease): Promise<IdempotencyClaim>;
  /** Extends `owner`'s running claim of `key` to `leaseUntil`; false when the claim is no longer its own. */
  renewIdempotencyKey(key: string, owner: string, leaseUntil: number): Promise<boolean>;
  /**
   * Records on `owner`'s running claim the number of what its request creates (a transaction, a
   * refund) before it is first stored, so a run that takes the key over finds it; false when the
   * claim is no longer its own.
   */
  noteIdempotencyTxn(key: string, owner: string, txnNo: string): Promise<boolean>;
  /**
   * Stores the answer of `owner`'s claim of `key`; a key no longer stored (released, expired) stays
   * absent, and one another run took over is left to that run.
   */
  completeIdempotencyKey(key: string, owner: string, response: StoredResponse): Promise<void>;
  /** Forgets `owner`'s running claim whose request failed before it changed anything, so a retry can run. */
  releaseIdempotencyKey(key: string, owner: string): Promise<void>;
  /**
   * Deletes at most `limit` idempotency records created before `olderThanMs` (epoch ms; a record
   * created at that instant stays) and returns how many it deleted; the caller repeats while a
   * full batch comes back. Records still `running` go too: no request runs for a whole retention,
   * so one that old was cut off by a crash and would otherwise answer 409 for ever.
   * The Redis store returns 0: each of its keys carries the retention as a TTL and Redis expires
   * it by itself.
   */
  purgeIdempotency(olderThanMs: number, limit: number): Promise<number>;
  /** Pending tasks due at or before `nowMs`, oldest first. */
  dueTasks(nowMs: number, limit: number): Promise<TaskRecord[]>;
  /** Marks a pending task running; false when another runner took it first. */
  claimTask(txnNo: string, task: string, nowMs: number): Promise<boolean>;
  /** Records the outcome of a run. */
  finishTask(
    txnNo: string,
    task: string,
    outcome: TaskOutcome,
    nowMs: number,
  ): Promise<void>;
  tasksOf(txnNo: string): Promise<TaskRecord[]>;
  /** One task of a transaction, or null (a scheduler's job runs one task: it need not read them all). */
  task(txnNo: string, task: string): Promise<TaskRecord | null>;
  /** A dead task back to pending with fresh attempts (manual retry); false when it is not dead. */
  reviveTask(txnNo: string, task: string, nowMs: number): Promise<boolean>;
  /** Tasks left `running` by a process that died: back to pending, to run again (safely: keyed). */
  requeueRunningTasks(nowMs: number): Promise<number>;
  /** Transactions for the admin list, newest first. */
  listTransactions(filter: { state?: string; needsAttention?: boolean; limit: number; before?: string }): Promise<{ txnNo: string; state: string; updatedAt: number }[]>;
  /** Sentinel: transactions not at rest last written at or before `updatedBefore`, oldest first. */
  idleTransactions(updatedBefore: number, limit: number): Promise<IdleTransaction[]>;
  /**
   * Sentinel: counts a nudge of `txnNo` seen at `version`; the count starts again once the
   * transaction has moved on. Returns the count, or 0 when the stored version is another.
   */
  recordNudge(txnNo: string, version: number): Promise<number>;
  /** Sentinel: flags the transaction (still at `version`) as stuck: listed with needsAttention. False when it moved on. */
  markStuck(txnNo: string, version: number): Promise<boolean>;
  /** Transactions flagged stuck that have not moved since. */
  stuckCount(): Promise<number>;
  /**
   * Counts for metrics; `idleBefore` is the epoch ms before which a transaction that is not at
   * rest and not `quoted` counts as idle. Optional: a backend without a cheap count omits it.
   */
  stats?(idleBefore: number): Promise<StoreStats>;
  /** The journal of every transaction after sequence number `afterSeq`, oldest first (for polling tails). */
  journalSince?(afterSeq: number, limit: number): Promise<TxnJournalEntry[]>;
  /** The highest journal sequence number so far (0 when empty): where a tail starts. */
  lastJournalSeq?(): Promise<number>;
  /**
   * Every transition stored from now on by any process sharing the store, in the order of the
   * saves, until `signal` aborts. Resolves once the starting point is fixed (`from`, a place a
   * reader got to; else the latest save in the feed), so every save that reaches the feed
   * afterwards is yielded. When the feed no longer holds what follows `from` (it is capped), the
   * result says so in `gap` and follows from the latest save instead. Live views only: a save
   * whose append failed is missing from the feed, while the transaction's journal stays the
   * record. Optional: a backend that one process owns (SQLite) omits it, and live views read its
   * journal back as the host stores saves.
   */
  follow?(signal: AbortSignal, from?: FeedPosition): Promise<FeedFollow>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
