import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
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
  IdleTransaction,
  JournalEntry,
  SaveRecord,
  SaveResult,
  StoredJournalEntry,
  StoredResponse,
  StoreStats,
  TaskOutcome,
  TaskRecord,
  TaskStatus,
  TransactionRecord,
} from '../types.ts';
import type { TaskSpec } from '../../machines/task-spec.ts';
import { DEFAULT_IDEMPOTENCY_RETENTION_MS } from '../types.ts';
import { CLAIM_IDEMPOTENCY, COMPLETE_IDEMPOTENCY, NUDGE, OWN_IDEMPOTENCY, RELEASE_IDEMPOTENCY, SAVE, TASK_MOVE, ZREM_IF_SCORE } from './scripts.ts';

/** Options of {@link RedisTransactionStore}. */
export interface RedisStoreOptions {
  url: string;
  /** A Redis Cluster: `url` names one of its nodes, the client finds the others. */
  cluster?: boolean;
  /** Prefix of every key (`tc` by default); tests use a fresh one each. */
  prefix?: string;
  log?: Logger;
  redis?: RedisOptions;
  /** TTL of an idempotency key, ms (24 h by default; API.md: kept at least 24 h). */
  idempotencyRetentionMs?: number;
  /**
   * Saves the transition feed `tc:{idx}:feed` keeps, roughly (`MAXLEN ~`: Redis trims whole
   * stream nodes, so it may hold up to a node more); {@link DEFAULT_FEED_MAX_LEN} by default.
   */
  feedMaxLen?: number;
}

/**
 * Saves kept in the transition feed by default. A save takes about 700 bytes of Redis memory
 * there (a wechat sale makes about ten saves), so some 70 MB; live views need seconds of it.
 */
export const DEFAULT_FEED_MAX_LEN = 100_000;

/**
 * A cursor of the Redis feed: a stream id (`<ms>-<seq>`) of a save, with `/<n>` while inside it
 * (the first n of its transitions were had). Each part at most 19 digits, so that every cursor
 * the pattern admits is an id Redis accepts (below 2^64).
 */
const FEED_CURSOR = '^[0-9]{1,19}-[0-9]{1,19}(/[1-9][0-9]{0,8})?$';

/** Where to resume the feed: after the save `feedId`, or after its first `seen` transitions. */
interface FeedPosition {
  feedId: string;
  seen?: number;
}

/** How long one blocking read of the feed waits before it asks again, ms. */
const FEED_BLOCK_MS = 10_000;

interface Scripts {
  tcSave(...args: (string | number)[]): Promise<(string | number)[]>;
  tcClaimIdempotency(key: string, fingerprint: string, now: number, retentionMs: number, owner: string, leaseUntil: number, runId: string): Promise<string[]>;
  tcOwnIdempotency(key: string, owner: string, ...fields: (string | number)[]): Promise<number>;
  tcCompleteIdempotency(key: string, response: string, retentionMs: number, owner: string): Promise<number>;
  tcReleaseIdempotency(key: string, owner: string): Promise<number>;
  tcTaskMove(key: string, ...args: (string | number)[]): Promise<number>;
  tcNudge(key: string, version: number): Promise<number>;
  tcZremIfScore(key: string, member: string, score: number): Promise<number>;
}

/** The index entries one record calls for, as this process last wrote them. */
interface Indexed {
  version: number;
  state: string;
  orderNo: string | null;
  working: boolean;
  active: boolean;
  timers: Record<string, number>;
  attention: boolean;
}

type Multi = ReturnType<Redis['multi']>;

/**
 * A client of one Redis or of a Cluster (found from one node). Commands wait while Redis is
 * away (`maxRetriesPerRequest: null`) instead of failing: a restart holds requests, not drops them.
 */
export function connectRedis(url: string, cluster: boolean, options: RedisOptions = {}): Redis | Cluster {
  if (!cluster) return new Redis(url, { maxRetriesPerRequest: null, ...options });
  const { hostname, port } = new URL(url);
  // ioredis's auto-pipelining may batch keys of several nodes into one cluster pipeline, which it then refuses.
  const { enableAutoPipelining: _notOnCluster, ...redisOptions } = options;
  return new Cluster([{ host: hostname, port: Number(port || 6379) }], { redisOptions: { maxRetriesPerRequest: null, ...redisOptions } });
}

type SaveReply = (string | number)[] | { actual: number | null };

/** What a save appends to the transition feed: its journal entries, already JSON. */
interface Feed {
  txnNo: string;
  entries: string;
}

/**
 * Index writes that go around a save or a task move (see the store's class comment). On one Redis
 * they are plain commands: auto-pipelining sends them on the one connection, in call order and in
 * the same write as the script issued after them, so the intent still lands first, at no round
 * trip or MULTI of its own. On a Cluster the index slot lives on its own node: one MULTI there.
 */
class IndexWrites {
  private readonly multi: Multi | null;
  private readonly replies: Promise<unknown>[] = [];

  constructor(private readonly redis: Redis | Cluster) {
    this.multi = redis instanceof Cluster ? redis.multi() : null;
  }

  zadd(key: string, ...scoreMembers: (string | number)[]): this {
    return this.add('zadd', key, ...scoreMembers);
  }

  zrem(key: string, member: string): this {
    return this.add('zrem', key, member);
  }

  hset(key: string, field: string, value: string): this {
    return this.add('hset', key, field, value);
  }

  zscore(key: string, member: string): this {
    return this.add('zscore', key, member);
  }

  /** The replies, in call order; rejects when a command failed. */
  async exec(): Promise<unknown[]> {
    if (!this.multi) return Promise.all(this.replies);
    return ((await this.multi.exec()) ?? []).map(([err, value]) => {
      if (err) throw err;
      return value;
    });
  }

  private add(command: string, ...args: (string | number)[]): this {
    if (this.multi) this.multi.call(command, ...args);
    else this.replies.push(this.redis.call(command, ...args));
    return this;
  }
}

