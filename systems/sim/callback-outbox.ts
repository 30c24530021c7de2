import { randomUUID } from 'node:crypto';
import { SIGNATURE_HEADERS, sign } from '../../domain/signature.ts';
import type { Clock, SimStore } from './store.ts';

/** Where callbacks go and how they are signed; changeable at run time. */
export interface CallbackTarget {
  /** e.g. `http://127.0.0.1:3000`; a callback's path is appended. */
  baseUrl: string;
  secret: string;
}

/** One callback to send: its raw body is sent (and signed) exactly as given. */
export interface OutgoingCallback {
  /** The payment it is about (a refund callback names its refund's payment). */
  paymentNo: string;
  /** The refund it is about; absent for a payment callback. */
  refundNo?: string;
  /** Path below the target's base URL, e.g. `/v1/callbacks/payments/wechat`. */
  path: string;
  /** The channel's format: JSON or form-urlencoded. */
  contentType: string;
  body: string;
}

/** Hooks of the gateway into the delivery loop. */
export interface OutboxHooks {
  /**
   * Runs at the start of every pass, before due rows are read, so that callbacks it enqueues go
   * out in the same pass (the gateway settles due refunds here). Returns the epoch ms at which it
   * next wants a pass, or null.
   */
  beforePass?: () => number | null;
  /** Asked every pass: true delivers that pass's due rows newest-first, one after another. */
  reverseOrder?: () => boolean;
  /**
   * Sends one signed callback and tells its HTTP status; real `fetch` by default. The simulation
   * hands it to the platform's app in the same process (and fails it while the platform is down).
   */
  transport?: CallbackTransport;
  /** The signature nonce; random by default, seeded in the simulation so a run replays. */
  nonce?: () => string;
}

/** Delivers one callback: resolves to the receiver's status, rejects on a transport failure. */
export type CallbackTransport = (url: string, request: { headers: Record<string, string>; body: string; signal: AbortSignal }) => Promise<number>;


/** One persisted callback of the payment gateway. */
export interface OutboxRow {
  id: number;
  paymentNo: string;
  refundNo: string | null;
  /** Path below the target's base URL, e.g. `/v1/callbacks/payments/wechat`. */
  path: string;
  contentType: string;
  body: string;
  /** Headers of the last attempt (JSON), null before the first. */
  headers: string | null;
  lastUrl: string | null;
  /** Epoch ms (injected clock) when the next attempt is due. */
  dueAt: number;
  attempts: number;
  deliveredAt: number | null;
  lastError: string | null;
}

/** Attempts retried quickly: 200 ms, 400 ms, 800 ms … capped at 5 s, about half a minute in all. */
const QUICK_ATTEMPTS = 10;
/**
 * The waits after those, as a real gateway backs off (WeChat Pay notifies for about a day: 15 s,
 * 15 s, 30 s, 3 min, 10 min, 20 min, 30 min … 3 h, 6 h): the last one repeats.
 */
const SLOW_RETRIES_MS = [15_000, 30_000, 180_000, 600_000, 1_200_000, 1_800_000, 3_600_000, 3 * 3_600_000, 6 * 3_600_000];

/**
 * The wait before the next attempt after `attempts` refused ones: quick at first (a receiver that
 * was restarting takes it within half a minute), then slower and slower, so that a callback the
 * receiver refuses for good (an amount that does not match its record: 422) is not sent again
 * every 5 s for as long as the gateway runs.
 */
export function retryDelayMs(attempts: number): number {
  if (attempts <= QUICK_ATTEMPTS) return Math.min(200 * 2 ** Math.max(0, attempts - 1), 5000);
  return SLOW_RETRIES_MS[Math.min(attempts - QUICK_ATTEMPTS, SLOW_RETRIES_MS.length) - 1]!;
}

/** How often the loop looks again when nothing is due soon (also catches a jumping test clock). */
const IDLE_POLL_MS = 1000;
const REQUEST_TIMEOUT_MS = 5000;
const MAX_IN_FLIGHT = 50;

const fetchTransport: CallbackTransport = async (url, { headers, body, signal }) => {
  const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]) });
  // Drain the body so the connection is released.
  await res.arrayBuffer();
  return res.status;
};

