import { txnNoIn } from './invariants.ts';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ProvidedMachine } from '../runtime/transaction-host.ts';
import type { Systems } from '../systems/index.ts';
import { simulationDataset } from './dataset.ts';
import { FaultWeather, type FaultLevel } from './faults.ts';
import { InvariantChecker, type Violation } from './invariants.ts';
import { Prng } from './prng.ts';
import { openRedisBackend, type RedisBackend } from './redis-backend.ts';
import { Sale, SHADOW_SCENE, type View, type WorkloadContext } from './workload.ts';
import { VirtualTime } from './virtual-time.ts';
import { World } from './world.ts';

export interface SimulationOptions {
  seed: number;
  sales: number;
  faults: FaultLevel;
  crashes: number;
  backend: 'sqlite' | 'redis';
  /** Redis backend: the server to use (required there; a fresh key prefix per run, deleted at the end). */
  redisUrl?: string;
  /** Mean virtual time between two sales starting, ms. */
  arrivalMs?: number;
  /** Swaps implementations into the transaction machine (the checker's tests of broken ones). */
  adjustMachine?: (machine: ProvidedMachine, systems: Systems) => ProvidedMachine;
  /** Runs once the platform is first up: a test sets fault knobs of its own here. */
  prepare?: (world: World) => void;
  /** Crashes land no later than this share of the arrivals window (the shrinker moves them earlier). */
  crashWindow?: number;
  /**
   * Weight of shadow quotes among the sales (the sale shapes weigh 100 together; issue 20): with
   * any, the shadow scene is routed `shadow` at every group. 0 (the default): none, and a seed
   * replays the run it always did.
   */
  shadowShare?: number;
}

export interface SimulationResult {
  seed: number;
  sales: number;
  crashes: number;
  faults: FaultLevel;
  backend: 'sqlite' | 'redis';
  violations: Violation[];
  digest: string;
  simulatedMs: number;
  wallMs: number;
  counters: Record<string, number>;
  /** For a report on a violation: the transaction's journal and calls. */
  evidence: (txnNo: string) => Promise<{ journal: unknown[]; calls: unknown[] }>;
}

const TICK_MS = 1_000;
const SCAN_MS = 30_000;
const CHECK_MS = 10 * 60_000;
/** How often the archiver takes its turn, virtual ms (the quiet period is world.ts's ARCHIVE_AFTER_MS). */
const ARCHIVE_EVERY_MS = 30_000;
/** How often the OS sync's delivery loop takes its turn, virtual ms. */
const OS_EVERY_MS = 10_000;
/** After the workload, time runs on without faults for at most this long for everything to come to rest. */
const SETTLE_LIMIT_MS = 12 * 3_600_000;
const JANITOR_MS = 5 * 60_000;

/**
 * One deterministic run: the seeded workload against the real platform and simulators on
 * virtual time, with seeded faults and crashes; then faults stop, time runs on (with an operator
 * retrying dead tasks) until everything is final, and the invariants are checked over the ledgers.
 */
