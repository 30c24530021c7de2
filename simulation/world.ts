import { AsyncLocalStorage } from 'node:async_hooks';
import { archiverConfig, type ArchiveFailpoint } from '../runtime/archiver.ts';
import { DEMO_API_KEY } from '../domain/api-key.ts';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { IdGenerator } from '../domain/ids.ts';
import { buildApp } from '../http/app.ts';
import type { ProvidedMachine } from '../runtime/transaction-host.ts';
import { createTradeCenter, DEFAULT_CONFIG, type TradeCenter, type TradeCenterConfig } from '../runtime/trade-center.ts';
import { openSqliteStorage } from '../storage/sqlite/storage.ts';
import type { Storage } from '../storage/types.ts';
import type { SystemName } from '../systems/contract.ts';
import type { Systems } from '../systems/index.ts';
import { createSimulators, type Dataset, type Simulators } from '../systems/sim/index.ts';
import { txnNoIn } from './invariants.ts';
import type { Prng } from './prng.ts';
import type { OpenedStore } from './redis-backend.ts';
import { VirtualTime } from './virtual-time.ts';

/** One downstream call the platform made, as the simulation saw it leave and (maybe) come back. */
export interface CallRecord {
  at: number;
  incarnation: number;
  system: SystemName;
  verb: string;
  txnNo: string | null;
  /** The call key `txnNo:step`, for keyed verbs. */
  key: string | null;
  request: unknown;
  /** `ok`, `refused CODE`, `fault: …`, or `lost` (the caller crashed first); `pending` until then. */
  outcome: string;
  /** Made on behalf of a shadow quote (`POST /v1/shadow/quotes`), or of anything it set off. */
  forShadow: boolean;
}

/** One API answer, as the workload got it; status 0 is a connection the platform's crash cut. */
export interface Reply {
  status: number;
  body: unknown;
}

export interface ResponseRecord {
  at: number;
  method: string;
  url: string;
  status: number;
  code: string | null;
}

export const DEMO_KEY = DEMO_API_KEY;
const CALLBACK_BASE = 'http://platform.sim';
const NEVER = new Promise<never>(() => undefined);

interface Incarnation {
  n: number;
  tc: TradeCenter;
  app: FastifyInstance;
  dead: boolean;
  died: Promise<Reply>;
  die: () => void;
  crashStore: () => void;
}

/** The simulation's quiet period before a final transaction is archived: short, so refunds find sales archived. */
export const ARCHIVE_AFTER_MS = 120_000;

export interface WorldOptions {
  seed: number;
  dir: string;
  dataset: Dataset;
  prng: Prng;
  /** The run's virtual time (a fresh one by default). */
  time?: VirtualTime;
  /** Storage per incarnation on the same data; the SQLite file in `dir` by default. */
  openStorage?: (n: number) => OpenedStore;
  adjustMachine?: (machine: ProvidedMachine, systems: Systems) => ProvidedMachine;
  /** Called at the archiver's named points (the run crashes the platform at some). */
  archivePoint?: (point: ArchiveFailpoint) => void;
}

/**
 * The platform and its downstream world in one process on virtual time. The simulators live for
 * the whole run (their SQLite file is the downstream world's memory); the platform is an
 * *incarnation*: a Trade Center and its fastify app on the same store, killed by {@link crash}
 * as kill -9 would kill it (its open group commit lost, nothing it was doing answered or
 * continued: its calls and writes still under way are fenced off and never come back) and
 * started again by {@link boot}, which rehydrates from the store as a restarted process does.
 */
export class World {
  readonly time: VirtualTime;
  readonly sims: Simulators;
  readonly calls: CallRecord[] = [];
  /**
   * Set inside a shadow quote's request: every downstream call it makes, and any work it sets off
   * (an actor, a timer), runs in this context, so its calls are told apart from the sales'.
   */
  private readonly shadowRequest = new AsyncLocalStorage<true>();
  readonly failures: ResponseRecord[] = [];
  private current: Incarnation | null = null;
  private incarnations = 0;
  private readonly ids: Prng;
  private readonly config: TradeCenterConfig;

