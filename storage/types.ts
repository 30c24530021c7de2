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
  /** Durable timers armed by the machine: name → due epoch ms. */
  timers: Record<string, number>;
  createdAt: number;
  updatedAt: number;
}

export type SaveResult = { ok: true; version: number } | { ok: false; conflict: true; actualVersion: number | null };

export interface DueTimer {
  txnNo: string;
  name: string;
  dueAt: number;
}

/** The outcome of claiming an idempotency key for a request. */
export type IdempotencyClaim =
  | { status: 'claimed' }
  | { status: 'in-progress' }
  | { status: 'mismatch' }
  | { status: 'done'; response: StoredResponse };

export interface StoredResponse {
  statusCode: number;
  body: unknown;
}

export interface TransactionStore {
  /**
   * Writes the next version of a transaction atomically with its journal entries and timer rows.
   * `expectedVersion` 0 creates it. Compare-and-set: a stale writer gets a conflict, not a write.
   */
  save(record: Omit<TransactionRecord, 'version'>, expectedVersion: number, journal: JournalEntry[]): Promise<SaveResult>;
  load(txnNo: string): Promise<TransactionRecord | null>;
  findTxnNoByOrderNo(orderNo: string): Promise<string | null>;
  /** Timers due at or before `nowMs`, oldest first. */
  dueTimers(nowMs: number, limit: number): Promise<DueTimer[]>;
  /** Transactions not at rest whose snapshot holds running work or a due timer. */
  needingWork(nowMs: number, limit: number): Promise<string[]>;
  journal(txnNo: string): Promise<StoredJournalEntry[]>;
  /** Claims `key` for a request whose body hashes to `fingerprint` (API.md Idempotency-Key). */
  claimIdempotencyKey(key: string, fingerprint: string, nowMs: number): Promise<IdempotencyClaim>;
  completeIdempotencyKey(key: string, response: StoredResponse): Promise<void>;
  /** Forgets a claim whose request failed before it changed anything, so a retry can run. */
  releaseIdempotencyKey(key: string): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
