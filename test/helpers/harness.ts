import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Test } from 'tap';
import type { ApiKey } from '../../domain/api-key.ts';
import { buildApp } from '../../http/app.ts';
import { DEMO_API_KEY } from '../../domain/api-key.ts';
import { sha256Hex } from '../../runtime/api-keys.ts';
import { ManualClock, systemClock, type Clock } from '../../runtime/clock.ts';
import { simUrls } from '../../runtime/systems-config.ts';
import { createTradeCenter, DEFAULT_CONFIG, type TradeCenter, type TradeCenterConfig } from '../../runtime/trade-center.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { loadDataset } from '../../systems/sim/index.ts';
import { PATIENCE_MS } from './deadlines.ts';
import { localSimControl, remoteSimControl, type SimControl } from './sim-control.ts';
import type { Drive, SplitStorage } from './split-harness.ts';

/** The role split the suites run on: `TRADE_TEST_ROLES=split` (with `TRADE_TEST_STORAGE=redis` on Redis). */
function splitFromEnv(): SplitStorage | null {
  if (process.env.TRADE_TEST_ROLES !== 'split') return null;
  return process.env.TRADE_TEST_STORAGE === 'redis' ? 'redis' : 'sqlite';
}

/** The {@link Drive} of a Trade Center in the test's process. */
export function localDrive(tc: TradeCenter): Drive {
  return {
    runDueTasks: () => tc.tasks.runDue(),
    fireDueTimers: () => tc.host.fireDueTimers(),
    settle: () => tc.host.settle(),
    alerts: async () => tc.host.alerts,
    breaker: async (system) => tc.downstream.state(system),
    storedTimers: async (txnNo) => (await tc.storage.snapshots.load(txnNo))?.timers ?? {},
  };
}

export const DEMO_KEY = DEMO_API_KEY;

/** A keys-file entry for `secret` (only its hash is kept, as in a real keys file). */
export function keyEntry(secret: string, key: Pick<ApiKey, 'scopes' | 'merchants'> & Partial<ApiKey>): ApiKey {
  return { id: secret, system: secret, secretSha256: sha256Hex(secret), ...key };
}
export const DATASET_PATH = new URL('../../demo/dataset.json', import.meta.url).pathname;

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

export type Api = <T = Record<string, unknown>>(method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<ApiResponse<T>>;

/** A JSON client for a listening Trade Center, authenticated with the demo key. */
export function apiClient(baseUrl: string, key = DEMO_KEY): Api {
  return async (method, path, body, headers = {}) => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : {}, headers: res.headers };
  };
}

export interface Harness {
  url: string;
  /** The Trade Center in the test's process; absent (a throw) when the roles run as processes of their own. */
  tc: TradeCenter;
  /** The configuration it runs with. */
  config: TradeCenterConfig;
  /** What the suite does to it besides the API: the same in process and split into processes. */
  drive: Drive;
  /** The simulated downstream world, in process or (`TRADE_TEST_SYSTEMS=http`) a `trade sim` child. */
  sims: SimControl;
  api: Api;
  dir: string;
  close(): Promise<void>;
}

/**
 * A real Trade Center on a real listening port, with its own SQLite files in a fresh temporary
 * folder, closed when the test ends. The downstream systems are the in-process simulators, or
 * with `TRADE_TEST_SYSTEMS=http` a `trade sim` process of its own reached over HTTP (its clock
 * following the test's), so the same suite proves the platform over real connectors.
 */
