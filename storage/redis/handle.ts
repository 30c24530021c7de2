import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../../runtime/clock.ts';
import { DEFAULT_IDEMPOTENCY_RETENTION_MS, type TransactionRecord } from '../types.ts';
import { CLAIM_IDEMPOTENCY, CLAIM_TURN, COMPLETE_IDEMPOTENCY, FEED_APPEND, NUDGE, OWN_IDEMPOTENCY, REINSTATE, RELEASE_IDEMPOTENCY, REMOVE_ARCHIVED, SAVE, SAVE_QUOTE, TASK_MOVE, TASK_START, ZREM_IF_SCORE } from './scripts.ts';

/** Options of {@link RedisHandle}. */
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
   * stream nodes, so it may hold up to a node more); `DEFAULT_FEED_MAX_LEN` (transition-feed.ts) by default.
   */
  feedMaxLen?: number;
  /**
   * How long the transition feed keeps a save, ms (`MINID ~`, counted on Redis's clock from the
   * newest save); `DEFAULT_FEED_KEEP_MS` (transition-feed.ts) by default.
   */
  feedKeepMs?: number;
  /** The runtime's clock: the periodic turns (sentinel scan, archive pass) run until a time of it. */
  clock?: Clock;
}

/** The scripts of scripts.ts, as commands of the client. */
export interface Scripts {
  tcSave(...args: (string | number)[]): Promise<(string | number)[]>;
  tcSaveQuote(...args: (string | number)[]): Promise<number[]>;
  tcClaimIdempotency(key: string, fingerprint: string, now: number, retentionMs: number, owner: string, leaseUntil: number, runId: string): Promise<string[]>;
  tcOwnIdempotency(key: string, owner: string, ...fields: (string | number)[]): Promise<number>;
  tcCompleteIdempotency(key: string, response: string, retentionMs: number, owner: string): Promise<number>;
  tcReleaseIdempotency(key: string, owner: string): Promise<number>;
  tcTaskMove(key: string, ...args: (string | number)[]): Promise<number>;
  tcTaskStart(key: string, nowMs: number): Promise<(string | number)[]>;
  tcNudge(key: string, version: number): Promise<number>;
  tcZremIfScore(key: string, member: string, score: number): Promise<number>;
  tcRemoveArchived(...args: (string | number)[]): Promise<(string | number)[]>;
  tcReinstate(...args: (string | number)[]): Promise<number>;
  tcClaimTurn(key: string, now: number, until: number, px: number): Promise<number>;
  tcFeedAppend(key: string, maxLen: number, keepMs: number, txnNo: string, entries: string): Promise<string>;
}

/** What a record's index entries are made from: fields the host derived into the save record. */
export type IndexedFields = Pick<TransactionRecord, 'state' | 'orderNo' | 'working' | 'atRest' | 'updatedAt' | 'timers' | 'finalAt'>;

export type Multi = ReturnType<Redis['multi']>;

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

/**
 * Index writes that go around a save or a task move (see the store's class comment). On one Redis
 * they are plain commands: auto-pipelining sends them on the one connection, in call order and in
 * the same write as the script issued after them, so the intent still lands first, at no round
 * trip or MULTI of its own. On a Cluster the index slot lives on its own node: one MULTI there.
 */
export class IndexWrites {
  private readonly multi: Multi | null;
  private readonly replies: Promise<unknown>[] = [];

