import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { canonicalJson } from '../../domain/canonical-json.ts';
import type { SystemName } from '../contract.ts';
import type { Dataset } from './dataset.ts';

/** The time source of the simulators: epoch milliseconds. */
export interface Clock {
  now(): number;
}

/** One row of the effects journal: a state change a simulator really made. */
export interface EffectRow {
  id: number;
  system: SystemName;
  verb: string;
  /** The idempotency key (`txnNo:step`) or, for keyless verbs such as `pay`, the entity id. */
  key: string;
  /** Why the effect is special, e.g. `empty-rollback`; null for an ordinary effect. */
  detail: string | null;
  at: string;
}

/** Filter of {@link SimStore.effects}: every field given must match exactly. */
export interface EffectFilter {
  system?: string;
  verb?: string;
  key?: string;
}

/**
 * The same idempotency key arrived with a different verb or request. That is a bug in the caller
 * (keys are derived deterministically from the request's step), so it is thrown, not refused:
 * real gateways answer it with a hard error too (WeChat's `OUT_TRADE_NO_USED`).
 */
export class IdempotencyConflictError extends Error {
  constructor(system: SystemName, key: string, detail: string) {
    super(`${system}: idempotency key ${key} reused with ${detail}`);
    this.name = 'IdempotencyConflictError';
  }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS merchants (merchant_id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (user_id TEXT PRIMARY KEY, name TEXT NOT NULL, level TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stations (
  station_id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, name TEXT NOT NULL, time_zone TEXT NOT NULL, station_group TEXT);
CREATE TABLE IF NOT EXISTS nozzles (
  station_id TEXT NOT NULL, nozzle_no INTEGER NOT NULL, grade TEXT NOT NULL, unit_price INTEGER NOT NULL,
  PRIMARY KEY (station_id, nozzle_no));
CREATE TABLE IF NOT EXISTS cards (
  card_no TEXT PRIMARY KEY, user_id TEXT NOT NULL,
  available_fen INTEGER NOT NULL CHECK (available_fen >= 0),
  locked_fen INTEGER NOT NULL DEFAULT 0 CHECK (locked_fen >= 0));
CREATE TABLE IF NOT EXISTS card_locks (
  lock_key TEXT PRIMARY KEY, card_no TEXT NOT NULL, amount_fen INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('locked', 'confirmed', 'cancelled')), updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
  order_no TEXT PRIMARY KEY, txn_no TEXT NOT NULL, request TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('created', 'paid', 'cancelled')),
  paid_amount_fen INTEGER, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS payments (
  payment_no TEXT PRIMARY KEY, txn_no TEXT NOT NULL, merchant_id TEXT NOT NULL, channel TEXT NOT NULL,
  amount_fen INTEGER NOT NULL, description TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'closed', 'failed')),
  channel_trade_no TEXT, paid_at TEXT, expires_at TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS promotions (
  id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, station_ids TEXT, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS member_levels (user_id TEXT PRIMARY KEY, level TEXT NOT NULL, growth INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS goods (
  station_id TEXT NOT NULL, sku TEXT NOT NULL, name TEXT NOT NULL, category TEXT NOT NULL, price_fen INTEGER NOT NULL,
  available INTEGER NOT NULL CHECK (available >= 0), reserved INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
  PRIMARY KEY (station_id, sku));
CREATE TABLE IF NOT EXISTS goods_reservations (
  lock_key TEXT PRIMARY KEY, station_id TEXT NOT NULL, items TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('locked', 'confirmed', 'cancelled')), updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS coupons (
  coupon_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, body TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('available', 'locked', 'used')), lock_key TEXT, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS coupons_by_user ON coupons (user_id);
CREATE TABLE IF NOT EXISTS coupon_locks (
  lock_key TEXT PRIMARY KEY, user_id TEXT NOT NULL, coupon_ids TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('locked', 'confirmed', 'cancelled')), updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS points_accounts (
  user_id TEXT PRIMARY KEY, balance INTEGER NOT NULL CHECK (balance >= 0), locked INTEGER NOT NULL DEFAULT 0 CHECK (locked >= 0),
  points_per_yuan INTEGER NOT NULL, step INTEGER NOT NULL, max_ratio_bp INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS points_locks (
  lock_key TEXT PRIMARY KEY, user_id TEXT NOT NULL, points INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('locked', 'confirmed', 'cancelled')), updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
  system TEXT NOT NULL, key TEXT NOT NULL, verb TEXT NOT NULL, request_hash TEXT NOT NULL,
  result TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (system, key));
CREATE TABLE IF NOT EXISTS receipts (
  system TEXT NOT NULL, kind TEXT NOT NULL, no TEXT NOT NULL, request_hash TEXT NOT NULL,
  result TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (system, kind, no));
CREATE TABLE IF NOT EXISTS tombstones (
  system TEXT NOT NULL, entity TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (system, entity));
CREATE TABLE IF NOT EXISTS effects (
  id INTEGER PRIMARY KEY AUTOINCREMENT, system TEXT NOT NULL, verb TEXT NOT NULL, key TEXT NOT NULL,
  detail TEXT, at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS effects_by_key ON effects (system, key);
CREATE TABLE IF NOT EXISTS records (
  system TEXT NOT NULL, kind TEXT NOT NULL, no TEXT NOT NULL, txn_no TEXT NOT NULL, body TEXT NOT NULL, at TEXT NOT NULL,
  PRIMARY KEY (system, kind, no));
CREATE INDEX IF NOT EXISTS records_by_txn ON records (system, kind, txn_no);
CREATE TABLE IF NOT EXISTS callback_outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT, payment_no TEXT NOT NULL,
  path TEXT NOT NULL, body TEXT NOT NULL, headers TEXT, last_url TEXT,
  due_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, delivered_at INTEGER, last_error TEXT,
  content_type TEXT NOT NULL DEFAULT 'application/json', refund_no TEXT);
CREATE INDEX IF NOT EXISTS outbox_due ON callback_outbox (delivered_at, due_at);
CREATE TABLE IF NOT EXISTS refunds (
  refund_no TEXT PRIMARY KEY, payment_no TEXT NOT NULL, amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
  status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
  channel_refund_no TEXT NOT NULL, due_at INTEGER NOT NULL, requested_at TEXT NOT NULL, refunded_at TEXT);
CREATE INDEX IF NOT EXISTS refunds_by_payment ON refunds (payment_no);
CREATE INDEX IF NOT EXISTS refunds_due ON refunds (status, due_at);
`;

/**
 * Columns added to a table after it first shipped, added in place so that a store file written by
 * an earlier version keeps its payments and undelivered callbacks (the dataset layout is unchanged).
 */
const ADDED_COLUMNS: readonly (readonly [table: string, column: string, definition: string])[] = [
  ['callback_outbox', 'content_type', "TEXT NOT NULL DEFAULT 'application/json'"],
  ['callback_outbox', 'refund_no', 'TEXT'],
  // A store seeded before station groups keeps its stations, each in no group.
  ['stations', 'station_group', 'TEXT'],
];

/**
 * The dataset layout a seeded store holds. A store seeded under another layout lacks whole parts of
 * the world (a version-1 store has no goods, coupons, points or levels), so it is refused rather
 * than served half-empty.
 */
const STORE_VERSION = '2';

/** Tables emptied by a reset: everything, the dataset and the state built on it. */
const ALL_TABLES = [
  'meta', 'merchants', 'users', 'stations', 'nozzles', 'cards', 'card_locks', 'orders', 'payments',
  'promotions', 'member_levels', 'goods', 'goods_reservations', 'coupons', 'coupon_locks', 'points_accounts',
  'points_locks', 'idempotency', 'receipts', 'tombstones', 'effects', 'callback_outbox', 'refunds', 'records',
];

function hashRequest(request: unknown): string {
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}

/**
 * The simulators' own database: one better-sqlite3 file, separate from the platform's, so the
 * downstream world survives a platform crash exactly like real downstream systems would.
 *
 * Every mutating verb runs inside {@link SimStore.once}: one IMMEDIATE transaction that checks the
 * idempotency record, applies the effect and stores the result. That makes check-and-write atomic
 * even if two processes share the file.
 */
export class SimStore {
  readonly db: Database.Database;
  private readonly clock: Clock;
  private readonly stmts;
  /** The group commit of this turn, while one is open (see `groupCommit`). */
  private batch: Promise<void> | null = null;
  /** Runs a call's check-and-write atomically (a savepoint inside the turn's commit); built once. */
  private readonly atomically;

  constructor(path: string, clock: Clock) {
    this.db = new Database(path);
    this.clock = clock;
    this.db.pragma('journal_mode = WAL');
    // Simulated systems must survive a crash of the process that hosts them (the restart and crash
    // tests kill it), not a power cut: in WAL mode NORMAL gives exactly that without an fsync per
    // call, which would otherwise cost more than the platform's own durable writes.
    this.db.pragma('synchronous = NORMAL');
    // A second process (e.g. `trade sim` beside `trade serve`) waits for the write lock instead of failing.
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.atomically = this.db.transaction((effect: () => unknown): unknown => effect());
    for (const [table, column, definition] of ADDED_COLUMNS) {
      const columns = this.db.prepare<[], { name: string }>(`SELECT name FROM pragma_table_info('${table}')`).all();
      if (!columns.some((c) => c.name === column)) this.db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
    }
    this.stmts = {
      idemGet: this.db.prepare<[string, string], { verb: string; request_hash: string; result: string }>(
        'SELECT verb, request_hash, result FROM idempotency WHERE system = ? AND key = ?'),
      idemPut: this.db.prepare<[string, string, string, string, string, string]>(
        'INSERT INTO idempotency (system, key, verb, request_hash, result, at) VALUES (?, ?, ?, ?, ?, ?)'),
      effectPut: this.db.prepare<[string, string, string, string | null, string]>(
        'INSERT INTO effects (system, verb, key, detail, at) VALUES (?, ?, ?, ?, ?)'),
      receiptGet: this.db.prepare<[string, string, string], { request_hash: string; result: string }>(
        'SELECT request_hash, result FROM receipts WHERE system = ? AND kind = ? AND no = ?'),
      receiptPut: this.db.prepare<[string, string, string, string, string, string]>(
        'INSERT INTO receipts (system, kind, no, request_hash, result, at) VALUES (?, ?, ?, ?, ?, ?)'),
      tombGet: this.db.prepare<[string, string], { at: string }>(
        'SELECT at FROM tombstones WHERE system = ? AND entity = ?'),
      tombPut: this.db.prepare<[string, string, string]>(
        'INSERT OR IGNORE INTO tombstones (system, entity, at) VALUES (?, ?, ?)'),
    };
  }

  /** Now as an ISO instant, from the injected clock. */
  nowIso(): string {
    return new Date(this.clock.now()).toISOString();
  }

  /**
   * Runs `effect` at most once per (system, key): a repeated key returns the stored first result
   * (refusals included: the contract says "the first result") without running `effect` again.
   * Throws {@link IdempotencyConflictError} when the key comes back with another verb or request.
   */
  once<T>(system: SystemName, key: string, verb: string, request: unknown, effect: () => T): T {
    const hash = hashRequest(request);
    const run = (): T => {
      const seen = this.stmts.idemGet.get(system, key);
      if (seen) {
        if (seen.verb !== verb) throw new IdempotencyConflictError(system, key, `verb ${verb} (first ${seen.verb})`);
        if (seen.request_hash !== hash) throw new IdempotencyConflictError(system, key, `a different ${verb} request`);
        return JSON.parse(seen.result) as T;
      }
      const result = effect();
      this.stmts.idemPut.run(system, key, verb, hash, JSON.stringify(result), this.nowIso());
      return result;
    };
    // A call's writes join this turn's group commit; the call answers once it is committed.
    this.groupCommit();
    return this.atomically.immediate(run) as T;
  }

  /**
   * Runs `effect` at most once per business number (a credit, debit or restore number) of one
   * system, whatever call key carries it: a caller that lost the answer may come back under a new
   * step key, and a second credit or restore would hand out money or coupons twice. Only a success
   * is kept: a refusal changed nothing, so a later call may try again. Call it inside
   * {@link SimStore.once}, whose transaction makes check-and-write atomic. Throws
   * {@link IdempotencyConflictError} when the number comes back with another request.
   */
  oncePerNo<T extends { ok: boolean }>(system: SystemName, kind: string, no: string, request: unknown, effect: () => T): T {
    const hash = hashRequest(request);
    const seen = this.stmts.receiptGet.get(system, kind, no);
    if (seen) {
      if (seen.request_hash !== hash) throw new IdempotencyConflictError(system, `${kind} ${no}`, `a different ${kind} request`);
      return JSON.parse(seen.result) as T;
    }
    const result = effect();
    if (result.ok) this.stmts.receiptPut.run(system, kind, no, hash, JSON.stringify(result), this.nowIso());
    return result;
  }

  /** Journals one real state change; tests count these to prove "exactly one effect". */
  recordEffect(system: SystemName, verb: string, key: string, detail: string | null = null): void {
    this.stmts.effectPut.run(system, verb, key, detail, this.nowIso());
  }

  /** The effects journal, oldest first. */
  effects(filter: EffectFilter = {}): EffectRow[] {
    const where: string[] = [];
    const params: string[] = [];
    for (const column of ['system', 'verb', 'key'] as const) {
      const value = filter[column];
      if (value !== undefined) {
        where.push(`${column} = ?`);
        params.push(value);
      }
    }
    const sql = `SELECT id, system, verb, key, detail, at FROM effects${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id`;
    return this.db.prepare<string[], EffectRow>(sql).all(...params);
  }

  /** True when a cancel/close arrived for an entity that never existed (empty rollback). */
  hasTombstone(system: SystemName, entity: string): boolean {
    return this.stmts.tombGet.get(system, entity) !== undefined;
  }

  addTombstone(system: SystemName, entity: string): void {
    this.stmts.tombPut.run(system, entity, this.nowIso());
  }

  /**
   * Loads the dataset when the store is empty (first start) or when `reset` is set (which also
   * wipes all state: locks, orders, payments, journal, outbox). Returns true when it loaded.
   * A restart on an existing file keeps balances and payments as they were: the downstream
   * world does not reset because the platform restarted. A store seeded under another dataset
   * layout is refused (thrown) unless `reset` is set.
   */
  seed(dataset: Dataset, opts: { reset?: boolean } = {}): boolean {
    const load = this.db.transaction((): boolean => {
      if (opts.reset) for (const table of ALL_TABLES) this.db.exec(`DELETE FROM ${table}`);
      const meta = (k: string) => this.db.prepare<[string], { v: string }>('SELECT v FROM meta WHERE k = ?').get(k)?.v;
      if (meta('seeded_at')) {
        const version = meta('store_version') ?? '1';
        if (version !== STORE_VERSION) {
          throw new Error(`simulator store ${this.db.name} holds dataset layout ${version}, this version needs ${STORE_VERSION}: delete the file (or reset it) to load the dataset again`);
        }
        return false;
      }
      const merchant = this.db.prepare('INSERT INTO merchants (merchant_id, name) VALUES (?, ?)');
      for (const m of dataset.merchants) merchant.run(m.merchantId, m.name);
      const station = this.db.prepare('INSERT INTO stations (station_id, merchant_id, name, time_zone, station_group) VALUES (?, ?, ?, ?, ?)');
      const nozzle = this.db.prepare('INSERT INTO nozzles (station_id, nozzle_no, grade, unit_price) VALUES (?, ?, ?, ?)');
      for (const s of dataset.stations) {
        station.run(s.stationId, s.merchantId, s.name, s.timeZone, s.group ?? null);
        for (const n of s.nozzles) nozzle.run(s.stationId, n.nozzleNo, n.grade, n.unitPrice);
      }
      const user = this.db.prepare('INSERT INTO users (user_id, name, level) VALUES (?, ?, ?)');
      const member = this.db.prepare('INSERT INTO member_levels (user_id, level, growth) VALUES (?, ?, ?)');
      for (const u of dataset.users) {
        user.run(u.userId, u.name, u.level);
        member.run(u.userId, u.level, u.growth);
      }
      const card = this.db.prepare('INSERT INTO cards (card_no, user_id, available_fen) VALUES (?, ?, ?)');
      for (const c of dataset.cards) card.run(c.cardNo, c.userId, c.balanceFen);
      const promotion = this.db.prepare('INSERT INTO promotions (id, merchant_id, station_ids, body) VALUES (?, ?, ?, ?)');
      for (const { merchantId, stationIds, ...body } of dataset.promotions) {
        promotion.run(body.id, merchantId, stationIds ? JSON.stringify(stationIds) : null, JSON.stringify(body));
      }
      const goods = this.db.prepare(
        'INSERT INTO goods (station_id, sku, name, category, price_fen, available) VALUES (?, ?, ?, ?, ?, ?)');
      for (const g of dataset.goods) goods.run(g.stationId, g.sku, g.name, g.category, g.priceFen, g.stock);
      const coupon = this.db.prepare('INSERT INTO coupons (coupon_id, user_id, body, status, updated_at) VALUES (?, ?, ?, ?, ?)');
      for (const { status, ...body } of dataset.coupons) {
        coupon.run(body.couponId, body.userId, JSON.stringify(body), status ?? 'available', this.nowIso());
      }
      const points = this.db.prepare(
        'INSERT INTO points_accounts (user_id, balance, points_per_yuan, step, max_ratio_bp) VALUES (?, ?, ?, ?, ?)');
      for (const a of dataset.pointsAccounts) points.run(a.userId, a.balance, a.rule.pointsPerYuan, a.rule.step, a.rule.maxRatioBp);
      this.db.prepare("INSERT INTO meta (k, v) VALUES ('seeded_at', ?), ('store_version', ?)").run(this.nowIso(), STORE_VERSION);
      return true;
    });
    return load.immediate();
  }

  /** The group commit this turn's writes wait for, while one is open: a call that read them waits too. */
  pendingCommit(): Promise<void> | null {
    return this.batch;
  }

  /**
   * Opens this turn's group commit, or joins it, and settles once it is committed. The calls of
   * one event-loop turn then write into one transaction (each `once` a savepoint inside it) instead
   * of one each; a call answers only after the commit (FaultInjector.run waits for it), so no answer
   * is ever given for an effect that a crash of this process could still take back.
   */
  groupCommit(): Promise<void> {
    if (this.batch) return this.batch;
    if (this.db.inTransaction) return Promise.resolve();
    this.db.exec('BEGIN IMMEDIATE');
    this.batch = new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        this.batch = null;
        try {
          this.db.exec('COMMIT');
          resolve();
        } catch (err) {
          if (this.db.inTransaction) this.db.exec('ROLLBACK');
          reject(err);
        }
      });
    });
    // A call whose effect threw does not wait for the commit; its failure is still its waiters' to see.
    this.batch.catch(() => undefined);
    return this.batch;
  }

  close(): void {
    if (!this.db.open) return;
    // A turn's batch still open is committed: its calls are about to be answered.
    if (this.db.inTransaction) this.db.exec('COMMIT');
    this.db.close();
  }
}
