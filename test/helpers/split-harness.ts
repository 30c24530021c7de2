import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { systemClock, type Clock } from '../../runtime/clock.ts';
import type { TradeCenterConfig } from '../../runtime/trade-center.ts';
import type { SystemName } from '../../systems/contract.ts';
import { apiClient, type Api } from './harness.ts';
import { startRedisServer } from './redis-server.ts';
import { freePort, startServerProcess, SUITE_KEY, type ServerProcess } from './server-process.ts';
import { remoteSimControl, type SimControl } from './sim-control.ts';
import { SIM_ADMIN_TOKEN, startSimProcess } from './sim-process.ts';

/**
 * What a suite does to the platform besides calling its API, the same whether the Trade Center
 * runs in the test's process or as `trade serve` processes of their own: run due tasks, fire due
 * timers, wait for saves, read alerts, breakers and a transaction's stored timers.
 */
export interface Drive {
  /** Runs every due post-payment task once (where tasks run); how many ran. */
  runDueTasks(): Promise<number>;
  /** Fires every due durable timer once (where timers fire); how many fired. */
  fireDueTimers(): Promise<number>;
  /** Waits until every process has stored its live transactions' latest snapshots. */
  settle(): Promise<void>;
  /** Alerts raised by core steps retrying, across the processes. */
  alerts(): Promise<number>;
  /** The circuit breaker of `system` where post-payment tasks call it. */
  breaker(system: SystemName): Promise<string>;
  /** A transaction's durable timers as stored. */
  storedTimers(txnNo: string): Promise<Record<string, number>>;
}

/** Which backend a split runs on. */
export type SplitStorage = 'sqlite' | 'redis';

/** A Trade Center split into a `trade serve --role api` and a `--role worker` process, with one `trade sim`. */
export interface SplitPlatform {
  url: string;
  api: Api;
  sims: SimControl;
  drive: Drive;
  apiProcess: ServerProcess;
  /** The worker as it runs now (a new one after {@link restartWorker}). */
  worker(): ServerProcess;
  /** Starts a new worker on the same storage (after a crash of the last one). */
  restartWorker(): Promise<ServerProcess>;
  close(): Promise<void>;
}

/** What {@link startSplit} passes on to the processes; anything else in a test's config is refused. */
const PASSED_ON = ['breaker', 'queryAfterMs', 'paymentTtlMs', 'timerPollMs', 'tasks', 'quoteTtlMs', 'sentinel'] as const;
const KNOWN_HERE = ['dataset', 'callbackDelayMs', 'logLevel', 'dbPath', 'simDbPath'];

/**
 * Starts the platform as real processes: one `trade sim --clock follow` (the downstream world both
 * roles reach over HTTP), an API process and a worker process on one SQLite file (WAL) or one
 * Redis, all following the test's clock through `x-tc-now` (`trade serve --clock follow`), so a
 * suite on a manual clock runs unchanged. The configuration given is passed on through
 * `TRADE_TEST_CONFIG`; the dataset as a file.
 */