  /**
   * `unawaited`: writes nobody waits for (sent, then left to the repair pass if lost). On one Redis
   * they go as an explicit pipeline, written when `exec` is called: auto-pipelined commands wait for
   * the next tick, and a reader's MULTI issued before that tick would overtake them, reading the
   * index as it was before a save already acknowledged.
   */
  constructor(private readonly redis: Redis | Cluster, unawaited = false) {
    this.multi = redis instanceof Cluster ? redis.multi() : unawaited ? redis.pipeline() : null;
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

  hdel(key: string, field: string): this {
    return this.add('hdel', key, field);
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
export const SEP = '\u0001';

/**
 * The scale-out storage's shared handle (DESIGN.md "Two deployments"): the client, the key layout
 * and the index helpers every concept's file writes through. A transaction's keys share the hash tag
 * `{txnNo}` (`tc:{T…}:txn`, `:journal`, `:tasks`, `:task:<name>`, `:lease`), so the save
 * script (version compare-and-set, journal, tasks) is atomic on one node and on Redis Cluster.
 *
 * The indexes the runtime scans (due timers, running work, due tasks, the admin list, idle
 * transactions, order numbers) live in their own slot `tc:{idx}:…` and are written around the save, never
 * inside it: entries are added *before* the compare-and-set and stale ones removed after it, with
 * the transaction marked `dirty` meanwhile. An index may so list too much (after a crash or a
 * conflict), never too little; every reader checks each entry against the record, and
 * the sentinel index's `repairIndexes` repairs the entries of a write that a crash interrupted.
 * The transition feed `tc:{idx}:feed` is transition-feed.ts's.
 */
export class RedisHandle {
  readonly redis: (Redis | Cluster) & Scripts;
  readonly prefix: string;
  readonly idempotencyRetentionMs: number;
  readonly clock: Clock;

  constructor(readonly options: RedisStoreOptions) {
    this.clock = options.clock ?? systemClock;
    this.prefix = options.prefix ?? 'tc';
    this.idempotencyRetentionMs = options.idempotencyRetentionMs ?? DEFAULT_IDEMPOTENCY_RETENTION_MS;
    this.redis = connectRedis(options.url, options.cluster ?? false, { enableAutoPipelining: true, ...options.redis }) as (Redis | Cluster) & Scripts;
    this.redis.defineCommand('tcSave', { lua: SAVE });
    this.redis.defineCommand('tcSaveQuote', { lua: SAVE_QUOTE, numberOfKeys: 3 });
    this.redis.defineCommand('tcClaimIdempotency', { lua: CLAIM_IDEMPOTENCY, numberOfKeys: 1 });
    this.redis.defineCommand('tcOwnIdempotency', { lua: OWN_IDEMPOTENCY, numberOfKeys: 1 });
    this.redis.defineCommand('tcCompleteIdempotency', { lua: COMPLETE_IDEMPOTENCY, numberOfKeys: 1 });
    this.redis.defineCommand('tcReleaseIdempotency', { lua: RELEASE_IDEMPOTENCY, numberOfKeys: 1 });
    this.redis.defineCommand('tcTaskMove', { lua: TASK_MOVE, numberOfKeys: 1 });
    this.redis.defineCommand('tcTaskStart', { lua: TASK_START, numberOfKeys: 1 });
    this.redis.defineCommand('tcNudge', { lua: NUDGE, numberOfKeys: 1 });
    this.redis.defineCommand('tcZremIfScore', { lua: ZREM_IF_SCORE, numberOfKeys: 1 });
    this.redis.defineCommand('tcRemoveArchived', { lua: REMOVE_ARCHIVED });
    this.redis.defineCommand('tcReinstate', { lua: REINSTATE });
    this.redis.defineCommand('tcClaimTurn', { lua: CLAIM_TURN, numberOfKeys: 1 });
    this.redis.defineCommand('tcFeedAppend', { lua: FEED_APPEND, numberOfKeys: 1 });
  }

  /**
   * Takes the periodic turn `name` for most of `periodMs` (nine tenths, so the next period's
   * caller finds it free): true for one caller a period across processes.
   */
  async claimTurn(name: string, periodMs: number): Promise<boolean> {
    const now = this.clock.now();
    const span = Math.max(1, Math.floor(periodMs * 0.9));
    return (await this.redis.tcClaimTurn(this.idx(name), now, now + span, span)) === 1;
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

  k(txnNo: string, part: string): string {
    return `${this.prefix}:{${txnNo}}:${part}`;
  }

  /** Key of a transaction's lease (runtime/lease.ts takes it). */
  leaseKey(txnNo: string): string {
    return this.k(txnNo, 'lease');
  }

  /** Key of a transaction's record hash. */
  txnKey(txnNo: string): string {
    return this.k(txnNo, 'txn');
  }

  idx(name: string): string {
    return `${this.prefix}:{idx}:${name}`;
  }

  taskKey(txnNo: string, task: string): string {
    return this.k(txnNo, `task:${task}`);
  }

  idemKey(key: string): string {
    return `${this.prefix}:idem:{${key}}`;
  }

  // ── indexes ───────────────────────────────────────────────────────────────────────────────

  /** Adds the index entries a record calls for (idempotent). */
  addEntries(m: Multi | IndexWrites, txnNo: string, r: IndexedFields, attention: boolean): void {
    m.zadd(this.idx('all'), 0, txnNo);
    m.zadd(this.idx(`state:${r.state}`), 0, txnNo);
    this.noteState(r.state);
    if (r.orderNo) m.hset(this.idx('orders'), r.orderNo, txnNo);
    if (attention) m.zadd(this.idx('attention'), 0, txnNo);
    if (r.working && !r.atRest) m.zadd(this.idx('working'), r.updatedAt, txnNo);
    if (!r.atRest) m.zadd(this.idx('active'), r.updatedAt, txnNo);
    if (r.finalAt !== null) m.zadd(this.idx('final'), r.finalAt, txnNo);
    for (const [name, due] of Object.entries(r.timers)) m.zadd(this.idx('timers'), due, `${txnNo}${SEP}${name}`);
  }

  /** Removes the entries a stored record no longer calls for. */
  removeStale(m: IndexWrites, txnNo: string, r: IndexedFields, previousTimers: Record<string, number>, previousState: string): void {
    if (previousState && previousState !== r.state) m.zrem(this.idx(`state:${previousState}`), txnNo);
    if (!(r.working && !r.atRest)) m.zrem(this.idx('working'), txnNo);
    if (r.atRest) m.zrem(this.idx('active'), txnNo);
    if (r.finalAt === null) m.zrem(this.idx('final'), txnNo);
    for (const [name, due] of Object.entries(previousTimers)) {
      if (r.timers[name] !== due) m.zrem(this.idx('timers'), `${txnNo}${SEP}${name}`);
    }
  }

  /** Puts the due-task entries of tasks already stored back in line with their records. */
  async reindexTasks(txnNo: string, names: string[]): Promise<void> {
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
  noteState(state: string): void {
    if (this.seenStates.has(state)) return;
    this.seenStates.add(state);
    void this.redis.sadd(this.idx('states'), state).catch((err: unknown) => {
      this.seenStates.delete(state);
      this.options.log?.warn({ err }, 'registering a state index failed');
    });
  }

  async states(): Promise<string[]> {
    return (await this.redis.smembers(this.idx('states'))).sort();
  }

  /** Rebuilds one transaction's index entries from its record (after a conflict or a crash). */
  async reindex(txnNo: string): Promise<void> {
    const record = parseRecord(txnNo, await this.redis.hgetall(this.k(txnNo, 'txn')));
    const m = this.redis.multi();
    m.zrem(this.idx('working'), txnNo);
    m.zrem(this.idx('active'), txnNo);
    m.zrem(this.idx('final'), txnNo);
    for (const s of await this.states()) m.zrem(this.idx(`state:${s}`), txnNo);
    if (record) this.addEntries(m, txnNo, record, record.needsAttention);
    await m.exec();
    if (record) await this.reindexTasks(txnNo, await this.redis.lrange(this.k(txnNo, 'tasks'), 0, -1));
    await this.reindexAttention(txnNo);
  }

  /** The attention entry of a transaction: its context says so, a task is dead, or the sentinel flagged it. */
  async reindexAttention(txnNo: string): Promise<void> {
    const wanted = await this.needsAttention(txnNo);
    if (wanted) await this.redis.zadd(this.idx('attention'), 0, txnNo);
    else await this.redis.zrem(this.idx('attention'), txnNo);
  }

  async needsAttention(txnNo: string): Promise<boolean> {
    const [attention, stuck] = await this.redis.hmget(this.k(txnNo, 'txn'), 'attention', 'stuck');
    if (attention === '1' || stuck === '1') return true;
    const names = await this.redis.lrange(this.k(txnNo, 'tasks'), 0, -1);
    const statuses = await Promise.all(names.map((n) => this.redis.hget(this.taskKey(txnNo, n), 'status')));
    return statuses.includes('dead');
  }

  /** The stored version of a transaction, or null: cheaper than a load. */
  async version(txnNo: string): Promise<number | null> {
    const v = await this.redis.hget(this.k(txnNo, 'txn'), 'version');
    return v === null ? null : Number(v);
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

export function parseRecord(txnNo: string, h: Record<string, string>): TransactionRecord | null {
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
    finalAt: h.finalAt ? Number(h.finalAt) : null,
    timers: JSON.parse(h.timers ?? '{}') as Record<string, number>,
    createdAt: Number(h.createdAt),
    updatedAt: Number(h.updatedAt),
  };
}