const COLUMNS = `id, payment_no AS paymentNo, refund_no AS refundNo, path, content_type AS contentType, body, headers,
  last_url AS lastUrl, due_at AS dueAt, attempts, delivered_at AS deliveredAt, last_error AS lastError`;

/**
 * The gateway's callback outbox: callbacks are rows in the {@link SimStore}, written in the same
 * transaction as the payment they report, and delivered over real HTTP by a loop that retries
 * with backoff until the receiver answers 2xx. Because the rows outlive the process, a restarted
 * gateway resumes delivery: the platform must cope with callbacks arriving after its own crash.
 *
 * The target URL and the signature are resolved per attempt, not at enqueue time: the platform
 * may come back on another port, and a stale timestamp would fail its replay window.
 * Due times are on the injected clock, so under a test clock retries wait until it advances.
 */
export class CallbackOutbox {
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Map<number, { abort: AbortController; done: Promise<void> }>();
  private readonly stmts;

  constructor(
    private readonly store: SimStore,
    private readonly clock: Clock,
    private target: CallbackTarget,
    private readonly hooks: OutboxHooks = {},
  ) {
    const db = store.db;
    this.stmts = {
      insert: db.prepare<[string, string | null, string, string, string, number]>(
        'INSERT INTO callback_outbox (payment_no, refund_no, path, content_type, body, due_at) VALUES (?, ?, ?, ?, ?, ?)'),
      due: db.prepare<[number], OutboxRow>(
        `SELECT ${COLUMNS} FROM callback_outbox WHERE delivered_at IS NULL AND due_at <= ? ORDER BY due_at, id LIMIT 50`),
      // Rows in flight (JSON array of ids) are excluded: their completion re-plans the loop itself.
      nextDue: db.prepare<[string], { dueAt: number | null }>(
        'SELECT min(due_at) AS dueAt FROM callback_outbox WHERE delivered_at IS NULL AND id NOT IN (SELECT value FROM json_each(?))'),
      delivered: db.prepare<[string, string, number, number]>(
        'UPDATE callback_outbox SET headers = ?, last_url = ?, attempts = attempts + 1, delivered_at = ?, last_error = NULL WHERE id = ?'),
      failed: db.prepare<[string, string, string, number, number]>(
        'UPDATE callback_outbox SET headers = ?, last_url = ?, last_error = ?, attempts = attempts + 1, due_at = ? WHERE id = ?'),
      attempts: db.prepare<[number], { attempts: number }>('SELECT attempts FROM callback_outbox WHERE id = ?'),
      all: db.prepare<[], OutboxRow>(`SELECT ${COLUMNS} FROM callback_outbox ORDER BY id`),
      ofPayment: db.prepare<[string], OutboxRow>(`SELECT ${COLUMNS} FROM callback_outbox WHERE payment_no = ? ORDER BY id`),
      ofRefund: db.prepare<[string], OutboxRow>(`SELECT ${COLUMNS} FROM callback_outbox WHERE refund_no = ? ORDER BY id`),
    };
  }

  setTarget(target: CallbackTarget): void {
    this.target = { ...target };
  }

  /**
   * Adds `copies` deliveries of one callback, due after `delayMs`. Call it inside the store
   * transaction that changes the payment, so both commit or neither does; then {@link kick}.
   */
  enqueue(callback: OutgoingCallback, copies: number, delayMs: number): void {
    const dueAt = this.clock.now() + delayMs;
    const { paymentNo, refundNo, path, contentType, body } = callback;
    for (let i = 0; i < copies; i++) this.stmts.insert.run(paymentNo, refundNo ?? null, path, contentType, body, dueAt);
  }

  /** Re-plans the loop after new rows were committed. */
  kick(): void {
    if (this.running) this.schedule(0);
  }

  /** Starts (or resumes, after a restart) delivering every undelivered row. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Stops the loop and abandons attempts in flight; their rows stay undelivered for the next start. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const { abort } of this.inFlight.values()) abort.abort();
    await Promise.all([...this.inFlight.values()].map((f) => f.done));
  }

  /** The outbox rows, optionally of one payment and its refunds (for tests and the admin API). */
  rows(paymentNo?: string): OutboxRow[] {
    return paymentNo === undefined ? this.stmts.all.all() : this.stmts.ofPayment.all(paymentNo);
  }