/** Separates the parts of an index member (`txnNo`, timer or task name); never in a txnNo. */
const SEP = '\u0001';


/**
 * The scale-out store (DESIGN.md "Two deployments"). A transaction's keys share the hash tag
 * `{txnNo}` (`tc:{T…}:txn`, `:journal`, `:tasks`, `:task:<name>`, `:lease`), so the save
 * script (version compare-and-set, journal, tasks) is atomic on one node and on Redis Cluster.
 *
 * The indexes the runtime scans (due timers, running work, due tasks, the admin list, idle
 * transactions, order numbers) live in their own slot `tc:{idx}:…` and are written around the save, never
 * inside it: entries are added *before* the compare-and-set and stale ones removed after it, with
 * the transaction marked `dirty` meanwhile. An index may so list too much (after a crash or a
 * conflict), never too little; every reader checks each entry against the record, and
 * {@link reindexDirty} repairs the entries of a write that a crash interrupted.
 *
 * The transition feed `tc:{idx}:feed` (a stream in the index slot, capped at
 * {@link RedisStoreOptions.feedMaxLen} saves) is what live views of every process follow
 * ({@link follow}: `GET /admin/events`, `trade tail --redis`): once a save is stored, one `XADD`
 * appends its journal entries as one entry (`t` the txnNo, `j` the entries as a JSON array),
 * sent without waiting for its answer. It cannot join the save script (another slot), so a
 * process that dies in between, or an append that fails, leaves a save out of the feed but never
 * out of its transaction's journal, which stays the record.
 */
export class RedisTransactionStore implements SnapshotStore, Journal, TransitionFeed, IdempotencyRecords, TaskStore, SentinelIndex, AdminQueries {
  readonly cursorPattern = FEED_CURSOR;
  readonly redis: (Redis | Cluster) & Scripts;
  private readonly p: string;
  private readonly idempotencyRetentionMs: number;
  private readonly feedMaxLen: number;

  constructor(private readonly options: RedisStoreOptions) {
    this.p = options.prefix ?? 'tc';
    this.idempotencyRetentionMs = options.idempotencyRetentionMs ?? DEFAULT_IDEMPOTENCY_RETENTION_MS;
    this.feedMaxLen = options.feedMaxLen ?? DEFAULT_FEED_MAX_LEN;
    this.redis = connectRedis(options.url, options.cluster ?? false, { enableAutoPipelining: true, ...options.redis }) as (Redis | Cluster) & Scripts;
    this.redis.defineCommand('tcSave', { lua: SAVE });
    this.redis.defineCommand('tcClaimIdempotency', { lua: CLAIM_IDEMPOTENCY, numberOfKeys: 1 });
    this.redis.defineCommand('tcOwnIdempotency', { lua: OWN_IDEMPOTENCY, numberOfKeys: 1 });
    this.redis.defineCommand('tcCompleteIdempotency', { lua: COMPLETE_IDEMPOTENCY, numberOfKeys: 1 });
    this.redis.defineCommand('tcReleaseIdempotency', { lua: RELEASE_IDEMPOTENCY, numberOfKeys: 1 });
    this.redis.defineCommand('tcTaskMove', { lua: TASK_MOVE, numberOfKeys: 1 });
    this.redis.defineCommand('tcNudge', { lua: NUDGE, numberOfKeys: 1 });
    this.redis.defineCommand('tcZremIfScore', { lua: ZREM_IF_SCORE, numberOfKeys: 1 });
  }

  /**
   * Warns when Redis would lose acknowledged writes (no AOF) or evict keys under memory pressure
   * (DESIGN.md: `appendonly yes`, `maxmemory-policy noeviction`). Returns the warnings.
   */
  async checkDurability(): Promise<string[]> {
    const read = async (name: string) => {
      const reply = (await this.redis.config('GET', name)) as string[];
      return reply[1] ?? '';
    };
    const warnings: string[] = [];
    const settings = await Promise.all([read('appendonly'), read('maxmemory-policy')]).catch((err: unknown) => {
      // Managed Redis services often refuse CONFIG: say so rather than refuse to start.
      warnings.push(`could not read the Redis settings (${err instanceof Error ? err.message : String(err)}): make sure appendonly is yes and maxmemory-policy noeviction`);
      return null;
    });
    const [aof, policy] = settings ?? ['yes', 'noeviction'];
    if (aof !== 'yes') warnings.push(`Redis runs with appendonly=${aof}: an acknowledged transaction can be lost in a Redis restart; set appendonly yes`);
    if (policy !== 'noeviction') warnings.push(`Redis runs with maxmemory-policy=${policy}: it may evict transactions under memory pressure; set noeviction`);
    for (const w of warnings) this.options.log?.warn({ redis: this.options.url }, w);
    return warnings;
  }

  // ── keys ──────────────────────────────────────────────────────────────────────────────────

  private k(txnNo: string, part: string): string {
    return `${this.p}:{${txnNo}}:${part}`;
  }

  /** Key of a transaction's lease (runtime/lease.ts takes it). */
  leaseKey(txnNo: string): string {
    return this.k(txnNo, 'lease');
  }

  /** Key of a transaction's record hash. */
  txnKey(txnNo: string): string {
    return this.k(txnNo, 'txn');
  }

  private idx(name: string): string {
    return `${this.p}:{idx}:${name}`;
  }

  private taskKey(txnNo: string, task: string): string {
    return this.k(txnNo, `task:${task}`);
  }

  // ── transactions ──────────────────────────────────────────────────────────────────────────