export async function startHarness(t: Test, opts: { clock?: Clock; config?: Partial<TradeCenterConfig>; dir?: string; split?: SplitStorage } = {}): Promise<Harness> {
  const dir = opts.dir ?? t.testdir();
  const split = opts.split ?? splitFromEnv();
  const config: TradeCenterConfig = {
    ...DEFAULT_CONFIG,
    dataset: loadDataset(DATASET_PATH),
    dbPath: join(dir, 'trade.db'),
    simDbPath: join(dir, 'sim.db'),
    callbackDelayMs: 0,
    logLevel: 'silent',
    // A test runs reconciliation days when it says (test/runtime/recon-jobs.test.ts turns the daily job on).
    recon: { ...DEFAULT_CONFIG.recon, daily: false },
    // With a manual clock the test drives time: timers and tasks run when it says, not on a poll.
    ...(opts.clock instanceof ManualClock ? { timerPollMs: 3_600_000, tasks: { ...DEFAULT_CONFIG.tasks, pollMs: 3_600_000, runOnArrival: false }, osSync: { ...DEFAULT_CONFIG.osSync, pollMs: 3_600_000 } } : {}),
    ...opts.config,
  };
  if (split) {
    // Imported here: split-harness.ts imports this module (the API client).
    const { startSplit } = await import('./split-harness.ts');
    const platform = await startSplit(t, dir, config, opts.config ?? {}, opts.clock ?? systemClock, split);
    t.teardown(() => platform.close());
    return {
      url: platform.url,
      get tc(): TradeCenter {
        throw new Error('the roles run as processes of their own: drive them through h.drive');
      },
      config,
      drive: platform.drive,
      sims: platform.sims,
      api: platform.api,
      dir,
      close: () => platform.close(),
    };
  }
  const remote = process.env.TRADE_TEST_SYSTEMS === 'http' ? await startRemoteSims(t, dir, config, opts.clock ?? systemClock) : null;
  if (remote) config.systems = { mode: 'http', urls: simUrls(remote.url), poolSize: 8, sendClock: true };
  const tc = createTradeCenter(config, { ...(opts.clock ? { clock: opts.clock } : {}), log: pino({ level: process.env.TEST_LOG ?? 'silent' }) });
  const app = await buildApp(tc);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;
  tc.sims?.gateway.setCallbackTarget(url, config.callbackSecret);
  await remote?.pointCallbacksAt(url, config.callbackSecret);
  await tc.start();
  const sims = remote?.control ?? (tc.sims ? localSimControl(tc.sims) : null);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await app.close();
    await tc.close();
    await remote?.close();
  };
  t.teardown(close);
  return {
    url,
    tc,
    config,
    drive: localDrive(tc),
    get sims(): SimControl {
      if (!sims) throw new Error('the test configured its own downstream systems: it controls them itself');
      return sims;
    },
    api: apiClient(url),
    dir,
    close,
  };
}

/** A `trade sim` child on the harness's dataset, its clock kept at the test's by a heartbeat. */
async function startRemoteSims(t: Test, dir: string, config: TradeCenterConfig, clock: Clock) {
  // Imported here: server-process.ts imports this module for the dataset path.
  const { freePort } = await import('./server-process.ts');
  const { SIM_ADMIN_TOKEN, startSimProcess } = await import('./sim-process.ts');
  const auth = { authorization: `Bearer ${SIM_ADMIN_TOKEN}` };
  const data = join(dir, 'sim-dataset.json');
  writeFileSync(data, JSON.stringify(config.dataset));
  const sim = await startSimProcess({ dir, port: await freePort(), callbackUrl: 'http://127.0.0.1:1', clock: 'follow', data });
  t.teardown(() => sim.stop());
  const control = remoteSimControl(sim.url, clock, SIM_ADMIN_TOKEN);
  // The sim's callback outbox runs on its own clock: between the platform's calls it must still
  // see the test's time move (a manual clock advanced, a real one ticking).
  const heartbeat = setInterval(() => void fetch(`${sim.url}/sim/stats`, { headers: { ...auth, 'x-tc-now': String(clock.now()) } }).catch(() => undefined), 20);
  heartbeat.unref();
  return {
    url: sim.url,
    control,
    pointCallbacksAt: async (baseUrl: string, secret: string) => {
      const res = await fetch(`${sim.url}/sim/callback-target`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ baseUrl, secret }) });
      if (!res.ok) throw new Error(`sim callback target: HTTP ${res.status}`);
    },
    close: async () => {
      clearInterval(heartbeat);
      await control.close();
      await sim.stop();
    },
  };
}

export const FUEL_SALE = {
  scene: 'merchant_pos',
  merchantId: 'M1',
  stationId: 'S1',
  userId: 'U1',
  items: [{ type: 'fuel', nozzleNo: 1, amount: 30000 }],
} as const;

/** Starts a transaction and orders its combination for `method`; returns the ordered view. */
export async function orderedSale(api: Api, method: string, body: Record<string, unknown> = {}): Promise<TransactionView> {
  const started = await api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: [method], ...body });
  if (started.status !== 201) throw new Error(`start failed: ${JSON.stringify(started.body)}`);
  const { quoteId, combos } = started.body.quote;
  const ordered = await api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId, comboId: combos[0]!.comboId });
  if (ordered.status !== 201) throw new Error(`order failed: ${JSON.stringify(ordered.body)}`);
  return ordered.body;
}

/** Polls until `check` holds (a real callback crosses HTTP asynchronously); fails after `ms`. */
export async function eventually<T>(probe: () => Promise<T>, check: (value: T) => boolean, ms = PATIENCE_MS): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms; last value: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Lets every post-payment task and refund of the transaction finish, so it is final with every
 * task done: what the archiver takes.
 */
export async function untilArchivable(h: Harness, txnNo: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    await h.tc.host.settle();
    await h.tc.tasks.runDue();
    const record = await h.tc.storage.snapshots.load(txnNo);
    const open = (await h.tc.storage.tasks.tasksOf(txnNo)).filter((x) => x.status !== 'done');
    if (record?.finalAt !== null && open.length === 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${txnNo} did not become final with its tasks done`);
}