  /** The outbox rows of one refund. */
  refundRows(refundNo: string): OutboxRow[] {
    return this.stmts.ofRefund.all(refundNo);
  }

  private schedule(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.tick(), Math.max(0, Math.min(delayMs, IDLE_POLL_MS)));
    // The loop alone must not keep a process (or a test) alive.
    this.timer.unref();
  }

  /**
   * One delivery pass now, finished when its deliveries are: the simulation drives the outbox on
   * its virtual clock this way instead of {@link start}'s timer loop. Returns how many it sent.
   */
  async deliverDue(): Promise<number> {
    const { started } = this.pass();
    await Promise.all(started);
    return started.length;
  }

  private tick(): void {
    this.timer = undefined;
    if (!this.running) return;
    const { hookDue, now } = this.pass();
    const rowDue = this.stmts.nextDue.get(JSON.stringify([...this.inFlight.keys()]))?.dueAt ?? null;
    const next = rowDue === null ? hookDue : hookDue === null ? rowDue : Math.min(rowDue, hookDue);
    if (next !== null) this.schedule(this.inFlight.size >= MAX_IN_FLIGHT ? IDLE_POLL_MS : next - now);
  }

  /** Settles due refunds (the hook) and starts delivering due rows; tells when the hook wants the next pass. */
  private pass(): { hookDue: number | null; now: number; started: Promise<void>[] } {
    let hookDue: number | null;
    try {
      hookDue = this.hooks.beforePass?.() ?? null;
    } catch {
      // A failed write (the store busy with another process) must not kill the loop: next poll.
      hookDue = this.clock.now() + IDLE_POLL_MS;
    }
    // Read after the hook, so that callbacks it queued without delay are due in this pass.
    const now = this.clock.now();
    const due = this.stmts.due.all(now).filter((row) => !this.inFlight.has(row.id)).slice(0, MAX_IN_FLIGHT - this.inFlight.size);
    // Reversed rows go one after another: concurrent requests arrive in any order, and a test of
    // out-of-order callbacks needs to know which one came first.
    const reversed = this.hooks.reverseOrder?.() ?? false;
    let previous: Promise<void> = Promise.resolve();
    const started: Promise<void>[] = [];
    for (const row of reversed ? due.reverse() : due) {
      const abort = new AbortController();
      const done = (reversed ? previous : Promise.resolve())
        .then(() => this.deliver(row, abort))
        // A failed bookkeeping write leaves the row undelivered and due: the next tick retries it.
        .catch(() => undefined)
        .finally(() => {
          this.inFlight.delete(row.id);
          if (this.running) this.schedule(0);
        });
      previous = done;
      started.push(done);
      this.inFlight.set(row.id, { abort, done });
    }
    return { hookDue, now, started };
  }

  private async deliver(row: OutboxRow, abort: AbortController): Promise<void> {
    const { baseUrl, secret } = this.target;
    const url = `${baseUrl.replace(/\/+$/, '')}${row.path}`;
    const timestamp = String(Math.floor(this.clock.now() / 1000));
    const nonce = this.hooks.nonce?.() ?? randomUUID().replaceAll('-', '');
    const headers: Record<string, string> = {
      'content-type': row.contentType,
      [SIGNATURE_HEADERS.timestamp]: timestamp,
      [SIGNATURE_HEADERS.nonce]: nonce,
      [SIGNATURE_HEADERS.signature]: sign(secret, timestamp, nonce, row.body),
    };
    let error: string | null = null;
    try {
      const status = await (this.hooks.transport ?? fetchTransport)(url, { headers, body: row.body, signal: abort.signal });
      if (status < 200 || status > 299) error = `HTTP ${status}`;
    } catch (err) {
      error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    }
    // Stopping: the receiver may or may not have processed it; leave the row for the next start.
    if (abort.signal.aborted || !this.store.db.open) return;
    const now = this.clock.now();
    if (error === null) {
      this.stmts.delivered.run(JSON.stringify(headers), url, now, row.id);
    } else {
      const attempts = (this.stmts.attempts.get(row.id)?.attempts ?? row.attempts) + 1;
      this.stmts.failed.run(JSON.stringify(headers), url, error, now + retryDelayMs(attempts), row.id);
    }
  }
}