  async save(record: SaveRecord, expectedVersion: number, journal: JournalEntry[]): Promise<SaveResult> {
    const txnNo = record.txnNo;
    const attention = record.needsAttention;
    const fields: (string | number)[] = [
      'merchantId', record.merchantId,
      'stationId', record.stationId,
      'orderNo', record.orderNo ?? '',
      'state', record.state,
      'stateValue', JSON.stringify(record.stateValue),
      'snapshot', JSON.stringify(record.snapshot),
      'atRest', record.atRest ? 1 : 0,
      'working', record.working ? 1 : 0,
      'timers', JSON.stringify(record.timers),
      'attention', attention ? 1 : 0,
      'createdAt', record.createdAt,
      'updatedAt', record.updatedAt,
    ];
    // Tasks this process knows to be stored need not travel again (the script never replaces one).
    const known = this.knownTasks.get(txnNo);
    const fresh = record.tasks.filter((t) => !known?.has(t.task));
    const keys = [this.k(txnNo, 'txn'), this.k(txnNo, 'journal'), this.k(txnNo, 'tasks'), ...fresh.map((t) => this.taskKey(txnNo, t.task))];
    const args: (string | number)[] = [expectedVersion, fields.length / 2, ...fields, fresh.length];
    for (const t of fresh) args.push(t.task, JSON.stringify(specOf(t)));
    const entries = journal.map((j) => JSON.stringify(j));
    args.push(...entries);
    const feed = entries.length ? { txnNo, entries: `[${entries.join(',')}]` } : null;

    const want: Indexed = { version: 0, state: record.state, orderNo: record.orderNo, working: record.working && !record.atRest, active: !record.atRest, timers: record.timers, attention };
    const base = this.indexed.get(txnNo);
    const reply =
      base && base.version === expectedVersion
        ? await this.saveKnown(txnNo, record, base, want, fresh, keys, args, feed)
        : await this.saveFull(txnNo, record, want, fresh, keys, args, feed);
    if (!Array.isArray(reply)) {
      this.indexed.delete(txnNo);
      return { ok: false, conflict: true, actualVersion: reply.actual };
    }
    const version = Number(reply[1]);
    // A task stored before this save keeps its own schedule, which the NX add may have disturbed.
    const inserted = new Set(reply.slice(5).map(String));
    const existing = fresh.filter((t) => !inserted.has(t.task)).map((t) => t.task);
    if (existing.length) await this.reindexTasks(txnNo, existing);
    this.rememberTasks(txnNo, record.tasks);
    if (this.indexed.size > 10_000) this.indexed.clear();
    this.indexed.set(txnNo, { ...want, version });
    return { ok: true, version };
  }

  /** What this process last wrote to the indexes for a transaction, at which version. Bounded. */
  private readonly indexed = new Map<string, Indexed>();

  /**
   * The save script's reply on success, or the version the store holds on a conflict. A stored
   * save's journal goes to the feed as soon as the reply is in, before the index writes after it.
   */
  private async runSave(keys: string[], args: (string | number)[], feed: Feed | null): Promise<SaveReply> {
    const reply = await this.redis.tcSave(keys.length, ...keys, ...args);
    if (reply[0] !== 1) return { actual: reply[1] === -1 ? null : Number(reply[1]) };
    if (feed) this.publish(feed);
    return reply;
  }

  /**
   * Appends a stored save's journal entries to the feed without waiting for Redis to answer. A
   * failed append is logged, never thrown: the save is stored and acknowledged, and its journal
   * is the record; the feed only serves live views.
   */
  private publish(feed: Feed): void {
    this.redis.xadd(this.idx('feed'), 'MAXLEN', '~', this.feedMaxLen, '*', 't', feed.txnNo, 'j', feed.entries).catch((err: unknown) => {
      this.options.log?.warn({ err, txnNo: feed.txnNo }, 'appending to the transition feed failed');
    });
  }

  /** First write of a transaction by this process: every index entry it calls for (see the class comment). */
  private async saveFull(txnNo: string, record: SaveRecord, want: Indexed, fresh: TaskSpec[], keys: string[], args: (string | number)[], feed: Feed | null): Promise<SaveReply> {
    // Intent first: the indexes learn of this write before it happens.
    const before = new IndexWrites(this.redis);
    before.zadd(this.idx('dirty'), record.updatedAt, txnNo);
    this.addEntries(before, txnNo, record, want.attention);
    for (const t of fresh) before.zadd(this.idx('tasks'), 'NX', record.updatedAt, `${txnNo}${SEP}${t.task}`);
    const [, reply] = await Promise.all([before.exec(), this.runSave(keys, args, feed)]);
    if (!Array.isArray(reply)) {
      await this.reindex(txnNo);
      return reply;
    }
    const previousTimers = reply[2] ? (JSON.parse(String(reply[2])) as Record<string, number>) : {};
    const after = new IndexWrites(this.redis);
    this.removeStale(after, txnNo, record, previousTimers, String(reply[3]));
    after.zscore(this.idx('attention'), txnNo);
    after.zrem(this.idx('dirty'), txnNo);
    const results = await after.exec();
    // Attention also comes from dead tasks and the sentinel: reindexAttention weighs all three.
    if (results.at(-2) !== null && !want.attention) await this.reindexAttention(txnNo);
    return reply;
  }