  constructor(private readonly options: WorldOptions) {
    this.time = options.time ?? new VirtualTime();
    this.ids = options.prng.fork('ids');
    const nonces = options.prng.fork('nonces');
    this.config = {
      ...DEFAULT_CONFIG,
      dataset: options.dataset,
      dbPath: join(options.dir, 'trade.db'),
      simDbPath: join(options.dir, 'sim.db'),
      callbackBaseUrl: CALLBACK_BASE,
      callbackDelayMs: 0,
      logLevel: 'silent',
      // The run drives timers, tasks, scans and purges on virtual time (see Simulation.drive).
      timerPollMs: 2_000_000_000,
      tasks: { ...DEFAULT_CONFIG.tasks, pollMs: 2_000_000_000, runOnArrival: true },
      sentinel: { scanMs: 2_000_000_000, idleMs: { default: 60_000 }, graceMs: 30_000, maxNudges: 3 },
      idempotency: { ...DEFAULT_CONFIG.idempotency, purgeEveryMs: 2_000_000_000 },
      // Nothing changes the routing table during a run: no real-time re-reads of it.
      routing: { ...DEFAULT_CONFIG.routing, refreshMs: 2_000_000_000 },
      // The run drives the OS sync's delivery loop on virtual time (see Simulation.drive): no real-time passes.
      osSync: { ...DEFAULT_CONFIG.osSync, pollMs: 2_000_000_000 },
      // Bills are no part of the simulated world's invariants: no daily reconciliation on virtual time.
      recon: { ...DEFAULT_CONFIG.recon, daily: false },
      // A short quiet period, so that sales are archived and refunds find them archived.
      archive: { ...archiverConfig(ARCHIVE_AFTER_MS), everyMs: 2_000_000_000 },
    };
    this.sims = createSimulators({
      // The downstream world lives as long as this process and only it reads it (the checker on
      // this very connection): in memory, its commits write no WAL (they cost 2 % of a run).
      dbPath: ':memory:',
      dataset: options.dataset,
      clock: this.time.clock,
      reset: true,
      faultSeed: options.seed,
      timing: { sleep: (ms) => this.time.sleep(ms) },
      callback: {
        baseUrl: CALLBACK_BASE,
        secret: this.config.callbackSecret,
        transport: (url, request) => this.deliverCallback(url, request.headers, request.body),
        nonce: () => nonces.hex(32),
      },
    });
  }

  get up(): boolean {
    return this.current !== null;
  }

  get incarnation(): number {
    return this.incarnations;
  }

  /** The running Trade Center; throws while the platform is down. */
  get tc(): TradeCenter {
    if (!this.current) throw new Error('the platform is down');
    return this.current.tc;
  }

  /** Starts an incarnation on the store as the last one left it. */
  async boot(): Promise<void> {
    if (this.current) throw new Error('the platform is already up');
    const n = ++this.incarnations;
    const opened = this.options.openStorage?.(n) ?? this.openSqlite();
    let die!: () => void;
    const died = new Promise<Reply>((resolve) => (die = () => resolve({ status: 0, body: null })));
    const inc = { n, dead: false, died, die, crashStore: opened.crash } as Incarnation;
    const time = this.time;
    const ids = this.ids.fork(`incarnation-${n}`);
    const tc = createTradeCenter(this.config, {
      clock: time.clock,
      log: pino({ level: 'silent' }),
      sims: this.sims,
      systems: (systems) => this.fenceSystems(systems, inc),
      storage: fenceStorage(opened.storage, inc),
      // A fixed node id per incarnation: numbers stay unique across restarts (as a new process's
      // random one keeps them) and the same seed gives the same numbers.
      ids: new IdGenerator(() => time.now(), nodeId(n)),
      sleep: time.sleep,
      after: time.after,
      requestId: () => ids.hex(32),
      ...(this.options.adjustMachine ? { adjustMachine: this.options.adjustMachine } : {}),
      ...(this.options.archivePoint ? { archivePoint: this.options.archivePoint } : {}),
      // The store's other parts on the same connection, fenced as the storage is.
      ...(opened.deps?.leases ? { leases: fence(opened.deps.leases, inc) } : {}),
      ...(opened.deps?.callbackNonces ? { callbackNonces: fence(opened.deps.callbackNonces, inc) } : {}),
      ...(opened.deps?.routingStore ? { routingStore: fence(opened.deps.routingStore, inc) } : {}),
    });
    inc.tc = tc;
    inc.app = await buildApp(tc);
    await inc.app.ready();
    this.current = inc;
    await tc.start();
  }

  /** kill -9: the incarnation stops mid-flight; the simulators keep their state. */
  crash(): void {
    const inc = this.current;
    if (!inc) return;
    this.current = null;
    inc.dead = true;
    inc.crashStore();
    inc.die();
    for (const call of this.calls) if (call.incarnation === inc.n && call.outcome === 'pending') call.outcome = 'lost';
  }

  /** Closes the running incarnation gracefully (end of run) and the simulators. */
  async close(): Promise<void> {
    const inc = this.current;
    this.current = null;
    if (inc) {
      await inc.app.close();
      await inc.tc.close();
    }
    await this.sims.close();
  }

