/**
 * The checkout benchmark (issue 8): `/v1/checkout` (quote + order + pay: stored-value card and
 * points, no added downstream latency) through real HTTP from a load generator in its own thread,
 * on SQLite/1 process and Redis/1 process (in-process simulators) and Redis/2 processes sharing
 * a `trade sim`, with a bare fastify route in the same run as the reference; then quote + order +
 * pay with 20 ms on every downstream call.
 * A floor row replays a checkout's downstream calls straight to the in-process simulators from a
 * bare route (bench/simulator-floor.ts): what the simulators and HTTP alone cost, engine or not.
 * The SQLite and Redis 1-process setups are then driven in an open loop at 25–90% of the rate
 * they sustain with their post-payment tasks done, for the latency below saturation.
 * Machine CPU per checkout adds every process and thread the run used, load generator included,
 * to set against the targets' CPU budget on this machine's cores.
 * Engine CPU per checkout is the server thread's busy time (event-loop utilisation × wall time)
 * over the checkouts it served, until their post-payment tasks were done too (the 1-process
 * setups, which also report that sustainable rate); redis-server's own CPU has a column of its own.
 *
 *   npx tsx bench/checkout.ts [--checkouts 2000] [--concurrency 64]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Fastify from 'fastify';
import Database from 'better-sqlite3';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { loadavg } from 'node:os';
import { pino } from 'pino';
import { buildApp } from '../http/app.ts';
import { newApiKey } from '../runtime/api-keys.ts';
import { createTradeCenter, DEFAULT_CONFIG, type TradeCenter, type TradeCenterConfig } from '../runtime/trade-center.ts';
import { loadDataset } from '../systems/sim/index.ts';
import type { SystemName } from '../systems/contract.ts';
import { arg, driveFromWorker, type RunStats } from './drive.ts';
import { simulatorFloor } from './simulator-floor.ts';
import { bullmqFloor } from './bullmq-floor.ts';
import { startRedisServer, tasksDrained } from './servers.ts';

const CHECKOUTS = arg('checkouts', 2000);
const CONCURRENCY = arg('concurrency', 64);

/**
 * Member U5 pays with card C4 and points; both deep enough for every checkout of the run. 150
 * yuan stays under the demo campaign's 200-yuan threshold: a reward coupon per checkout would grow
 * the one member's wallet by thousands of coupons over a run, and every later quote reads it all.
 */
const CHECKOUT = {
  scene: 'merchant_pos',
  merchantId: 'M1',
  stationId: 'S1',
  userId: 'U5',
  items: [{ type: 'fuel', nozzleNo: 1, amount: 15000 }],
  paymentMethods: ['stored_value'],
  usePoints: true,
  legs: [{ method: 'stored_value', cardNo: 'C4', amount: 'rest' }],
};

/** Open-loop loads, as shares of the closed loop's throughput, at which latency is measured. */
const SWEEP = [0.25, 0.5, 0.75, 0.9];
const SWEEP_SECONDS = 4;

interface SweepPoint {
  offered: number;
  stats: RunStats;
}

interface Row {
  setup: string;
  stats: RunStats;
  /** Checkouts per second until every post-payment task of the run was done, where measured. */
  withTasks?: number;
  /** Latency at steady loads below saturation (open loop), when asked for. */
  sweep?: SweepPoint[];
  /** Server-thread ms per checkout, and redis-server ms per checkout when there is one. */
  engineMs: number | null;
  redisMs: number | null;
  /**
   * Every CPU ms the run cost the machine per checkout: this process (server, simulators and the
   * load generator's thread), redis-server, and on the 2-process run the servers and `trade sim`.
   */
  machineMs: number;
}

function dataset() {
  const d = loadDataset(new URL('../demo/dataset.json', import.meta.url).pathname);
  for (const card of d.cards) card.balanceFen = 1_000_000_000_000;
  for (const account of d.pointsAccounts) account.balance = 1_000_000_000;
  return d;
}

/** CPU ms a process has used so far (user + system), from /proc. */
function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}