  /**
   * A write after this process's own last write (the compare-and-set proves nobody wrote in
   * between): only the index entries that change are touched, most saves none at all.
   */
  private async saveKnown(txnNo: string, record: SaveRecord, base: Indexed, want: Indexed, fresh: TaskSpec[], keys: string[], args: (string | number)[], feed: Feed | null): Promise<SaveReply> {
    const adds: [string, number, string][] = [];
    const removals: [string, string][] = [];
    if (base.state !== want.state) {
      adds.push([this.idx(`state:${want.state}`), 0, txnNo]);
      removals.push([this.idx(`state:${base.state}`), txnNo]);
      this.noteState(want.state);
    }
    if (want.working && !base.working) adds.push([this.idx('working'), record.updatedAt, txnNo]);
    if (base.working && !want.working) removals.push([this.idx('working'), txnNo]);
    if (want.active && !base.active) adds.push([this.idx('active'), record.updatedAt, txnNo]);
    if (base.active && !want.active) removals.push([this.idx('active'), txnNo]);
    for (const [name, due] of Object.entries(want.timers)) if (base.timers[name] !== due) adds.push([this.idx('timers'), due, `${txnNo}${SEP}${name}`]);
    for (const [name, due] of Object.entries(base.timers)) if (want.timers[name] !== due) removals.push([this.idx('timers'), `${txnNo}${SEP}${name}`]);
    if (want.attention && !base.attention) adds.push([this.idx('attention'), 0, txnNo]);
    const newOrderNo = want.orderNo !== base.orderNo ? want.orderNo : null;
    const orderChanged = newOrderNo !== null;
    const indexChanges = adds.length + removals.length + fresh.length > 0 || orderChanged;
    const before = new IndexWrites(this.redis);
    if (indexChanges) before.zadd(this.idx('dirty'), record.updatedAt, txnNo);
    for (const [key, score, member] of adds) before.zadd(key, score, member);
    for (const t of fresh) before.zadd(this.idx('tasks'), 'NX', record.updatedAt, `${txnNo}${SEP}${t.task}`);
    if (newOrderNo !== null) before.hset(this.idx('orders'), newOrderNo, txnNo);
    // The idle scan reads this score: kept fresh, though a stale one would only make it look again.
    if (want.active && base.active) before.zadd(this.idx('active'), 'XX', record.updatedAt, txnNo);
    const [, reply] = await Promise.all([before.exec(), this.runSave(keys, args, feed)]);
    if (!Array.isArray(reply)) {
      await this.reindex(txnNo);
      return reply;
    }
    if (indexChanges) {
      const after = new IndexWrites(this.redis);
      for (const [key, member] of removals) after.zrem(key, member);
      after.zrem(this.idx('dirty'), txnNo);
      await after.exec();
    }
    if (base.attention && !want.attention) await this.reindexAttention(txnNo);
    return reply;
  }

  /** Task names known to be stored, per transaction: only new ones need index entries. Bounded. */
  private readonly knownTasks = new Map<string, Set<string>>();

  private rememberTasks(txnNo: string, tasks: TaskSpec[]): void {
    if (!tasks.length) return;
    if (this.knownTasks.size > 10_000) this.knownTasks.clear();
    this.knownTasks.set(txnNo, new Set(tasks.map((t) => t.task)));
  }

  /** Adds the index entries a record calls for (idempotent). */
  private addEntries(m: Multi | IndexWrites, txnNo: string, r: Omit<TransactionRecord, 'version'>, attention: boolean): void {
    m.zadd(this.idx('all'), 0, txnNo);
    m.zadd(this.idx(`state:${r.state}`), 0, txnNo);
    this.noteState(r.state);
    if (r.orderNo) m.hset(this.idx('orders'), r.orderNo, txnNo);
    if (attention) m.zadd(this.idx('attention'), 0, txnNo);
    if (r.working && !r.atRest) m.zadd(this.idx('working'), r.updatedAt, txnNo);
    if (!r.atRest) m.zadd(this.idx('active'), r.updatedAt, txnNo);
    for (const [name, due] of Object.entries(r.timers)) m.zadd(this.idx('timers'), due, `${txnNo}${SEP}${name}`);
  }

  /** Removes the entries a stored record no longer calls for. */
  private removeStale(m: IndexWrites, txnNo: string, r: Omit<TransactionRecord, 'version'>, previousTimers: Record<string, number>, previousState: string): void {
    if (previousState && previousState !== r.state) m.zrem(this.idx(`state:${previousState}`), txnNo);
    if (!(r.working && !r.atRest)) m.zrem(this.idx('working'), txnNo);
    if (r.atRest) m.zrem(this.idx('active'), txnNo);
    for (const [name, due] of Object.entries(previousTimers)) {
      if (r.timers[name] !== due) m.zrem(this.idx('timers'), `${txnNo}${SEP}${name}`);
    }
  }

  /** Puts the due-task entries of tasks already stored back in line with their records. */
  private async reindexTasks(txnNo: string, names: string[]): Promise<void> {
    if (!names.length) return;
    const m = this.redis.multi();
    for (const name of names) m.hmget(this.taskKey(txnNo, name), 'status', 'nextRunAt');
    const rows = ((await m.exec()) ?? []).map(([, v]) => v as (string | null)[]);
    const fix = this.redis.multi();
    names.forEach((name, i) => {
      const [status, nextRunAt] = rows[i] ?? [];
      const member = `${txnNo}${SEP}${name}`;
      if (status === 'pending' && nextRunAt) fix.zadd(this.idx('tasks'), Number(nextRunAt), member);
      else fix.zrem(this.idx('tasks'), member);
    });
    await fix.exec();
    await this.reindexAttention(txnNo);
  }

  /** States seen in this process, so each is registered once in the set of per-state indexes. */
  private readonly seenStates = new Set<string>();

  /** Registers a state's index in `tc:{idx}:states` (the machine's states are the store's to learn, not to list). */
  private noteState(state: string): void {
    if (this.seenStates.has(state)) return;
    this.seenStates.add(state);
    void this.redis.sadd(this.idx('states'), state).catch((err: unknown) => {
      this.seenStates.delete(state);
      this.options.log?.warn({ err }, 'registering a state index failed');
    });
  }

  private async states(): Promise<string[]> {
    return (await this.redis.smembers(this.idx('states'))).sort();
  }

  /** Rebuilds one transaction's index entries from its record (after a conflict or a crash). */
  async reindex(txnNo: string): Promise<void> {
    const record = await this.load(txnNo);
    const m = this.redis.multi();
    m.zrem(this.idx('working'), txnNo);
    m.zrem(this.idx('active'), txnNo);
    for (const s of await this.states()) m.zrem(this.idx(`state:${s}`), txnNo);
    if (record) this.addEntries(m, txnNo, record, record.needsAttention);
    await m.exec();
    if (record) await this.reindexTasks(txnNo, await this.redis.lrange(this.k(txnNo, 'tasks'), 0, -1));
    await this.reindexAttention(txnNo);
  }

