import type { TaskSpec } from '../machines/task-spec.ts';
import type { RoutingChange, RoutingTable } from '../domain/routing.ts';
import type { ShadowQuoteRecord } from '../domain/shadow-quote.ts';


/**
 * What the runtime needs from storage, one interface per concept (DESIGN.md "storage/"), bundled
 * as {@link Storage}. The SQLite backend (embedded default) and the Redis backend (scale-out)
 * implement every one of them and pass the same conformance suite. Stores know records, not
 * statecharts (DESIGN.md rule 9): what they index comes in the save record.
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

/** What the admin list asks of the store. */
export interface ListFilter {
  state?: string;
  needsAttention?: boolean;
  /** Only these merchants' transactions (a key limited to them, API.md "Auth"); absent: every merchant. */
  merchantIds?: string[];
  limit: number;
  /** Page on: transactions numbered below this one. */
  before?: string;
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
  /**
   * Since when the transaction is final (DOMAIN.md "Archive": completed, cancelled or failed, and
   * no refund, give-back, query or timer of it still running), epoch ms; null while it is not.
   * Derived by the host; the archiver takes transactions final for longer than the quiet period.
   */
  finalAt: number | null;
  createdAt: number;
  updatedAt: number;
}

/** A transaction final since `finalAt`, as {@link SnapshotStore.finalTransactions} lists it. */
export interface FinalTransaction {
  txnNo: string;
  version: number;
  finalAt: number;
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

/**
 * What a save writes: the record, plus the post-payment tasks the machine asked for since the
 * last stored save (issue 21: their specs live in the task rows, not in the snapshot) and the OS
 * order events the host derived from it (each stored once, never replaced; one already stored is
 * left as it is).
 */
export type SaveRecord = Omit<TransactionRecord, 'version'> & { tasks: TaskSpec[]; osEvents: OsEventSpec[] };

/** The kinds of order event the OS is told of (issue 20, "OS order sync"). */
export type OsEventKind = 'placed' | 'paid' | 'refunded' | 'cancelled';

/**
 * One order event as the host derives it from a transaction (runtime/os-events.ts): the store
 * numbers it the first time a save lists it, and ignores it every time after.
 */
export interface OsEventSpec {
  /** Unique for ever: `orderNo:kind` or `orderNo:refunded:refundNo`. */
  eventId: string;
  orderNo: string;
  kind: OsEventKind;
  /** What the OS keeps of the event (amounts in fen, lines, legs). */
  payload: Record<string, unknown>;
}

/** An order event in a station's outbox. */
export interface OsEvent extends OsEventSpec {
  txnNo: string;
  stationId: string;
  /** 1, 2, … per order, in the order the saves recorded them. */
  eventSeq: number;
  /** 1, 2, … per station, in the order the saves recorded them. */
  stationSeq: number;
  /** Epoch ms of the save that recorded it. */
  at: number;
}

/** Where a station's delivery stands. */
export interface OsCursor {
  stationId: string;
  /** Last station sequence the OS acknowledged (0: none yet). */
  deliveredSeq: number;
  /** Epoch ms of that acknowledgement, or null. */
  deliveredAt: number | null;
  /** Highest station sequence recorded. */
  headSeq: number;
  /** Events recorded and not yet delivered (`headSeq - deliveredSeq`). */
  pending: number;
}

/** A change of a station group's OS switch, as journalled. */
export interface OsGroupChange {
  seq: number;
  group: string;
  readsOnline: boolean;
  by: string;
  at: number;
}

/**
 * The per-station outbox of order events for OS (issue 20). Events are written by
 * {@link SnapshotStore.save} with the snapshot that records them, so a crash neither loses nor
 * invents one; the delivery loop reads them in station order and moves each station's cursor.
 */
export interface OsOutbox {
  /** Every station that has events, with its cursor, by station id. */
  cursors(): Promise<OsCursor[]>;
  cursor(stationId: string): Promise<OsCursor>;
  /** The station's events after station sequence `afterSeq`, in order, at most `limit`. */
  events(stationId: string, afterSeq: number, limit: number): Promise<OsEvent[]>;
  /** Moves the cursor from `fromSeq` to `toSeq` (compare-and-set); false when it was not at `fromSeq`. */
  advance(stationId: string, fromSeq: number, toSeq: number, nowMs: number): Promise<boolean>;
  /**
   * Puts the cursor back before the station's first event recorded at or after `fromMs` (a
   * resync); never forward. Returns the new delivered sequence.
   */
  rewind(stationId: string, fromMs: number): Promise<number>;
  /** The groups switched to reading the online orders. */
  readsOnlineGroups(): Promise<string[]>;
  /** Sets a group's switch and journals the change. */
  setGroup(group: string, readsOnline: boolean, by: string, nowMs: number): Promise<OsGroupChange>;
  /** The latest `limit` switch changes, newest first. */
  groupChanges(limit: number): Promise<OsGroupChange[]>;
  /**
   * Finishes the publishing of events a crash interrupted (a backend that stores them in two
   * steps: Redis); returns how many transactions it looked at (0 where a save is one step).
   */
  repair(limit: number): Promise<number>;
  /**
   * Lets go of a station's oldest events that OS has taken and that were recorded before
   * `recordedBefore` (the resync window), at most `limit`, oldest first and never past the first
   * one kept, so what stays is the station's sequence from some point on; returns how many went.
   * Undelivered events are never dropped, and a rewind goes back no further than the oldest kept.
   * Every backend drops them (the outbox holds the resync window, not the history); what numbers
   * a hot transaction's events is kept apart from the station's copy, so none is numbered twice.
   */
  trim(stationId: string, recordedBefore: number, limit: number): Promise<number>;
  /**
   * Takes the station's delivery lease for `owner` until `untilMs`, or renews it when `owner`
   * holds it: true when `owner` holds it now; false while another owner's runs (its until is
   * after `nowMs`). Times are the callers' clock (the runtime's Clock), as the periodic turns'.
   * One deliverer per station across the processes sharing the storage.
   */
  leaseStation(stationId: string, owner: string, nowMs: number, untilMs: number): Promise<boolean>;
  /** Lets go of `owner`'s lease on the station; another owner's is left as it is. */
  releaseStation(stationId: string, owner: string): Promise<void>;
}

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

/**
 * A transition as the feed of every process's saves carries it (see {@link TransitionFeed}): a
 * journal entry with its transaction, once stored.
 */
export interface FeedTransition extends JournalEntry {
  txnNo: string;
  /**
   * Where the feed stands once this transition was had: following from it resumes with the next
   * one. Opaque: issued by the backend, handed back to it, never parsed by a caller.
   */
  cursor: string;
}

/**
 * Following could not resume where it was asked to: transitions after that place may be missing
 * from the feed, so the follower is told instead of silently skipping them.
 */
export interface FeedGap {
  /**
   * `trimmed`: the place is older than the oldest one the (capped) feed keeps. `unknown`: the
   * feed issued no such cursor (one of another deployment, of a feed since deleted, or no cursor
   * of this backend at all).
   */
  reason: 'trimmed' | 'unknown';
  /** The cursor following resumed from instead: the feed's latest place when the gap was found. */
  resumedAfter: string;
}

/** A follow of the feed (see {@link TransitionFeed.follow}). */
export interface FeedFollow extends AsyncIterable<FeedTransition> {
  /** Set when following from a given cursor could not resume exactly there. */
  readonly gap: FeedGap | null;
}

/** Snapshots: each transaction's latest version, written by compare-and-set, and what finds it. */
export interface SnapshotStore {
  /**
   * Writes the next version of a transaction atomically with its journal entries, timers and new
   * tasks. `expectedVersion` 0 creates it. Compare-and-set: a stale writer gets a conflict, not a write.
   * A transaction kept as a quote record (see {@link QuoteRecords}) is at the record's version:
   * a save expecting that version creates the snapshot at the next one and deletes the quote
   * record, in the same atomic step.
   */
  save(record: SaveRecord, expectedVersion: number, journal: JournalEntry[]): Promise<SaveResult>;
  load(txnNo: string): Promise<TransactionRecord | null>;
  findTxnNoByOrderNo(orderNo: string): Promise<string | null>;
  /** Timers due at or before `nowMs`, oldest first. */
  dueTimers(nowMs: number, limit: number): Promise<DueTimer[]>;
  /** Transactions not at rest whose snapshot holds running work or a due timer. */
  needingWork(nowMs: number, limit: number): Promise<string[]>;
  /**
   * Transactions final at or before `finalBefore` (see {@link TransactionRecord.finalAt}), longest
   * final first, after the place `after` (a txnNo this call listed at the same `finalAt`, or null).
   */
  finalTransactions(finalBefore: number, limit: number, after: FinalTransaction | null): Promise<FinalTransaction[]>;
  /**
   * Deletes an archived transaction from the hot store (snapshot, journal, timers, tasks, sentinel
   * rows, index entries) if it is still at `version`, in one atomic step; false when it moved on
   * (it stays, to be archived again once final) or is gone.
   */
  removeArchived(txnNo: string, version: number): Promise<boolean>;
  /**
   * Puts an archived transaction back into the hot store at its archived version, with its journal
   * and task records as archived (a refund of an archived sale), unless the transaction is stored
   * already: a create by compare-and-set, so of two processes racing to rehydrate one puts it.
   * True when this call did.
   */
  reinstate(record: TransactionRecord, journal: StoredJournalEntry[], tasks: TaskRecord[]): Promise<boolean>;
  /**
   * Takes the archiver's turn for `periodMs`: true for one caller a period across the processes
   * sharing the storage (always true where one process owns it).
   */
  claimArchiveScan(periodMs: number): Promise<boolean>;
}

/**
 * A transaction that is only quoted (issue 21): never ordered, cancelled or otherwise moved on, it
 * is kept as one quote record instead of a snapshot, until its quote's validity plus a margin.
 * Like a snapshot it is opaque to the store (DESIGN.md rule 9): the host restores the quoted
 * transaction from `snapshot` when it is ordered, and reads its view from it meanwhile.
 */
export interface QuoteRecord {
  txnNo: string;
  /** Compare-and-set version; the transaction's first snapshot continues from it (see {@link SnapshotStore.save}). */
  version: number;
  merchantId: string;
  stationId: string;
  /** The quoted transaction's persisted snapshot, as JSON. */
  snapshot: unknown;
  stateValue: unknown;
  /** Kept until this instant (epoch ms): the quote's expiry plus a margin. Swept or expired after. */
  keepUntil: number;
  createdAt: number;
  updatedAt: number;
}

/** What {@link QuoteRecords.save} writes. */
export type SaveQuote = Omit<QuoteRecord, 'version'>;

/** Quote records (issue 21): quoted-only transactions, without a snapshot. */
export interface QuoteRecords {
  /**
   * Writes the next version of a quote record atomically with its journal entries (the
   * transaction's journal, as a snapshot save writes it). `expectedVersion` 0 creates it.
   * Compare-and-set: a stale writer gets a conflict, and so does any write once the transaction
   * has a snapshot (it was ordered: the record is gone).
   */
  save(record: SaveQuote, expectedVersion: number, journal: JournalEntry[]): Promise<SaveResult>;
  load(txnNo: string): Promise<QuoteRecord | null>;
  /**
   * Deletes at most `limit` records kept until before `nowMs`, with their journals (they were
   * never ordered), and returns how many; the caller repeats while a full batch comes back. A
   * backend whose records expire by themselves (Redis TTLs) returns 0.
   */
  sweep(nowMs: number, limit: number): Promise<number>;
}

/** The transition journal (DESIGN.md rule 8): every transition of a transaction, the record audits read. */
export interface Journal {
  /** One transaction's journal, oldest first (written by {@link SnapshotStore.save}). */
  entries(txnNo: string): Promise<StoredJournalEntry[]>;
}

/** Live transitions of every process sharing the storage, resumable from a cursor. */
export interface TransitionFeed {
  /**
   * Every transition stored from now on (or after `after`, a {@link FeedTransition.cursor} a
   * follower had) by any process sharing the storage, in the order of the saves, until `signal`
   * aborts. Resolves once the starting point is fixed, so every save stored afterwards is
   * yielded. When the feed cannot resume exactly after `after` (it is capped, or the cursor is
   * none it issued), `gap` says so and following starts at the latest place instead. Live views
   * only: a backend may miss a save whose feed append failed; the journal stays the record.
   */
  follow(signal: AbortSignal, after?: string): Promise<FeedFollow>;
  /** A regular expression (source) every cursor this feed issues matches: what a caller may validate input with. */
  readonly cursorPattern: string;
}

/** API.md Idempotency-Key records: one claim per key, leased by the process that runs it. */
export interface IdempotencyRecords {
  /**
   * Claims `key` for a request whose body hashes to `fingerprint`; the record is created at
   * `nowMs` and kept at least the storage's idempotency retention. A running claim whose lease
   * ended before `nowMs` is taken over (`taken-over`), in one atomic step, so that of two retries
   * racing for it one wins.
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
   * Deletes at most `limit` records created before `olderThanMs` (epoch ms; a record created at
   * that instant stays) and returns how many it deleted; the caller repeats while a full batch
   * comes back. Records still `running` go too: no request runs for a whole retention, so one
   * that old was cut off by a crash and would otherwise answer 409 for ever. A backend whose
   * records expire by themselves (Redis TTLs) returns 0.
   */
  purgeIdempotency(olderThanMs: number, limit: number): Promise<number>;
}

/** Post-payment tasks, stored by {@link SnapshotStore.save} and run by the task runner. */
export interface TaskStore {
  /** Pending tasks due at or before `nowMs`, oldest first. */
  dueTasks(nowMs: number, limit: number): Promise<TaskRecord[]>;
  /** Marks a pending task running; false when another runner took it first. */
  claimTask(txnNo: string, task: string, nowMs: number): Promise<boolean>;
  /**
   * A scheduler's job starting one task (issue 21: one round trip, not a read and then a claim):
   * the task as it stood, null when there is none; a pending one is marked running in the same
   * step (`claimed`), a task in any other status is left as it is.
   */
  startTask(txnNo: string, task: string, nowMs: number): Promise<{ task: TaskRecord; claimed: boolean } | null>;
  /** Records the outcome of a run. */
  finishTask(txnNo: string, task: string, outcome: TaskOutcome, nowMs: number): Promise<void>;
  tasksOf(txnNo: string): Promise<TaskRecord[]>;
  /** One task of a transaction, or null (a scheduler's job runs one task: it need not read them all). */
  task(txnNo: string, task: string): Promise<TaskRecord | null>;
  /** A dead task back to pending with fresh attempts (manual retry); false when it is not dead. */
  reviveTask(txnNo: string, task: string, nowMs: number): Promise<boolean>;
  /** Tasks left `running` by a process that died: back to pending, to run again (safely: keyed). */
  requeueRunningTasks(nowMs: number): Promise<number>;
}

/** What the sentinel's scan for stuck transactions reads and writes. */
export interface SentinelIndex {
  /**
   * Takes the scan's turn for `periodMs`: true for one caller a period across the processes
   * sharing the storage (always true where one process owns it).
   */
  claimScan(periodMs: number): Promise<boolean>;
  /**
   * Repairs index entries that writes interrupted by a crash left (older than a few seconds at
   * `nowMs`); returns how many transactions it reindexed. A backend that indexes atomically with
   * the write has nothing to repair and returns 0.
   */
  repairIndexes(nowMs: number): Promise<number>;
  /** Transactions not at rest last written at or before `updatedBefore`, oldest first. */
  idleTransactions(updatedBefore: number, limit: number): Promise<IdleTransaction[]>;
  /**
   * Counts a nudge of `txnNo` seen at `version`; the count starts again once the transaction has
   * moved on. Returns the count, or 0 when the stored version is another.
   */
  recordNudge(txnNo: string, version: number): Promise<number>;
  /** Flags the transaction (still at `version`) as stuck: listed with needsAttention. False when it moved on. */
  markStuck(txnNo: string, version: number): Promise<boolean>;
  /** Transactions flagged stuck that have not moved since. */
  stuckCount(): Promise<number>;
}

/** The admin list and the counts metrics read at scrape time. */
export interface AdminQueries {
  /** Transactions for the admin list, newest first; see {@link ListFilter}. */
  listTransactions(filter: ListFilter): Promise<{ txnNo: string; state: string; updatedAt: number }[]>;
  /**
   * Counts for metrics; `idleBefore` is the epoch ms before which a transaction that is not at
   * rest and not `quoted` counts as idle.
   */
  stats(idleBefore: number): Promise<StoreStats>;
  /**
   * The archiver's backlog for metrics: final transactions still in the hot store that became
   * final at or before `finalBefore` (past their quiet period), and the oldest `finalAt` of any.
   */
  finalBacklog(finalBefore: number): Promise<FinalBacklog>;
}

/** What {@link AdminQueries.finalBacklog} counts. */
export interface FinalBacklog {
  /** Final transactions in the hot store final at or before the instant asked about. */
  count: number;
  /** The earliest `finalAt` of a final transaction in the hot store, or null when there is none. */
  oldestFinalAt: number | null;
}

/** Where an order was taken: on this platform, or imported from OS's history (issue 20). */
export type OrderOrigin = 'platform' | 'os-import';

/** The API state of a final transaction (DOMAIN.md "Archive": only final transactions are archived). */
export type OrderState = 'completed' | 'cancelled' | 'failed';

/** One payment leg of an {@link OrderRow}. */
export interface OrderLeg {
  legNo: number;
  /** Our payment number: the merchant order number the channel echoes (reconciliation matches on it). */
  paymentNo: string;
  /** Payment method (`wechat`, `alipay`, `unionpay`, `stored_value`, …). */
  method: string;
  amountFen: number;
  /** The leg's API status (`succeeded`, `refunded`, `failed`, `closed`, …). */
  status: string;
  /** The channel's transaction id, once the channel gave one. */
  channelTradeNo: string | null;
  /** The stored-value card paid from, for card legs. */
  cardNo: string | null;
  /** When the money was captured (epoch ms); null for a leg that never captured: it is no movement. */
  capturedAt: number | null;
}

/** One leg of a refund of an {@link OrderRow}: money given back through one payment leg. */
export interface OrderRefundLeg {
  /** Our refund-leg number, the number the channel's bill lists the refund under. */
  refundLegNo: string;
  /** The payment leg refunded. */
  paymentNo: string;
  method: string;
  amountFen: number;
  status: string;
  /** When the channel accepted the refund (epoch ms); null while it did not: it is no movement. */
  refundedAt: number | null;
}

/** One refund of an {@link OrderRow}. */
export interface OrderRefund {
  refundNo: string;
  amountFen: number;
  status: string;
  /** Epoch ms. */
  requestedAt: number;
  legs: OrderRefundLeg[];
}

/**
 * The flat row of an archived order, what queries and sums read (DOMAIN.md "Archive"). Derived by
 * the host from the final transaction (the archive never reads the snapshot, DESIGN.md rule 9).
 * Times are epoch ms.
 */
export interface OrderRow {
  txnNo: string;
  orderNo: string | null;
  origin: OrderOrigin;
  /** OS's own order number: an imported order's, or the one OS gave a synced platform order. */
  osOrderNo: string | null;
  merchantId: string;
  stationId: string;
  scene: string;
  userId: string | null;
  state: OrderState;
  originalAmountFen: number;
  discountAmountFen: number;
  payableAmountFen: number;
  paidAmountFen: number;
  refundedAmountFen: number;
  legs: OrderLeg[];
  refunds: OrderRefund[];
  createdAt: number;
  paidAt: number | null;
  finishedAt: number;
}

/** What one archived transaction consists of: its flat row, its final snapshot (with version) and its journal. */
export interface ArchiveEntry {
  row: OrderRow;
  /** The final record as the hot store held it; `record.version` decides which of two archivings wins. */
  record: TransactionRecord;
  /** The whole journal, oldest first, with the seq numbers the hot store gave it. */
  journal: StoredJournalEntry[];
  /**
   * The transaction's post-payment tasks as stored (all done: only a final transaction is
   * archived). A refund after archiving needs them back: a reversal task reads what its forward
   * task produced (`campaign-reverse` the reward coupons `campaign` issued), and a task already
   * done must not run again.
   */
  tasks: TaskRecord[];
}

/** What {@link OrderArchive.put} did. */
export interface ArchivePutResult {
  /** Entries written (new, or replacing an older version). */
  written: number;
  /** Entries left alone: already archived at the same or a newer version. */
  skipped: number;
}

/**
 * Which archived orders a query reads (API.md `GET /admin/orders`). An absent field does not
 * filter; all given fields must hold.
 */
export interface OrderFilter {
  /** Only these merchants' orders (a key limited to them, API.md "Auth"); absent: every merchant. An empty list matches nothing. */
  merchantIds?: string[];
  stationId?: string;
  scene?: string;
  state?: OrderState;
  /** Orders with at least one payment leg of this method. */
  method?: string;
  origin?: OrderOrigin;
  /** The order imported from OS with this OS order number (DOMAIN.md: found by the OS number); unique per station, so asked with `stationId`. */
  osOrderNo?: string;
  /** createdAt at or after this instant (epoch ms). */
  fromMs?: number;
  /** createdAt before this instant (epoch ms): `[fromMs, toMs)`. */
  toMs?: number;
}

/** A page of {@link OrderArchive.search}. */
export interface OrderPage {
  rows: OrderRow[];
  /** Hand back for the next page; null when this page is the last. Opaque, issued by the backend. */
  nextCursor: string | null;
}

/** What {@link OrderArchive.summary} groups by: the China-time day of createdAt, the station, the payment method. */
export type OrderGroupKey = 'day' | 'station' | 'method';

/**
 * One group of {@link OrderArchive.summary}. A key not grouped by is null. Grouped by method, an
 * order counts in the group of each method it has a leg of, its order-level amounts (original,
 * discount, payable) are summed in each of them, and `paidAmountFen` / `refundedAmountFen` are the
 * method's own: its legs captured (capturedAt set) and its refund legs refunded (refundedAt set).
 */
export interface OrderSummaryRow {
  /** `YYYY-MM-DD`, the China-time (UTC+8) date of createdAt. */
  day: string | null;
  stationId: string | null;
  method: string | null;
  count: number;
  originalAmountFen: number;
  discountAmountFen: number;
  payableAmountFen: number;
  paidAmountFen: number;
  refundedAmountFen: number;
}

/**
 * One money movement of a channel (reconciliation, issue 19): a payment leg captured or a refund
 * leg refunded.
 */
export interface OrderMovement {
  kind: 'payment' | 'refund';
  txnNo: string;
  merchantId: string;
  stationId: string;
  method: string;
  /** The payment leg (of a refund: the leg refunded). */
  paymentNo: string;
  /** The refund leg, for a refund; null for a payment. */
  refundLegNo: string | null;
  amountFen: number;
  /** The channel's transaction id of the payment leg (a refund's: of the leg it refunds). */
  channelTradeNo: string | null;
  /** capturedAt of a payment, refundedAt of a refund (epoch ms). */
  at: number;
}

/** How much the archive holds (checks, metrics). */
export interface ArchiveCounts {
  orders: number;
  journalEntries: number;
}

/**
 * The order archive (DOMAIN.md "Archive"): where final transactions live once they left the hot
 * store. A table in the SQLite file embedded, PostgreSQL in scale-out (`TRADE_ARCHIVE_URL`).
 */
export interface OrderArchive {
  /**
   * False where there is no archive (Redis without `TRADE_ARCHIVE_URL`): `put` refuses, reads find
   * nothing, and nothing may leave the hot store.
   */
  readonly enabled: boolean;
  /**
   * Archives the entries in ONE archive transaction: all of them or, when one fails, none.
   * Idempotent: an entry whose transaction is archived at the same or a newer record version is
   * left alone; one archived at an older version is replaced, row, snapshot and journal (a refund
   * after archiving archives the transaction again). Of one txnNo given twice the newer version wins.
   */
  put(entries: ArchiveEntry[]): Promise<ArchivePutResult>;
  /** One archived transaction, or null. */
  get(txnNo: string): Promise<ArchiveEntry | null>;
  findTxnNoByOrderNo(orderNo: string): Promise<string | null>;
  /** The transaction of an OS order number at a station (imported or synced orders). */
  findTxnNoByOsOrderNo(stationId: string, osOrderNo: string): Promise<string | null>;
  /**
   * Rows matching `filter`, newest first (createdAt, then txnNo, descending), at most `limit`,
   * after `cursor` (a {@link OrderPage.nextCursor}; null: from the newest). Keyset-paginated: a
   * row present when the listing started is on exactly one page, whatever is archived meanwhile.
   * A cursor this backend did not issue is refused (RangeError).
   */
  search(filter: OrderFilter, limit: number, cursor: string | null): Promise<OrderPage>;
  /** Counts and sums of the rows matching `filter`, one row per group of `groupBy` (none: one row of totals). */
  summary(filter: OrderFilter, groupBy: OrderGroupKey[]): Promise<OrderSummaryRow[]>;
  /**
   * The legs of `method` captured and its refund legs refunded at or after `fromMs` and before
   * `toMs`, oldest first (reconciliation of one channel day).
   */
  movements(method: string, fromMs: number, toMs: number): AsyncIterable<OrderMovement>;
  counts(): Promise<ArchiveCounts>;
  /** Fails when the backend does not answer (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Every storage concept of one deployment, over one shared connection or file; built once by `createTradeCenter`. */
export interface Storage {
  snapshots: SnapshotStore;
  quotes: QuoteRecords;
  journal: Journal;
  feed: TransitionFeed;
  idempotency: IdempotencyRecords;
  tasks: TaskStore;
  sentinel: SentinelIndex;
  admin: AdminQueries;
  /**
   * Where final transactions go after their quiet period (DOMAIN.md "Archive"): a table in the
   * SQLite file embedded, PostgreSQL beside Redis (`TRADE_ARCHIVE_URL`); a disabled one
   * (`enabled` false) on Redis without it.
   */
  archive: OrderArchive;
  /** Shadow quotes (issue 20): the platform's quote beside the old system's, for the rollout's report. */
  shadowQuotes: ShadowQuotes;
  /** The OS order events per station (issue 20), written by the snapshot saves. */
  osOutbox: OsOutbox;
  /**
   * The reconciliation's runs and discrepancies (issue 19): tables of the SQLite file embedded;
   * in scale-out PostgreSQL beside the archive (`TRADE_ARCHIVE_URL`), else Redis.
   */
  reconciliation: ReconciliationRecords;
  /** Fails when the backend does not answer (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** What {@link CallbackNonces.remember} found. */
export type NonceSighting =
  /** First seen: remembered now. */
  | 'new'
  /** Seen before with the same body: the gateway delivered the same callback again. */
  | 'duplicate'
  /** Seen before with another body: a replayed nonce on a forged or altered callback. */
  | 'conflict';

/**
 * The nonces of signed callbacks seen inside the signature window (API.md Conventions:
 * callbacks), shared by every process on the store. A nonce needs remembering only until its
 * timestamp leaves the window: after that the signature check refuses it by itself.
 */
export interface CallbackNonces {
  /**
   * Remembers `nonce` with the hash of its body until `expiresAt` (epoch ms), in one atomic step,
   * unless it is already remembered (and not expired at `nowMs`): then says whether that was the
   * same body.
   */
  remember(nonce: string, bodySha256: string, nowMs: number, expiresAt: number): Promise<NonceSighting>;
  /**
   * Forgets `nonce` if it is still remembered with this body: its delivery failed before it had
   * any effect, so the gateway's retry must count as a first delivery, not as a duplicate.
   */
  forget(nonce: string, bodySha256: string): Promise<void>;
  close(): Promise<void>;
}

/** Where a discrepancy stands (issue 19): found, fixed by the reconciler, or decided by a person. */
export type DiscrepancyStatus = 'open' | 'auto-fixed' | 'resolved';

/** A discrepancy as the reconciliation records keep it, with its evidence and its fate. */
export interface StoredDiscrepancy {
  /** Deterministic, `<channel>:<day>:<kind>:<ref>`: a re-run finds the same one again, not a new one. */
  id: string;
  channel: string;
  day: string;
  kind: string;
  /** The payment leg or refund leg number both sides share. */
  ref: string;
  txnNo: string | null;
  /** Both sides' rows (the matcher's Discrepancy without its key fields), as JSON-able data. */
  evidence: Record<string, unknown>;
  status: DiscrepancyStatus;
  /** Who fixed or decided it, and why; null while open. */
  resolution: { by: string; accept?: 'channel' | 'platform'; note: string; at: number } | null;
  foundAt: number;
}

/** One run of a channel day: when, what both sides totalled, and what it hands the next day. */
export interface ReconciliationRun {
  channel: string;
  day: string;
  ranAt: number;
  /** The matcher's totals (MatchTotals) and carry-over (CarryOver), as JSON-able data. */
  totals: Record<string, number>;
  carry: Record<string, unknown>;
}

/**
 * The reconciliation records (issue 19): runs per channel and day, and the discrepancies found,
 * each kept until it is fixed or a person resolves it. In the SQLite file embedded; in scale-out
 * PostgreSQL beside the order archive, or Redis where there is no archive.
 */
export interface ReconciliationRecords {
  /**
   * Records a run (replacing the day's previous run) and the discrepancies it found: one already
   * recorded (same id) is left as it stands, whatever its status. Returns the ids newly added.
   */
  saveRun(run: ReconciliationRun, found: Omit<StoredDiscrepancy, 'status' | 'resolution'>[]): Promise<string[]>;
  run(channel: string, day: string): Promise<ReconciliationRun | null>;
  /** The day's discrepancies, oldest found first (then by id). */
  discrepancies(channel: string, day: string): Promise<StoredDiscrepancy[]>;
  get(id: string): Promise<StoredDiscrepancy | null>;
  /**
   * Closes an open discrepancy (`auto-fixed` or `resolved`) with who and why. Returns it as it now
   * stands; null when there is no such one. One already closed is returned unchanged (exactly once).
   */
  settle(id: string, status: Exclude<DiscrepancyStatus, 'open'>, resolution: NonNullable<StoredDiscrepancy['resolution']>): Promise<StoredDiscrepancy | null>;
  close(): Promise<void>;
}

/** What {@link RoutingStore.change} did: stored the change, or found another change made first. */
export type RoutingChangeResult = { ok: true; change: RoutingChange } | { ok: false; conflict: true; actualSeq: number };

/**
 * The routing table (domain/routing.ts) and the journal of its changes, a small concept beside
 * the transaction stores: every process sharing the storage reads the same table, and every
 * change is recorded with who made it, when, and the table before and after.
 */
export interface RoutingStore {
  /** The current table and the number of the change that made it; null when it was never set. */
  current(): Promise<{ table: RoutingTable; seq: number } | null>;
  /**
   * Makes `change.after` the table and journals the change as number `expectedSeq + 1`, in one
   * atomic step, when the current change number is still `expectedSeq` (0: never set); otherwise
   * changes nothing (another process changed it first: read again and decide again).
   */
  change(expectedSeq: number, change: Omit<RoutingChange, 'seq'>): Promise<RoutingChangeResult>;
  /** The latest `limit` changes, newest first. */
  history(limit: number): Promise<RoutingChange[]>;
  close(): Promise<void>;
}

/**
 * Which shadow quotes a report reads. Every field is given; null does not filter. Times are the
 * old system's quote times (`quotedAtMs`), `[fromMs, toMs)`.
 */
export interface ShadowFilter {
  /** Only these merchants' quotes (a key limited to them); null: every merchant. An empty list matches nothing. */
  merchantIds: string[] | null;
  stationId: string | null;
  scene: string | null;
  fromMs: number | null;
  toMs: number | null;
}

/** How often the two systems agreed at one station for one scene. */
export interface ShadowAgreementRow {
  stationId: string;
  scene: string;
  total: number;
  agreeing: number;
}

/** A page of {@link ShadowQuotes.differences}. */
export interface ShadowDifferencePage {
  records: ShadowQuoteRecord[];
  /** Hand back for the next page; null when this page is the last. Opaque, issued by the backend. */
  nextCursor: string | null;
}

/**
 * The shadow quotes (issue 20): one record per quote the platform made beside the old system's,
 * with both results and whether they agree. Kept beside the transaction stores: a shadow quote
 * is no transaction, locks nothing and has no snapshot.
 */
export interface ShadowQuotes {
  /**
   * Stores the record, durably, unless one with its `shadowId` is stored already (a retry of the
   * same request): true when this call stored it, false when it left the stored one as it was.
   */
  put(record: ShadowQuoteRecord): Promise<boolean>;
  get(shadowId: string): Promise<ShadowQuoteRecord | null>;
  /** Counts of the records matching `filter` per station and scene, ordered by station, then scene. */
  agreement(filter: ShadowFilter): Promise<ShadowAgreementRow[]>;
  /**
   * The records matching `filter` that do not agree, oldest first (quotedAtMs, then shadowId), at
   * most `limit`, after `cursor` (a {@link ShadowDifferencePage.nextCursor}; null: from the
   * oldest). Keyset-paginated; a cursor no shadow store issued is refused (RangeError).
   */
  differences(filter: ShadowFilter, limit: number, cursor: string | null): Promise<ShadowDifferencePage>;
  /**
   * Deletes at most `limit` records quoted before `olderThanMs`, oldest first, with their index
   * entries; returns how many it deleted (fewer than `limit`: none older is left). The shadow phase
   * of a scene lasts weeks; its records are evidence for the switch to `live`, not history to keep.
   */
  purgeOlderThan(olderThanMs: number, limit: number): Promise<number>;
}