export async function startSplit(t: Test, dir: string, config: TradeCenterConfig, overrides: Partial<TradeCenterConfig>, clock: Clock = systemClock, storage: SplitStorage = 'sqlite'): Promise<SplitPlatform> {
  const refused = Object.keys(overrides).filter((k) => !(PASSED_ON as readonly string[]).includes(k) && !KNOWN_HERE.includes(k));
  if (refused.length) throw new Error(`the role split cannot pass on ${refused.join(', ')}`);
  mkdirSync(dir, { recursive: true });
  const data = join(dir, 'dataset.json');
  writeFileSync(data, JSON.stringify(config.dataset));
  const redis = storage === 'redis' ? await startRedisServer({ appendonly: true }) : null;
  if (redis) t.teardown(() => redis.stop());
  const [apiPort, workerPort, simPort] = [await freePort(), await freePort(), await freePort()];
  const url = `http://127.0.0.1:${apiPort}`;
  mkdirSync(join(dir, 'sim'), { recursive: true });
  const simUrl = `http://127.0.0.1:${simPort}`;
  const passed = Object.fromEntries(PASSED_ON.filter((k) => config[k] !== undefined).map((k) => [k, config[k]]));
  const env: Record<string, string> = {
    TRADE_SYSTEMS: 'http',
    TRADE_SIM_URL: simUrl,
    TRADE_SYSTEMS_SEND_CLOCK: '1',
    TRADE_TEST_CONFIG: JSON.stringify(passed),
    ...(redis ? { TRADE_STORAGE: 'redis', REDIS_URL: redis.url } : {}),
  };
  const common = ['--clock', 'follow', '--data', data];
  const startWorker = async () => {
    const w = await startServerProcess(dir, workerPort, ['--role', 'worker', ...common], env);
    t.teardown(() => w.stop());
    return w;
  };
  // Nothing calls the simulators before a request: the three start at once.
  const [sim, apiProcess, first] = await Promise.all([
    startSimProcess({ dir: join(dir, 'sim'), port: simPort, callbackUrl: url, clock: 'follow', data }),
    startServerProcess(dir, apiPort, ['--role', 'api', ...common], env),
    startWorker(),
  ]);
  t.teardown(() => sim.stop());
  t.teardown(() => apiProcess.stop());
  let worker = first;
  const sims = remoteSimControl(sim.url, clock, SIM_ADMIN_TOKEN);
  // The sim's callback outbox runs on its own clock: between calls it must see the test's time move.
  // So does the worker, whose only callers are the test's drive calls: its due tasks and timers are the test's.
  const heartbeat = setInterval(() => {
    void fetch(`${sim.url}/sim/stats`, { headers: { authorization: `Bearer ${SIM_ADMIN_TOKEN}`, 'x-tc-now': String(clock.now()) } }).catch(() => undefined);
    void fetch(`${worker.url}/healthz`, { headers: { 'x-tc-now': String(clock.now()) } }).catch(() => undefined);
  }, 20);
  heartbeat.unref();
  const plain = apiClient(url, SUITE_KEY);
  const api: Api = (method, path, body, headers = {}) => plain(method, path, body, { 'x-tc-now': String(clock.now()), ...headers });
  const call = async <T>(base: string, method: string, path: string): Promise<T> => {
    const res = await fetch(`${base}${path}`, { method, headers: { 'x-tc-now': String(clock.now()) } });
    if (!res.ok) throw new Error(`${method} ${base}${path}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const workerUrl = () => worker.url;
  type State = { alerts: number; hostAlerts: number; breakers: Record<string, string> };
  const drive: Drive = {
    runDueTasks: async () => (await call<{ ran: number }>(workerUrl(), 'POST', '/_drive/tasks/run-due')).ran,
    fireDueTimers: async () => (await call<{ fired: number }>(workerUrl(), 'POST', '/_drive/timers/fire-due')).fired,
    settle: async () => {
      await Promise.all([url, workerUrl()].map((u) => call(u, 'POST', '/_drive/settle')));
    },
    alerts: async () => {
      const states = await Promise.all([url, workerUrl()].map((u) => call<State>(u, 'GET', '/_drive/state')));
      return states.reduce((sum, s) => sum + s.hostAlerts, 0);
    },
    breaker: async (system) => (await call<State>(workerUrl(), 'GET', '/_drive/state')).breakers[system]!,
    storedTimers: async (txnNo) => (await call<{ timers: Record<string, number> }>(url, 'GET', `/_drive/transactions/${encodeURIComponent(txnNo)}/timers`)).timers,
  };
  let closed = false;
  return {
    url,
    api,
    sims,
    drive,
    apiProcess,
    worker: () => worker,
    restartWorker: async () => (worker = await startWorker()),
    close: async () => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      await sims.close();
      await Promise.all([apiProcess.stop(), worker.stop()]);
      await sim.stop();
      await redis?.stop();
    },
  };
}