  /** Repairs the indexes of writes a crash interrupted (marked dirty longer than `olderThanMs`). */
  async repairIndexes(nowMs: number, olderThanMs = 5_000): Promise<number> {
    const dirty = await this.redis.zrangebyscore(this.idx('dirty'), '-inf', nowMs - olderThanMs, 'LIMIT', 0, 1000);
    for (const txnNo of dirty) {
      await this.reindex(txnNo);
      await this.redis.zrem(this.idx('dirty'), txnNo);
    }
    return dirty.length;
  }

  /** The attention entry of a transaction: its context says so, a task is dead, or the sentinel flagged it. */
  private async reindexAttention(txnNo: string): Promise<void> {
    const wanted = await this.needsAttention(txnNo);
    if (wanted) await this.redis.zadd(this.idx('attention'), 0, txnNo);
    else await this.redis.zrem(this.idx('attention'), txnNo);
  }

  private async needsAttention(txnNo: string): Promise<boolean> {
    const [attention, stuck] = await this.redis.hmget(this.k(txnNo, 'txn'), 'attention', 'stuck');
    if (attention === '1' || stuck === '1') return true;
    const tasks = await this.tasksOf(txnNo);
    return tasks.some((t) => t.status === 'dead');
  }

  async load(txnNo: string): Promise<TransactionRecord | null> {
    const h = await this.redis.hgetall(this.k(txnNo, 'txn'));
    if (!h.version) return null;
    return {
      txnNo,
      version: Number(h.version),
      merchantId: h.merchantId ?? '',
      stationId: h.stationId ?? '',
      orderNo: h.orderNo ? h.orderNo : null,
      state: h.state ?? '',
      stateValue: JSON.parse(h.stateValue ?? 'null'),
      snapshot: JSON.parse(h.snapshot ?? 'null'),
      atRest: h.atRest === '1',
      working: h.working === '1',
      needsAttention: h.attention === '1',
      timers: JSON.parse(h.timers ?? '{}') as Record<string, number>,
      createdAt: Number(h.createdAt),
      updatedAt: Number(h.updatedAt),
    };
  }

  /** The stored version of a transaction, or null: cheaper than a load. */
  async version(txnNo: string): Promise<number | null> {
    const v = await this.redis.hget(this.k(txnNo, 'txn'), 'version');
    return v === null ? null : Number(v);
  }

  async findTxnNoByOrderNo(orderNo: string): Promise<string | null> {
    const txnNo = await this.redis.hget(this.idx('orders'), orderNo);
    if (!txnNo) return null;
    // The pointer is written before the record: trust it once the record says the same.
    return (await this.redis.hget(this.k(txnNo, 'txn'), 'orderNo')) === orderNo ? txnNo : null;
  }

  async dueTimers(nowMs: number, limit: number): Promise<DueTimer[]> {
    const raw = await this.redis.zrangebyscore(this.idx('timers'), '-inf', nowMs, 'WITHSCORES', 'LIMIT', 0, limit * 2);
    const candidates: DueTimer[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const [txnNo, name] = raw[i]!.split(SEP) as [string, string];
      candidates.push({ txnNo, name, dueAt: Number(raw[i + 1]) });
    }
    const timersOf = await this.timersOf([...new Set(candidates.map((c) => c.txnNo))]);
    const due: DueTimer[] = [];
    for (const c of candidates) {
      if (timersOf.get(c.txnNo)?.[c.name] === c.dueAt) due.push(c);
      else await this.redis.tcZremIfScore(this.idx('timers'), `${c.txnNo}${SEP}${c.name}`, c.dueAt);
    }
    return due.slice(0, limit);
  }

  private async timersOf(txnNos: string[]): Promise<Map<string, Record<string, number>>> {
    const rows = await Promise.all(txnNos.map((t) => this.redis.hget(this.k(t, 'txn'), 'timers')));
    return new Map(txnNos.map((t, i) => [t, JSON.parse(rows[i] ?? '{}') as Record<string, number>]));
  }

  async needingWork(nowMs: number, limit: number): Promise<string[]> {
    const working = await this.redis.zrange(this.idx('working'), 0, limit - 1);
    const flags = await Promise.all(working.map((t) => this.redis.hmget(this.k(t, 'txn'), 'working', 'atRest')));
    const out = new Set(working.filter((_, i) => flags[i]?.[0] === '1' && flags[i]?.[1] === '0'));
    for (const timer of await this.dueTimers(nowMs, limit)) out.add(timer.txnNo);
    return [...out].slice(0, limit);
  }

  async entries(txnNo: string): Promise<StoredJournalEntry[]> {
    const rows = await this.redis.lrange(this.k(txnNo, 'journal'), 0, -1);
    return rows.map((r, i) => ({ seq: i + 1, ...(JSON.parse(r) as JournalEntry) }));
  }