async function runCenter(setup: string, config: Partial<TradeCenterConfig>, opts: { latencyMs?: number; redisPid?: number; body?: unknown; sweep?: boolean } = {}): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'trade-bench-checkout-'));
  try {
    const tc = createTradeCenter(
      { ...DEFAULT_CONFIG, dataset: dataset(), dbPath: join(dir, 'trade.db'), simDbPath: join(dir, 'sim.db'), logLevel: 'silent', ...config },
      { log: pino({ level: 'silent' }) },
    );
    const app = await buildApp(tc);
    await app.listen({ port: 0, host: '127.0.0.1' });
    await tc.start();
    if (opts.latencyMs) for (const system of Object.keys(tc.sims!.faults) as SystemName[]) tc.sims!.faults[system].configure({ '*': { latencyMs: opts.latencyMs } });
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/v1/checkout`;
    const body = opts.body ?? CHECKOUT;
    await driveFromWorker(url, body, Math.min(300, CHECKOUTS), CONCURRENCY); // warm-up
    await tasksDrained(tc);
    const elu0 = performance.eventLoopUtilization();
    const redis0 = opts.redisPid ? processCpuMs(opts.redisPid) : 0;
    const self0 = processCpuMs(process.pid);
    const started = performance.now();
    const stats = await driveFromWorker(url, body, CHECKOUTS, CONCURRENCY);
    // A checkout is answered before its nine post-payment tasks run: the run's cost and its
    // sustainable rate count them too.
    await tasksDrained(tc);
    const withTasks = CHECKOUTS / ((performance.now() - started) / 1000);
    const elu = performance.eventLoopUtilization(elu0);
    const redisMs = opts.redisPid ? (processCpuMs(opts.redisPid) - redis0) / CHECKOUTS : null;
    const machineMs = (processCpuMs(process.pid) - self0) / CHECKOUTS + (redisMs ?? 0);
    // Closed-loop clients keep 64 checkouts queued, so their latency is 64 / throughput by
    // construction; independent arrivals at a steady rate show the latency below saturation.
    const sweep: SweepPoint[] = [];
    for (const share of opts.sweep ? SWEEP : []) {
      const offered = Math.max(10, Math.round(withTasks * share));
      sweep.push({ offered, stats: await driveFromWorker(url, body, offered * SWEEP_SECONDS, CONCURRENCY, offered) });
      await tasksDrained(tc);
    }
    await app.close();
    await tc.close();
    return { setup, stats, withTasks, engineMs: (elu.active) / CHECKOUTS, redisMs, machineMs, sweep };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}


async function runBare(): Promise<Row> {
  const bare = Fastify();
  bare.post('/echo', async (req) => ({ ok: true, body: req.body }));
  await bare.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(bare.server.address() as { port: number }).port}/echo`;
  await driveFromWorker(url, CHECKOUT, 500, CONCURRENCY);
  const elu0 = performance.eventLoopUtilization();
  const self0 = processCpuMs(process.pid);
  const stats = await driveFromWorker(url, CHECKOUT, CHECKOUTS * 3, CONCURRENCY);
  const elu = performance.eventLoopUtilization(elu0);
  const machineMs = (processCpuMs(process.pid) - self0) / (CHECKOUTS * 3);
  await bare.close();
  return { setup: 'bare fastify POST (reference)', stats, engineMs: elu.active / (CHECKOUTS * 3), redisMs: null, machineMs };
}

/** Starts `trade <args>` as a child; resolves with it once its output shows `banner`. */
async function startTrade(args: string[], env: Record<string, string>, banner: string): Promise<ChildProcess> {
  const bin = new URL('../bin/trade.js', import.meta.url).pathname;
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes(banner)) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`trade ${args[0]} exited with ${code}: ${out.slice(-500)}`)));
  });
  return child;
}

/**
 * The floor (bench/simulator-floor.ts): a bare fastify route making one checkout's downstream
 * calls straight to the in-process simulators, driven like the setups above. Its main-thread time
 * is the column "engine CPU", although no engine runs: the simulators' and HTTP's share of it.
 */