  /** One API request as a channel makes it; a crash while it is in flight answers status 0. */
  async request(method: 'GET' | 'POST', url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    const inc = this.current;
    if (!inc) return { status: 0, body: null };
    const inject = () => inc.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${DEMO_KEY}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    });
    const answer = (url.startsWith('/v1/shadow/') ? this.shadowRequest.run(true, inject) : inject())
      .then((res): Reply => ({ status: res.statusCode, body: res.body ? (JSON.parse(res.body) as unknown) : null }));
    const reply = await Promise.race([answer, inc.died]);
    if (reply.status >= 500) {
      const code = (reply.body as { error?: { code?: string } } | null)?.error?.code ?? null;
      this.failures.push({ at: this.time.now(), method, url, status: reply.status, code });
    }
    return reply;
  }

  /** The gateway's outbox delivering to the platform: refused while it is down, as a closed port would. */
  private async deliverCallback(url: string, headers: Record<string, string>, body: string): Promise<number> {
    const inc = this.current;
    if (!inc) throw new Error('connect ECONNREFUSED (the platform is down)');
    const answer = inc.app.inject({ method: 'POST', url: url.slice(CALLBACK_BASE.length), headers, payload: body }).then((res) => res.statusCode);
    const status = await Promise.race([answer, inc.died.then(() => 0)]);
    if (status === 0) throw new Error('socket hang up (the platform crashed)');
    return status;
  }

  private openSqlite(): OpenedStore {
    // The WAL's fsync answers on the next macrotask rather than from libuv's thread pool, whose
    // timing no seed controls; a crash here is kill -9, which keeps what was committed anyway.
    const storage = openSqliteStorage(this.config.dbPath, { syncFile: (_fd, done) => setImmediate(() => done(null)) });
    return { storage, crash: () => storage.crash() };
  }

  /** The ports as one incarnation sees them: every call logged, nothing answered once it is dead. */
  private fenceSystems(systems: Systems, inc: Incarnation): Systems {
    const fenced = {} as Record<SystemName, unknown>;
    for (const name of Object.keys(systems) as SystemName[]) {
      fenced[name] = fence(systems[name], inc, (verb, args) => this.logCall(inc, name, verb, args));
    }
    return fenced as unknown as Systems;
  }

  private logCall(inc: Incarnation, system: SystemName, verb: string, args: unknown[]): (outcome: string) => void {
    const first = args[0] as { txnNo?: unknown; step?: unknown } | string | undefined;
    const keyed = typeof first === 'object' && first !== null && typeof first.txnNo === 'string' && typeof first.step === 'string';
    const record: CallRecord = {
      at: this.time.now(),
      incarnation: inc.n,
      system,
      verb,
      txnNo: keyed ? (first.txnNo as string) : null,
      key: keyed ? `${first.txnNo as string}:${first.step as string}` : null,
      request: keyed ? args[1] : args[0],
      outcome: 'pending',
      forShadow: this.shadowRequest.getStore() === true,
    };
    if (!keyed && typeof args[0] === 'string') record.txnNo = txnNoIn(args[0]);
    this.calls.push(record);
    return (outcome) => {
      if (record.outcome === 'pending') record.outcome = outcome;
    };
  }
}


function nodeId(n: number): string {
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  let out = '';
  let v = n;
  for (let i = 0; i < 6; i++) {
    out = alphabet[v % 32] + out;
    v = Math.floor(v / 32);
  }
  return `S${out.slice(1)}`;
}

/**
 * An object whose async methods stop answering once `inc` is dead: a killed process gets no
 * answers and sends nothing more. `log` sees every call and how it ended.
 */
/** The storage as one incarnation sees it: each concept fenced, so nothing answers once it is dead. */
function fenceStorage(storage: Storage, inc: { dead: boolean }): Storage {
  const concepts = Object.fromEntries(Object.entries(storage).map(([name, part]) => [name, typeof part === 'object' && part !== null ? fence(part as object, inc) : part]));
  return fence(concepts as unknown as Storage, inc);
}

function fence<T extends object>(target: T, inc: { dead: boolean }, log?: (verb: string, args: unknown[]) => (outcome: string) => void): T {
  // One wrapper per method, not one per property read (every store and system call reads one).
  const wrappers = new Map<PropertyKey, { method: (...args: unknown[]) => unknown; wrapper: (...args: unknown[]) => unknown }>();
  return new Proxy(target, {
    get(obj, prop) {
      const value: unknown = Reflect.get(obj, prop, obj);
      if (typeof value !== 'function') return value;
      const known = wrappers.get(prop);
      if (known?.method === value) return known.wrapper;
      const wrapper = (...args: unknown[]): unknown => {
        if (inc.dead) return NEVER;
        const settle = log?.(String(prop), args);
        const result: unknown = value.apply(obj, args);
        if (!(result instanceof Promise)) return result;
        return result.then(
          (answer: unknown) => {
            if (inc.dead) return NEVER;
            const refused = answer as { ok?: unknown; code?: unknown } | null;
            settle?.(refused && refused.ok === false ? `refused ${String(refused.code)}` : 'ok');
            return answer;
          },
          (err: unknown) => {
            if (inc.dead) return NEVER;
            settle?.(`fault: ${err instanceof Error ? err.message : String(err)}`);
            throw err;
          },
        );
      };
      wrappers.set(prop, { method: value as (...args: unknown[]) => unknown, wrapper });
      return wrapper;
    },
  });
}