  /**
   * Follows the transition feed (see the class comment) with `XREAD BLOCK` on a connection of
   * its own, since a blocked connection serves nobody else; the connection closes when `signal`
   * aborts or the caller stops iterating.
   */
  async follow(signal: AbortSignal, cursor?: string): Promise<FeedFollow> {
    const key = this.idx('feed');
    const from = cursor === undefined ? undefined : feedPosition(cursor);
    const start = from === null ? await this.noSuchPlace(key) : from ? await this.resumeFeed(key, from) : { after: (await this.redis.xrevrange(key, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0', rest: [], gap: null };
    let after = start.after;
    // Named, so that CLIENT LIST tells an operator (and a test) what holds the connection.
    const reader = connectRedis(this.options.url, this.options.cluster ?? false, { ...this.options.redis, lazyConnect: true, enableAutoPipelining: false, connectionName: `${this.p}:feed` });
    reader.on('error', (err: unknown) => this.options.log?.debug({ err }, 'transition feed connection'));
    const close = () => reader.disconnect();
    signal.addEventListener('abort', close, { once: true });
    async function* read(): AsyncGenerator<FeedTransition> {
      try {
        yield* start.rest;
        while (!signal.aborted) {
          // Closing the connection is how an abort ends a read that is blocked.
          const reply = await reader.xread('COUNT', 500, 'BLOCK', FEED_BLOCK_MS, 'STREAMS', key, after).catch((err: unknown) => {
            if (signal.aborted) return null;
            throw err;
          });
          for (const [id, fields] of reply?.[0]?.[1] ?? []) {
            after = id;
            yield* feedEntries(id, fields);
          }
        }
      } finally {
        signal.removeEventListener('abort', close);
        reader.disconnect();
      }
    }
    return Object.assign(read(), { gap: start.gap });
  }

  /**
   * Where following from `from` starts, and the rest of its save when the reader stopped inside
   * one. Trimming (`MAXLEN ~`) drops the oldest saves first, so while the save `from.feedId` is in
   * the feed everything after it is too and the resume is exact. Once it is gone, the saves after
   * it may be gone as well: that is a gap, unless `from` still lies inside the range the feed
   * keeps. The first kept id is all Redis tells of what was trimmed (`max-deleted-entry-id`
   * counts XDEL only), so a reader whose save was precisely the newest one trimmed is told of a
   * gap it did not have: told wrongly once, rather than never told of a real one. The check and
   * the first read are two commands; a trim in between would need a whole cap of saves in that
   * moment.
   */
  private async resumeFeed(key: string, from: FeedPosition): Promise<{ after: string; rest: FeedTransition[]; gap: FeedGap | null }> {
    const [kept] = await this.redis.xrange(key, from.feedId, from.feedId);
    if (kept) return { after: from.feedId, rest: from.seen === undefined ? [] : feedEntries(kept[0], kept[1]).slice(from.seen), gap: null };
    const info = await this.feedInfo(key);
    const last = info?.lastId ?? '0-0';
    const older = info?.firstId === undefined || compareStreamIds(from.feedId, info.firstId) < 0;
    const newer = compareStreamIds(from.feedId, last) > 0;
    const gap = (reason: FeedGap['reason']) => ({ after: last, rest: [], gap: { reason, resumedAfter: last } });
    if (newer) return gap('unknown');
    // Inside a save the feed no longer holds: the rest of that save is lost whatever came after.
    if (from.seen !== undefined) return gap(older ? 'trimmed' : 'unknown');
    if (!older || compareStreamIds(from.feedId, last) === 0) return { after: from.feedId, rest: [], gap: null };
    return gap('trimmed');
  }

  /** A cursor of another form than this feed issues: a gap, following from the latest save. */
  private async noSuchPlace(key: string): Promise<{ after: string; rest: FeedTransition[]; gap: FeedGap }> {
    const last = (await this.feedInfo(key))?.lastId ?? '0-0';
    return { after: last, rest: [], gap: { reason: 'unknown', resumedAfter: last } };
  }

  /** The feed's first kept and last added ids (`XINFO STREAM`); null when there is no feed yet. */
  private async feedInfo(key: string): Promise<{ firstId: string | undefined; lastId: string } | null> {
    let reply: unknown;
    try {
      reply = await this.redis.xinfo('STREAM', key);
    } catch (err) {
      if (err instanceof Error && /no such key/i.test(err.message)) return null;
      throw err;
    }
    const fields = new Map<string, unknown>();
    const flat = reply as unknown[];
    for (let i = 0; i + 1 < flat.length; i += 2) fields.set(String(flat[i]), flat[i + 1]);
    const first = fields.get('first-entry') as [string, string[]] | null | undefined;
    return { firstId: first?.[0], lastId: String(fields.get('last-generated-id') ?? '0-0') };
  }

  // ── idempotency ───────────────────────────────────────────────────────────────────────────

  private idemKey(key: string): string {
    return `${this.p}:idem:{${key}}`;
  }

  async claimIdempotencyKey(key: string, fingerprint: string, nowMs: number, lease: IdempotencyLease): Promise<IdempotencyClaim> {
    const [status, a, b] = await this.redis.tcClaimIdempotency(this.idemKey(key), fingerprint, nowMs, this.idempotencyRetentionMs, lease.owner, lease.leaseUntil, lease.runId);
    if (status === 'claimed' || status === 'mismatch') return { status };
    if (status === 'in-progress') return { status, owner: a ?? '', leaseUntil: Number(b) };
    if (status === 'taken-over') return { status, runId: a ?? lease.runId, txnNo: b ? b : null };
    return { status: 'done', response: JSON.parse(a ?? 'null') as StoredResponse };
  }

  async renewIdempotencyKey(key: string, owner: string, leaseUntil: number): Promise<boolean> {
    return (await this.redis.tcOwnIdempotency(this.idemKey(key), owner, 'leaseUntil', leaseUntil)) === 1;
  }

  async noteIdempotencyTxn(key: string, owner: string, txnNo: string): Promise<boolean> {
    return (await this.redis.tcOwnIdempotency(this.idemKey(key), owner, 'txnNo', txnNo)) === 1;
  }

  async completeIdempotencyKey(key: string, owner: string, response: StoredResponse): Promise<void> {
    await this.redis.tcCompleteIdempotency(this.idemKey(key), JSON.stringify(response), this.idempotencyRetentionMs, owner);
  }

  async releaseIdempotencyKey(key: string, owner: string): Promise<void> {
    await this.redis.tcReleaseIdempotency(this.idemKey(key), owner);
  }

  /** Nothing to do: every idempotency key carries the retention as its TTL (see the claim script). */
  async purgeIdempotency(_olderThanMs: number, _limit: number): Promise<number> {
    return 0;
  }

  // ── tasks ─────────────────────────────────────────────────────────────────────────────────

  async dueTasks(nowMs: number, limit: number): Promise<TaskRecord[]> {
    const raw = await this.redis.zrangebyscore(this.idx('tasks'), '-inf', nowMs, 'WITHSCORES', 'LIMIT', 0, limit * 2);
    const out: TaskRecord[] = [];
    for (let i = 0; i < raw.length && out.length < limit; i += 2) {
      const [txnNo, task] = raw[i]!.split(SEP) as [string, string];
      const record = await this.task(txnNo, task);
      if (record && record.status === 'pending' && record.nextRunAt !== null && record.nextRunAt <= nowMs) out.push(record);
      else await this.redis.tcZremIfScore(this.idx('tasks'), raw[i]!, Number(raw[i + 1]));
    }
    return out.sort((a, b) => (a.nextRunAt ?? 0) - (b.nextRunAt ?? 0));
  }

  /** One task of a transaction, or null. */
  async task(txnNo: string, task: string): Promise<TaskRecord | null> {
    return toTask(txnNo, task, await this.redis.hgetall(this.taskKey(txnNo, task)));
  }

  async claimTask(txnNo: string, task: string, nowMs: number): Promise<boolean> {
    const claimed = (await this.redis.tcTaskMove(this.taskKey(txnNo, task), 'pending', nowMs, 'status', 'running')) === 1;
    if (claimed) {
      const member = `${txnNo}${SEP}${task}`;
      await new IndexWrites(this.redis).zadd(this.idx('running'), nowMs, member).zrem(this.idx('tasks'), member).exec();
    }
    return claimed;
  }

  async finishTask(
    txnNo: string,
    task: string,
    o: TaskOutcome,
    nowMs: number,
  ): Promise<void> {
    const member = `${txnNo}${SEP}${task}`;
    // Scheduled first, so a crash after it leaves an entry the reader skips, not a pending task nobody lists.
    if (o.status === 'pending' && o.nextRunAt !== null) await this.redis.zadd(this.idx('tasks'), o.nextRunAt, member);
    if (o.status === 'dead') await this.redis.zadd(this.idx('attention'), 0, txnNo);
    const fields: (string | number)[] = ['status', o.status, 'attempts', o.attempts, 'lastError', o.lastError ?? '', 'nextRunAt', o.nextRunAt ?? '', 'result', o.result ? JSON.stringify(o.result) : ''];
    if (o.refusals !== undefined) fields.push('refusals', o.refusals);
    await this.redis.tcTaskMove(this.taskKey(txnNo, task), '', nowMs, ...fields);
    const m = new IndexWrites(this.redis).zrem(this.idx('running'), member);
    if (o.status !== 'pending') m.zrem(this.idx('tasks'), member);
    // A task done can only take the transaction off the attention list: look further only when it
    // is on it (the list holds too much, never too little), which most finishing tasks are not.
    if (o.status === 'done') m.zscore(this.idx('attention'), txnNo);
    const replies = await m.exec();
    if (o.status === 'done' && replies.at(-1) !== null) await this.reindexAttention(txnNo);
  }

  async tasksOf(txnNo: string): Promise<TaskRecord[]> {
    const names = await this.redis.lrange(this.k(txnNo, 'tasks'), 0, -1);
    const rows = await Promise.all(names.map((n) => this.redis.hgetall(this.taskKey(txnNo, n))));
    return names.map((n, i) => toTask(txnNo, n, rows[i]!)).filter((t): t is TaskRecord => t !== null);
  }

  async reviveTask(txnNo: string, task: string, nowMs: number): Promise<boolean> {
    await this.redis.zadd(this.idx('tasks'), nowMs, `${txnNo}${SEP}${task}`);
    const revived = (await this.redis.tcTaskMove(this.taskKey(txnNo, task), 'dead', nowMs, 'status', 'pending', 'attempts', 0, 'nextRunAt', nowMs)) === 1;
    await this.reindexAttention(txnNo);
    return revived;
  }

  async requeueRunningTasks(nowMs: number): Promise<number> {
    const running = await this.redis.zrange(this.idx('running'), 0, -1);
    let requeued = 0;
    for (const member of running) {
      const [txnNo, task] = member.split(SEP) as [string, string];
      await this.redis.zadd(this.idx('tasks'), nowMs, member);
      if ((await this.redis.tcTaskMove(this.taskKey(txnNo, task), 'running', nowMs, 'status', 'pending', 'nextRunAt', nowMs)) === 1) requeued++;
      await this.redis.zrem(this.idx('running'), member);
    }
    return requeued;
  }

  // ── admin list and sentinel ───────────────────────────────────────────────────────────────

  async listTransactions(filter: { state?: string; needsAttention?: boolean; limit: number; before?: string }): Promise<{ txnNo: string; state: string; updatedAt: number }[]> {
    const index = filter.needsAttention ? this.idx('attention') : filter.state ? this.idx(`state:${filter.state}`) : this.idx('all');
    const out: { txnNo: string; state: string; updatedAt: number }[] = [];
    let max = filter.before ? `(${filter.before}` : '+';
    while (out.length < filter.limit) {
      const page = await this.redis.zrevrangebylex(index, max, '-', 'LIMIT', 0, filter.limit * 2);
      if (!page.length) break;
      const rows = await Promise.all(page.map((t) => this.redis.hmget(this.k(t, 'txn'), 'state', 'updatedAt')));
      for (let i = 0; i < page.length && out.length < filter.limit; i++) {
        const [state, updatedAt] = rows[i] ?? [];
        if (!state) continue;
        if (filter.state && state !== filter.state) continue;
        if (filter.needsAttention && !(await this.needsAttention(page[i]!))) continue;
        out.push({ txnNo: page[i]!, state, updatedAt: Number(updatedAt) });
      }
      max = `(${page.at(-1)}`;
    }
    return out;
  }

  async idleTransactions(updatedBefore: number, limit: number): Promise<IdleTransaction[]> {
    const txnNos = await this.redis.zrangebyscore(this.idx('active'), '-inf', updatedBefore, 'LIMIT', 0, limit);
    const out: IdleTransaction[] = [];
    for (const txnNo of txnNos) {
      const [version, state, updatedAt, atRest, working, timers, stuck] = await this.redis.hmget(this.k(txnNo, 'txn'), 'version', 'state', 'updatedAt', 'atRest', 'working', 'timers', 'stuck');
      if (!version || atRest === '1' || Number(updatedAt) > updatedBefore) continue;
      out.push({ txnNo, version: Number(version), state: state ?? '', updatedAt: Number(updatedAt), working: working === '1', timers: JSON.parse(timers ?? '{}') as Record<string, number>, stuck: stuck === '1' });
    }
    return out;
  }

  async recordNudge(txnNo: string, version: number): Promise<number> {
    return this.redis.tcNudge(this.k(txnNo, 'txn'), version);
  }

  async markStuck(txnNo: string, version: number): Promise<boolean> {
    const current = await this.version(txnNo);
    if (current !== version) return false;
    await this.redis.zadd(this.idx('attention'), 0, txnNo);
    await this.redis.zadd(this.idx('stuck'), 0, txnNo);
    await this.redis.hset(this.k(txnNo, 'txn'), 'stuck', 1);
    return true;
  }

  async stuckCount(): Promise<number> {
    let count = 0;
    for (const txnNo of await this.redis.zrange(this.idx('stuck'), 0, -1)) {
      if ((await this.redis.hget(this.k(txnNo, 'txn'), 'stuck')) === '1') count++;
      else {
        await this.redis.zrem(this.idx('stuck'), txnNo);
        await this.reindexAttention(txnNo);
      }
    }
    return count;
  }

  /** Counts for metrics, from the indexes (a crash may leave one briefly over-counted). */
  async stats(idleBefore: number): Promise<StoreStats> {
    const states = await this.states();
    const m = this.redis.multi();
    for (const state of states) m.zcard(this.idx(`state:${state}`));
    m.zcard(this.idx('attention'));
    m.zrangebyscore(this.idx('active'), '-inf', idleBefore, 'LIMIT', 0, 10_000);
    const replies = ((await m.exec()) ?? []).map(([, v]) => v);
    const byState: Record<string, number> = {};
    states.forEach((state, i) => {
      const n = Number(replies[i]);
      if (n > 0) byState[state] = n;
    });
    const idleTxns = (replies[states.length + 1] as string[]) ?? [];
    const idleStates = await Promise.all(idleTxns.map((t) => this.redis.hget(this.k(t, 'txn'), 'state')));
    return { byState, needsAttention: Number(replies[states.length]), idle: idleStates.filter((x) => x !== null && x !== 'quoted').length };
  }

  /** Takes the sentinel's turn for `periodMs` (SET NX PX): true for one caller a period across processes. */
  async claimScan(periodMs: number): Promise<boolean> {
    return (await this.redis.set(this.idx('sentinel-scan'), String(process.pid), 'PX', Math.max(1, Math.floor(periodMs * 0.9)), 'NX')) === 'OK';
  }

  /** Fails after `timeoutMs` when Redis does not answer (commands otherwise wait for it to return). */
  async ping(timeoutMs = 1_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const silent = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.redis.ping(), silent]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.redis.status !== 'end') await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/**
 * The transitions of one feed entry (`t` txnNo, `j` the save's journal entries as a JSON array).
 * A save's transitions share one stream id, so a cursor names the place *in* the save: the last
 * transition carries the id itself (resume after the whole save), an earlier one `<id>/<n>` (the
 * first n were had: resume with the rest). A follower cut off in the middle of a save then
 * neither misses its rest nor sees its start twice.
 */
function feedEntries(feedId: string, fields: string[]): FeedTransition[] {
  let txnNo = '';
  let entries: JournalEntry[] = [];
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] === 't') txnNo = fields[i + 1]!;
    else if (fields[i] === 'j') entries = JSON.parse(fields[i + 1]!) as JournalEntry[];
  }
  return entries.map((e, i) => ({ ...e, txnNo, cursor: i + 1 === entries.length ? feedId : `${feedId}/${i + 1}` }));
}