export async function simulate(options: SimulationOptions): Promise<SimulationResult> {
  const wallStart = performance.now();
  const prng = new Prng(options.seed);
  const { dataset, population } = simulationDataset(prng.fork('dataset'));
  // Memory-backed when the machine has it: the files still outlive a crash of the platform, which is all a run needs of them.
  if (options.backend === 'redis' && !options.redisUrl) throw new Error('the redis backend needs a Redis server: pass redisUrl (trade simulate --redis-url URL)');
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), `trade-sim-${options.seed}-`));
  const time = new VirtualTime();
  let redis: RedisBackend | null = null;
  try {
    if (options.redisUrl && options.backend === 'redis') redis = await openRedisBackend({ url: options.redisUrl, seed: options.seed, time, archivePath: join(dir, 'archive.db'), prng });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  // Some archive batches are cut by a crash right after the archive write, before the removals
  // from the hot store: the next turn must find them, re-put them (left alone) and remove them.
  const archiveCrashRng = prng.fork('archive-crashes');
  let archiveCrashes = 0;
  let archiveBatches = 0;
  let crashAfterArchive: (() => void) | null = null;
  const world: World = new World({
    seed: options.seed,
    dir,
    dataset,
    prng,
    time,
    ...(redis ? { openStorage: redis.open } : {}),
    ...(options.adjustMachine ? { adjustMachine: options.adjustMachine } : {}),
    archivePoint: (point) => {
      if (point !== 'after-archive-write') return;
      archiveBatches++;
      if (archiveCrashes >= options.crashes || !archiveCrashRng.chance(0.2)) return;
      archiveCrashes++;
      crashAfterArchive?.();
    },
  });
  // Third-party code reads the wall clock and Math.random itself (cockatiel's breaker measures
  // its half-open wait with Date.now): inside a run both are the run's, so a seed replays.
  const realNow = Date.now;
  const realRandom = Math.random;
  const thirdParty = prng.fork('third-party');
  Date.now = () => time.now();
  Math.random = () => thirdParty.next();
  const shadowShare = options.shadowShare ?? 0;
  const ctx: WorkloadContext = { world, population, txnNos: new Set(), keyed: [], faults: options.faults !== 'none', counters: {}, shadowShare, shadowIds: [] };
  const checker = new InvariantChecker(world.sims.store.db, dataset, world.calls);
  const violations: Violation[] = [];
  const seen = new Set<string>();
  const report = (found: Violation[]) => {
    for (const v of found) {
      const id = `${v.invariant} ${v.message}`;
      if (seen.has(id)) continue;
      seen.add(id);
      violations.push(v);
    }
  };
  const weather = new FaultWeather(world, prng.fork('faults'), options.faults);
  // Work the run itself awaits between turns (a boot, the janitor's and the end's reads): on
  // Redis its replies come only through the gate, so it is driven like a turn; on SQLite it
  // runs as it always did (the digests of SQLite seeds stay what they were).
  const backend = redis;
  const io: Io = backend ? (work) => backend.through(work) : (work) => work;
  const boot = async () => {
    await redis?.prepare();
    await io(world.boot());
  };
  try {
    await boot();
    // Stored with the routing table: every incarnation after a crash routes the same way.
    if (shadowShare > 0) await io(world.tc.routing.set('simulation', [{ scene: SHADOW_SCENE, group: '*', mode: 'shadow' }]));
    options.prepare?.(world);
    const start = time.now();
    const arrivalMs = options.arrivalMs ?? 400;
    const arrivals = prng.fork('arrivals');
    let at = start;
    let running = 0;
    let started = 0;
    for (let i = 0; i < options.sales; i++) {
      at += arrivals.int(0, 2 * arrivalMs);
      const n = i + 1;
      time.at(at, () => {
        const began = time.now();
        running++;
        started++;
        void new Sale(ctx, prng.fork(`sale-${n}`), n)
          .run()
          .catch((err: unknown) => {
            ctx.counters['sale:threw'] = (ctx.counters['sale:threw'] ?? 0) + 1;
            ctx.counters[`threw: ${err instanceof Error ? `${err.message.slice(0, 80)} ${err.stack?.split('\n')[1]?.trim() ?? ''}` : String(err)}`] = 1;
          })
          .finally(() => {
            running--;
            const took = Math.floor((time.now() - began) / 3_600_000);
            ctx.counters[`sale:took ${took}h`] = (ctx.counters[`sale:took ${took}h`] ?? 0) + 1;
          });
      });
    }
    const arrivalsEnd = at;

    // Crashes at seeded moments of the arrivals window, each landing a seeded number of
    // macrotask hops into the turn that follows (mid-flight: a group commit may be open).
    const crashRng = prng.fork('crashes');
    let crashArmed: number | null = null;
    let rebootDue = false;
    const crashTimes = Array.from({ length: options.crashes }, () => start + Math.floor(crashRng.next() * (arrivalsEnd - start) * (options.crashWindow ?? 1))).sort((a, b) => a - b);
    for (const t of crashTimes) time.at(t, () => (crashArmed = crashRng.int(0, 6)));
    let crashed = 0;

    let settling = false;
    const drivers = () => {
      const tick = () => {
        if (world.up) {
          const tc = world.tc;
          void tc.host.fireDueTimers().catch(() => undefined);
          void tc.tasks.runDue().catch(() => undefined);
          tc.host.evictIdle();
        }
        void world.sims.gateway.deliverDue().catch(() => undefined);
        time.at(time.now() + TICK_MS, tick);
      };
      const scan = () => {
        if (world.up) void world.tc.sentinel.scan().catch(() => undefined);
        time.at(time.now() + SCAN_MS, scan);
      };
      const archive = () => {
        if (world.up) void world.tc.archiver?.run().catch(() => undefined);
        time.at(time.now() + ARCHIVE_EVERY_MS, archive);
      };
      time.at(time.now() + ARCHIVE_EVERY_MS, archive);
      const osSync = () => {
        if (world.up) void world.tc.osSync.runDue().catch(() => undefined);
        time.at(time.now() + OS_EVERY_MS, osSync);
      };
      time.at(time.now() + OS_EVERY_MS, osSync);
      const check = () => {
        report(checker.always(time.now()));
        time.at(time.now() + CHECK_MS, check);
      };
      time.at(time.now() + TICK_MS, tick);
      time.at(time.now() + SCAN_MS, scan);
      time.at(time.now() + CHECK_MS, check);
    };
    drivers();
    weather.start();

    crashAfterArchive = () => {
      if (settling || !world.up) return;
      world.crash();
      ctx.counters['crash:after-archive-write'] = (ctx.counters['crash:after-archive-write'] ?? 0) + 1;
      time.at(time.now() + crashRng.int(1_000, 60_000), () => (rebootDue = true));
    };
    const onHop = (hop: number, quiet: boolean): boolean => {
      if (crashArmed === null || (hop < crashArmed && !quiet)) return false;
      crashArmed = null;
      world.crash();
      crashed++;
      time.at(time.now() + crashRng.int(1_000, 60_000), () => (rebootDue = true));
      return true;
    };

    // Phase 1: the workload, under faults and crashes.
    let open = new Set<string>();
    let settleStart = 0;
    let nextJanitor = 0;
    for (;;) {
      await time.settle(onHop);
      if (rebootDue && !world.up) {
        rebootDue = false;
        await boot();
        continue;
      }
      if (!settling && started === options.sales && running === 0 && time.now() >= arrivalsEnd) {
        settling = true;
        weather.calm();
        // A crash still armed would land after the faults stopped: it is dropped, and a
        // platform still down comes back now.
        crashArmed = null;
        if (!world.up) {
          rebootDue = false;
          await boot();
        }
        settleStart = time.now();
        nextJanitor = settleStart;
        open = new Set([...ctx.txnNos, ...ledgerTxnNos(world)]);
      }
      if (settling && time.now() >= nextJanitor) {
        nextJanitor = time.now() + JANITOR_MS;
        open = await janitor(world, open, io);
        if (open.size === 0 || time.now() - settleStart > SETTLE_LIMIT_MS) break;
      }
      if (!time.wake()) break;
    }

    // The end: everything at rest; replay keyed requests (not those whose 5xx the key forgot: a
    // replay would be a new sale), read the views of every transaction the platform or the
    // ledgers know, check.
    await time.settle();
    const replays = new Map<string, { status: number; code: string | null; stillWorking: boolean }>();
    const replayRng = prng.fork('replays');
    const sample = ctx.keyed.filter((k) => replayRng.chance(Math.min(1, 400 / Math.max(1, ctx.keyed.length))) && !k.forgotten);
    for (const k of sample) {
      const reply = await driven(time, world.request(k.method, k.url, k.body, { 'idempotency-key': k.key }));
      const error = (reply.body as { error?: { code?: string; details?: { stillWorking?: boolean } } } | null)?.error;
      replays.set(k.key, { status: reply.status, code: error?.code ?? null, stillWorking: error?.details?.stillWorking === true });
    }
    await time.settle();
    // A key whose request never had an answer (a crash cut it and the channel gave up) runs for the
    // first time when replayed: a new sale, paying at the end of the run. Time runs on again until
    // that work is at rest too, as it did for the workload's (seed 30010).
    const unanswered = sample.filter((k) => k.status === null).length;
    ctx.counters['replay:unanswered'] = unanswered;
    if (unanswered > 0) await settleOpen(world, new Set([...ctx.txnNos, ...ledgerTxnNos(world)]), io);
    ctx.counters['os:pending-at-end'] = await settleOs(world, io);
    const all = [...new Set([...ctx.txnNos, ...ledgerTxnNos(world)])].sort();
    const views = new Map<string, View | null>();
    for (const txnNo of all) views.set(txnNo, await io(viewWithTasks(world, txnNo)));
    report(checker.atEnd(time.now(), views, sample, replays, world.failures));
    const storedShadows = new Set<string>();
    for (const id of new Set(ctx.shadowIds)) if (await io(world.tc.storage.shadowQuotes.get(id))) storedShadows.add(id);
    report(checker.shadowQuotes(time.now(), ctx.shadowIds, storedShadows));
    report(checker.osSynced(time.now(), views));
    const digest = await digestOf(world, all, io);
    const reads = world.tc.reads;
    const calls = world.calls;
    const journals = new Map<string, unknown[]>();
    for (const v of violations.slice(0, 20)) if (v.txnNo) journals.set(v.txnNo, await io(reads.journal(v.txnNo)));
    return {
      seed: options.seed,
      sales: options.sales,
      crashes: crashed,
      faults: options.faults,
      backend: options.backend,
      violations,
      digest,
      simulatedMs: time.now() - start,
      wallMs: Math.round(performance.now() - wallStart),
      counters: { ...ctx.counters, ...redis?.counters(), 'archive:batches': archiveBatches, hops: time.hops, faultChanges: weather.changes, clockJumps: weather.clockJumps, calls: calls.length },
      evidence: async (txnNo) => ({ journal: journals.get(txnNo) ?? [], calls: calls.filter((c) => c.txnNo === txnNo || (c.key ?? '').includes(txnNo)) }),
    };
  } finally {
    Date.now = realNow;
    Math.random = realRandom;
    await redis?.release().catch(() => undefined);
    await world.close().catch(() => undefined);
    await redis?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * States a transaction may end a run in: final ones, and `quoted` (a quote holds nothing and has
 * no expiry: a customer who walks away from a quote leaves it there for good).
 */
export const AT_REST = ['completed', 'cancelled', 'failed', 'quoted'];

/** Transactions the ledgers know of: a start whose answer a crash cut is found here. */
/** Every transaction the simulators' ledgers know of, card-only sales included (their locks name them). */
function ledgerTxnNos(world: World): string[] {
  const db = world.sims.store.db;
  const rows = db.prepare<[], { txn_no: string }>('SELECT txn_no FROM payments UNION SELECT txn_no FROM orders').all();
  const locks = db.prepare<[], { lock_key: string }>('SELECT lock_key FROM card_locks').all();
  return [...rows.map((r) => r.txn_no), ...locks.map((l) => txnNoIn(l.lock_key)).filter((t): t is string => t !== null)];
}

async function viewWithTasks(world: World, txnNo: string): Promise<View | null> {
  const tc = world.tc;
  const view = await tc.host.view(txnNo);
  if (!view) return null;
  // Read through the archive: an archived transaction's tasks are the archived ones.
  const tasks = (await tc.reads.tasks(txnNo)).map((t) => ({ task: t.task, status: t.status }));
  return { ...view, tasks };
}

/**
 * The operator at the end of the day: retries dead tasks and nudges what has not moved; returns
 * the transactions still not at rest.
 */
async function janitor(world: World, open: Set<string>, io: Io): Promise<Set<string>> {
  const still = new Set<string>();
  for (const txnNo of open) {
    const view = await io(viewWithTasks(world, txnNo));
    if (!view) continue;
    const final = AT_REST.includes(view.state);
    const refundsOpen = view.refunds.some((r) => r.status === 'requested' || r.status === 'processing');
    const dead = (view.tasks ?? []).filter((t) => t.status === 'dead');
    const tasksOpen = (view.tasks ?? []).some((t) => t.status !== 'done');
    // The platform's own finality (runtime/finality.ts) counts durable timers too: a cancelled
    // sale's closed leg asks the gateway again for an hour after its close, and a capture whose
    // callback was lost is found only then. Ending the run before those timers fire would call
    // money the platform has not yet had its chance to give back a violation.
    const record = view.state === 'quoted' ? null : await io(world.tc.reads.record(txnNo));
    const timersArmed = record !== null && record.finalAt === null && Object.keys(record.timers).length > 0;
    if (final && !refundsOpen && !tasksOpen && !timersArmed) continue;
    still.add(txnNo);
    // Nothing but a timer keeps it: time running on is all it needs, a nudge would only re-drive it early.
    if (final && !refundsOpen && !tasksOpen) continue;
    for (const t of dead) await driven(world.time, world.request('POST', `/admin/transactions/${txnNo}/tasks/${encodeURIComponent(t.task)}/retry`, {}));
    if (!dead.length) await driven(world.time, world.request('POST', `/admin/transactions/${txnNo}/nudge`, {}));
  }
  return still;
}

/**
 * Lets time run on, the operator coming by every janitor period, until none of `open` is left
 * working (or the settle limit passes). Moves no time when everything is at rest already.
 */
async function settleOpen(world: World, open: Set<string>, io: Io): Promise<void> {
  const time = world.time;
  const from = time.now();
  for (;;) {
    await time.settle();
    open = await janitor(world, open, io);
    if (open.size === 0 || time.now() - from > SETTLE_LIMIT_MS) return;
    const next = time.now() + JANITOR_MS;
    while (time.now() < next) {
      // Nothing left to happen at all (the drivers re-arm themselves, so not in a run): done.
      if (!time.wake()) return;
      await time.settle();
    }
  }
}

/**
 * Time runs on with the OS sync taking its turns until no station has an event left to deliver
 * (a station backed off after OS's outage waits out its backoff on virtual time); returns the
 * events still pending when the settle limit passed (0 when all were delivered).
 */
async function settleOs(world: World, io: Io): Promise<number> {
  const time = world.time;
  const from = time.now();
  for (;;) {
    // A pass calls OS (latency on virtual time): driven, as the operator's requests; a read of the store through io.
    await driven(time, world.tc.osSync.runDue());
    const pending = (await io(world.tc.storage.osOutbox.cursors())).reduce((a, c) => a + Math.max(0, c.pending), 0);
    if (pending === 0 || time.now() - from > SETTLE_LIMIT_MS) return pending;
    const next = time.now() + OS_EVERY_MS;
    while (time.now() < next) {
      if (!time.wake()) return pending;
      await time.settle();
    }
  }
}

/** How the run awaits work of its own between turns (see `io` in {@link simulate}). */
type Io = <T>(work: Promise<T>) => Promise<T>;

/**
 * Awaits a request of the operator (or the end's replays) while virtual time runs on: a nudge
 * may wait for the transaction's queue, a lease or a call's latency, all on virtual time, and
 * awaiting it without moving the clock would wait forever (the run's exit 13).
 */
async function driven<T>(time: VirtualTime, work: Promise<T>): Promise<T> {
  let done = false;
  const watched = work.finally(() => (done = true));
  for (;;) {
    await time.settle();
    if (done) return watched;
    if (!time.wake()) {
      await time.settle();
      if (done) return watched;
      throw new Error('a request of the operator waits on nothing due: it can never answer');
    }
  }
}

/** One hash over every ledger of the simulators and every transaction's record and journal. */
async function digestOf(world: World, txnNos: string[], io: Io): Promise<string> {
  const hash = createHash('sha256');
  const db = world.sims.store.db;
  for (const table of ['cards', 'card_locks', 'coupons', 'coupon_locks', 'points_accounts', 'points_locks', 'goods', 'goods_reservations', 'orders', 'payments', 'refunds', 'effects', 'records', 'member_levels']) {
    for (const row of db.prepare(`SELECT * FROM ${table} ORDER BY rowid`).raw().iterate()) hash.update(JSON.stringify(row));
  }
  const reads = world.tc.reads;
  for (const txnNo of txnNos) {
    const record = await io(reads.record(txnNo));
    if (!record) continue;
    hash.update(JSON.stringify([txnNo, record.version, record.state, record.snapshot]));
    for (const j of await io(reads.journal(txnNo))) hash.update(JSON.stringify([j.at, j.actor, j.event, j.from, j.to, j.data]));
  }
  return hash.digest('hex');
}