async function runFloor(): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'trade-bench-floor-'));
  try {
    const tc = createTradeCenter(
      { ...DEFAULT_CONFIG, dataset: dataset(), dbPath: join(dir, 'trade.db'), simDbPath: join(dir, 'sim.db'), logLevel: 'silent', storage: { kind: 'sqlite' } },
      { log: pino({ level: 'silent' }) },
    );
    const app = await buildApp(tc);
    await app.listen({ port: 0, host: '127.0.0.1' });
    await tc.start();
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/v1/checkout`;
    await driveFromWorker(url, CHECKOUT, 100, CONCURRENCY);
    await tasksDrained(tc);
    const floor = await simulatorFloor(tc.sims!.systems, url, CHECKOUT, () => tasksDrained(tc));
    await driveFromWorker(floor.url, CHECKOUT, Math.min(500, CHECKOUTS), CONCURRENCY); // warm-up
    const elu0 = performance.eventLoopUtilization();
    const self0 = processCpuMs(process.pid);
    const stats = await driveFromWorker(floor.url, CHECKOUT, CHECKOUTS * 2, CONCURRENCY);
    const elu = performance.eventLoopUtilization(elu0);
    const machineMs = (processCpuMs(process.pid) - self0) / (CHECKOUTS * 2);
    await floor.app.close();
    await app.close();
    await tc.close();
    return { setup: `floor: bare fastify route making a checkout's ${floor.calls} downstream calls straight to the in-process simulators (no engine)`, stats, engineMs: elu.active / (CHECKOUTS * 2), redisMs: null, machineMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * BullMQ's floor (bench/bullmq-floor.ts): a sale's timer and nine task jobs through the real
 * scheduler with no-op work, as many sales as the checkout runs, at the same concurrency.
 */
async function runBullmqFloor(redisUrl: string, redisPid: number): Promise<Row> {
  let self0 = 0;
  let redis0 = 0;
  let selfMs = 0;
  let redisMs = 0;
  let elu0 = performance.eventLoopUtilization();
  let busyMs = 0;
  const { perSecond } = await bullmqFloor(redisUrl, CHECKOUTS, CONCURRENCY, {
    start: () => {
      self0 = processCpuMs(process.pid);
      redis0 = processCpuMs(redisPid);
      elu0 = performance.eventLoopUtilization();
    },
    stop: () => {
      busyMs = performance.eventLoopUtilization(elu0).active;
      selfMs = processCpuMs(process.pid) - self0;
      redisMs = processCpuMs(redisPid) - redis0;
    },
  });
  return {
    setup: "floor: BullMQ alone, a sale's payment-expiry timer and nine task jobs through the real scheduler, no-op work (no engine, no simulators, no HTTP)",
    stats: { perSecond, p50: NaN, p99: NaN },
    engineMs: busyMs / CHECKOUTS,
    redisMs: redisMs / CHECKOUTS,
    machineMs: (selfMs + redisMs) / CHECKOUTS,
  };
}

/**
 * Redis, two `trade serve` processes sharing one `trade sim` (HTTP connectors): the load split
 * between them, a generator thread per process. Engine CPU is both servers' CPU from /proc (the
 * simulators' process is the downstream world, not the engine).
 */
async function runTwoProcesses(redisUrl: string, redisPid: number): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'trade-bench-2p-'));
  const children: ChildProcess[] = [];
  try {
    const data = join(dir, 'dataset.json');
    writeFileSync(data, JSON.stringify(dataset()));
    const [simPort, portA, portB] = [24100, 24101, 24102].map((p) => p + Math.floor(Math.random() * 5000) * 3);
    children.push(await startTrade(['sim', '--port', String(simPort), '--db', join(dir, 'sim.db'), '--data', data, '--callback-url', `http://127.0.0.1:${portA}`], {}, 'listening'));
    // Real connectors mean no demo key: the servers read a keys file, the load workers (which copy this environment) the secret.
    const key = newApiKey({ system: 'bench', scopes: ['trade'], merchants: ['*'] });
    writeFileSync(join(dir, 'keys.json'), JSON.stringify({ keys: [key.entry] }));
    process.env.TRADE_BENCH_KEY = key.secret;
    const env = { TRADE_STORAGE: 'redis', REDIS_URL: redisUrl, TRADE_REDIS_PREFIX: 'bench2', TRADE_SYSTEMS: 'http', TRADE_SIM_URL: `http://127.0.0.1:${simPort}`, TRADE_API_KEYS_FILE: join(dir, 'keys.json') };
    for (const port of [portA, portB]) children.push(await startTrade(['serve', '--port', String(port), '--db', join(dir, `t${port}.db`), '--data', data], env, 'Trade Center is listening on'));
    const urls = [portA, portB].map((p) => `http://127.0.0.1:${p}/v1/checkout`);
    await Promise.all(urls.map((u) => driveFromWorker(u, CHECKOUT, Math.min(150, CHECKOUTS / 2), CONCURRENCY / 2)));
    const servers = children.slice(1).map((c) => c.pid!);
    const cpu0 = servers.map(processCpuMs);
    const redis0 = processCpuMs(redisPid);
    const others = [process.pid, children[0]!.pid!];
    const others0 = others.map(processCpuMs);
    const started = performance.now();
    const runs = await Promise.all(urls.map((u) => driveFromWorker(u, CHECKOUT, CHECKOUTS / 2, CONCURRENCY / 2)));
    const seconds = (performance.now() - started) / 1000;
    const engineMs = servers.reduce((sum, pid, i) => sum + processCpuMs(pid) - cpu0[i]!, 0) / CHECKOUTS;
    // Percentiles of the halves: the slower half's, a bound on the whole.
    const stats = { perSecond: CHECKOUTS / seconds, p50: Math.max(...runs.map((r) => r.p50)), p99: Math.max(...runs.map((r) => r.p99)) };
    const redisMs = (processCpuMs(redisPid) - redis0) / CHECKOUTS;
    const machineMs = engineMs + redisMs + others.reduce((sum, pid, i) => sum + processCpuMs(pid) - others0[i]!, 0) / CHECKOUTS;
    return { setup: 'Redis + BullMQ, 2 processes sharing trade sim (HTTP)', stats, engineMs, redisMs, machineMs };
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The roles split (issue 21): one `trade serve --role api` and one `--role worker` on one SQLite
 * file, or on Redis + BullMQ, sharing a `trade sim` (HTTP connectors: a split's processes must
 * reach one downstream world). Engine CPU is the API's and the worker's CPU from /proc over the
 * checkouts, until their post-payment tasks are done; the sweep is the latency at steady loads.
 */
async function runSplit(storage: 'sqlite' | 'redis', redisUrl?: string, redisPid?: number): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), `trade-bench-split-${storage}-`));
  const children: ChildProcess[] = [];
  const prefix = 'benchsplit';
  let drained: () => Promise<boolean> = async () => true;
  let closeProbe = async () => {};
  try {
    const data = join(dir, 'dataset.json');
    writeFileSync(data, JSON.stringify(dataset()));
    const [simPort, apiPort, workerPort] = [25100, 25101, 25102].map((p) => p + Math.floor(Math.random() * 4000) * 3);
    children.push(await startTrade(['sim', '--port', String(simPort), '--db', join(dir, 'sim.db'), '--data', data, '--callback-url', `http://127.0.0.1:${apiPort}`], {}, 'listening'));
    const key = newApiKey({ system: 'bench', scopes: ['trade'], merchants: ['*'] });
    writeFileSync(join(dir, 'keys.json'), JSON.stringify({ keys: [key.entry] }));
    process.env.TRADE_BENCH_KEY = key.secret;
    const db = join(dir, 'trade.db');
    const env = {
      TRADE_SYSTEMS: 'http', TRADE_SIM_URL: `http://127.0.0.1:${simPort}`, TRADE_API_KEYS_FILE: join(dir, 'keys.json'),
      ...(storage === 'redis' ? { TRADE_STORAGE: 'redis', REDIS_URL: redisUrl!, TRADE_REDIS_PREFIX: prefix } : {}),
    };
    children.push(await startTrade(['serve', '--role', 'api', '--port', String(apiPort), '--db', db, '--data', data], env, 'Trade Center is listening on'));
    children.push(await startTrade(['serve', '--role', 'worker', '--port', String(workerPort), '--db', db, '--data', data], env, 'Trade Center worker is running'));
    if (storage === 'sqlite') {
      const probe = new Database(db, { readonly: true });
      const open = probe.prepare<[], { n: number }>("SELECT count(*) AS n FROM tasks WHERE status IN ('pending', 'running')");
      drained = async () => open.get()!.n === 0;
      closeProbe = async () => void probe.close();
    } else {
      const connection = new Redis(redisUrl!, { maxRetriesPerRequest: null });
      const queue = new Queue('tasks', { connection, prefix: `{${prefix}-bull}` });
      drained = async () => {
        const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        return Object.values(c).every((n) => n === 0);
      };
      // A connection handed to a Queue is the caller's to close.
      closeProbe = async () => {
        await queue.close();
        await connection.quit();
      };
    }
    const splitDrained = async () => {
      for (let quiet = 0; quiet < 3; ) {
        await new Promise((r) => setTimeout(r, 50));
        quiet = (await drained()) ? quiet + 1 : 0;
      }
    };
    const url = `http://127.0.0.1:${apiPort}/v1/checkout`;
    await driveFromWorker(url, CHECKOUT, Math.min(300, CHECKOUTS), CONCURRENCY); // warm-up
    await splitDrained();
    const engine = [children[1]!.pid!, children[2]!.pid!];
    const cpu0 = engine.map(processCpuMs);
    const redis0 = redisPid ? processCpuMs(redisPid) : 0;
    const others = [process.pid, children[0]!.pid!];
    const others0 = others.map(processCpuMs);
    const started = performance.now();
    const stats = await driveFromWorker(url, CHECKOUT, CHECKOUTS, CONCURRENCY);
    await splitDrained();
    const withTasks = CHECKOUTS / ((performance.now() - started) / 1000);
    const engineMs = engine.reduce((sum, pid, i) => sum + processCpuMs(pid) - cpu0[i]!, 0) / CHECKOUTS;
    const redisMs = redisPid ? (processCpuMs(redisPid) - redis0) / CHECKOUTS : null;
    const machineMs = engineMs + (redisMs ?? 0) + others.reduce((sum, pid, i) => sum + processCpuMs(pid) - others0[i]!, 0) / CHECKOUTS;
    const sweep: SweepPoint[] = [];
    for (const share of SWEEP) {
      const offered = Math.max(10, Math.round(withTasks * share));
      sweep.push({ offered, stats: await driveFromWorker(url, CHECKOUT, offered * SWEEP_SECONDS, CONCURRENCY, offered) });
      await splitDrained();
    }
    const setup = storage === 'sqlite'
      ? 'SQLite, roles split: api + worker processes on one file, trade sim (HTTP)'
      : 'Redis + BullMQ, roles split: api + worker processes, trade sim (HTTP)';
    return { setup, stats, withTasks, engineMs, redisMs, machineMs, sweep };
  } finally {
    await closeProbe().catch(() => undefined);
    delete process.env.TRADE_BENCH_KEY;
    for (const c of children) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows: Row[] = [];
const startedAt = new Date();
const load0 = loadavg();
console.log(`machine: ${process.platform} ${process.arch}, node ${process.version}; ${CHECKOUTS} checkouts at ${CONCURRENCY} concurrent (load generator in a worker thread)`);
rows.push(await runBare());
rows.push(await runFloor());
rows.push(await runCenter('SQLite, 1 process, in-process simulators', { storage: { kind: 'sqlite' } }, { sweep: true }));
// The same without the fsync before each acknowledgement (synchronous=NORMAL): what durability against a power cut costs.
process.env.TRADE_SQLITE_SYNC = 'NORMAL';
rows.push(await runCenter('SQLite (synchronous=NORMAL), 1 process, in-process simulators', { storage: { kind: 'sqlite' } }));
delete process.env.TRADE_SQLITE_SYNC;
rows.push(await runSplit('sqlite'));
const redisDir = mkdtempSync(join(tmpdir(), 'trade-bench-redis-'));
const redis = await startRedisServer(redisDir);
try {
  rows.push(await runBullmqFloor(redis.url, redis.pid));
  rows.push(await runCenter('Redis + BullMQ, 1 process, in-process simulators', { storage: { kind: 'redis', url: redis.url, prefix: 'bench' } }, { redisPid: redis.pid, sweep: true }));
  try {
    rows.push(await runTwoProcesses(redis.url, redis.pid));
  } catch (err) {
    console.log(`Redis, 2 processes: skipped (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`);
  }
  rows.push(await runSplit('redis', redis.url, redis.pid));
} finally {
  redis.stop();
  rmSync(redisDir, { recursive: true, force: true });
}
rows.push(await runCenter('SQLite, quote+order+pay, 20 ms per downstream call', { storage: { kind: 'sqlite' } }, { latencyMs: 20 }));

const f = (n: number) => (Number.isNaN(n) ? '' : n.toFixed(1));
const floorEngineMs = rows.find((r) => r.setup.startsWith('floor: bare'))?.engineMs ?? null;
const load1 = loadavg();
console.log(`\nrun: ${startedAt.toISOString()} to ${new Date().toISOString()}; os.loadavg() at start ${load0.map((l) => l.toFixed(2)).join(' ')}, at end ${load1.map((l) => l.toFixed(2)).join(' ')}`);
console.log('\n| setup | checkouts/s | with their tasks done, /s | p50 ms | p99 ms | engine CPU ms/checkout | engine CPU ÷ floor | redis-server CPU ms/checkout | machine CPU ms/checkout |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const ratio = r.engineMs !== null && floorEngineMs ? `${(r.engineMs / floorEngineMs).toFixed(2)}×` : '';
  console.log(`| ${r.setup} | ${f(r.stats.perSecond)} | ${r.withTasks === undefined ? '' : f(r.withTasks)} | ${f(r.stats.p50)} | ${f(r.stats.p99)} | ${r.engineMs === null ? '' : r.engineMs.toFixed(2)} | ${ratio} | ${r.redisMs === null ? '' : r.redisMs.toFixed(2)} | ${r.machineMs.toFixed(2)} |`);
}
// What the targets leave for everything a checkout costs on this machine's cores.
const cores = (await import('node:os')).availableParallelism();
console.log(`\nCPU budget per checkout at the targets on ${cores} cores (load generator included): ${((cores * 1000) / 1500).toFixed(2)} ms at 1,500/s (SQLite), ${((cores * 1000) / 1000).toFixed(2)} ms at 1,000/s (Redis); compare the machine CPU column.`);
const simFloor = rows.find((r) => r.setup.startsWith('floor: bare'));
const queueFloor = rows.find((r) => r.setup.startsWith('floor: BullMQ'));
if (simFloor) {
  console.log(
    `The simulators' floor, with no engine: ${f(simFloor.stats.perSecond)}/s at ${CONCURRENCY} clients, p99 ${f(simFloor.stats.p99)} ms, ${simFloor.machineMs.toFixed(2)} ms of machine CPU per checkout (${simFloor.engineMs!.toFixed(2)} ms on its one thread). ` +
      `A p99 of 50 ms at ${CONCURRENCY} closed-loop clients needs at least ${Math.ceil((CONCURRENCY * 1000) / 50)}/s (Little's law).`,
  );
}
if (simFloor && queueFloor) {
  console.log(
    `BullMQ's floor: ${f(queueFloor.stats.perSecond)} sales/s, ${queueFloor.machineMs.toFixed(2)} ms of machine CPU per sale (redis-server ${queueFloor.redisMs!.toFixed(2)} ms); ` +
      `with the simulators' floor, ${(simFloor.machineMs + queueFloor.machineMs).toFixed(2)} ms per Redis checkout before any engine work.`,
  );
}
console.log(`\nLatency at steady loads (open loop, ${SWEEP_SECONDS} s each, load as a share of the rate with tasks done above; latency from each call's scheduled start):`);
console.log('\n| setup | load | offered/s | achieved/s | p50 ms | p99 ms |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const r of rows) {
  for (const [i, p] of (r.sweep ?? []).entries()) {
    console.log(`| ${r.setup} | ${Math.round(SWEEP[i]! * 100)}% | ${p.offered} | ${f(p.stats.perSecond)} | ${f(p.stats.p50)} | ${f(p.stats.p99)} |`);
  }
}