/** The place a cursor names, or null when it is none this feed issues. */
function feedPosition(cursor: string): FeedPosition | null {
  if (!new RegExp(FEED_CURSOR).test(cursor)) return null;
  const [feedId = '', seen] = cursor.split('/');
  return seen === undefined ? { feedId } : { feedId, seen: Number(seen) };
}

/** Orders two stream ids (`<ms>-<seq>`, each up to 2^64 - 1: too big for a number). */
function compareStreamIds(a: string, b: string): number {
  const [am = 0n, as = 0n] = a.split('-').map(BigInt);
  const [bm = 0n, bs = 0n] = b.split('-').map(BigInt);
  if (am !== bm) return am < bm ? -1 : 1;
  return as === bs ? 0 : as < bs ? -1 : 1;
}

/** What a task record keeps of its spec: everything but the name, which is its key. */
function specOf(t: TaskSpec): Omit<TaskSpec, 'task'> {
  return { kind: t.kind, system: t.system, core: t.core, maxAttempts: t.maxAttempts, payload: t.payload };
}

function toTask(txnNo: string, task: string, h: Record<string, string>): TaskRecord | null {
  if (!h.spec) return null;
  const spec = JSON.parse(h.spec) as Omit<TaskSpec, 'task'>;
  return {
    txnNo,
    task,
    ...spec,
    status: h.status as TaskStatus,
    attempts: Number(h.attempts ?? 0),
    lastError: h.lastError ? h.lastError : null,
    nextRunAt: h.nextRunAt ? Number(h.nextRunAt) : null,
    refusals: Number(h.refusals ?? 0),
    result: h.result ? (JSON.parse(h.result) as Record<string, unknown>) : null,
    updatedAt: Number(h.updatedAt ?? 0),
  };
}

/** The scale-out storage: every concept over one Redis (or Cluster) client. */
export function redisStorage(store: RedisTransactionStore): Storage {
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
