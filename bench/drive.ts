import { Pool } from 'undici';
/** Load drivers shared by the benchmarks: closed-loop clients and a JSON POST. */

export interface RunStats {
  perSecond: number;
  p50: number;
  p99: number;
}

/** A positive number given on the command line as `--name N`, or `fallback`. */
export function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

/** The `p`th percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** Runs `one` `n` times from `concurrency` closed-loop clients; latencies in ms. */
export async function drive(n: number, concurrency: number, one: () => Promise<void>): Promise<RunStats> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        const t0 = performance.now();
        await one();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { perSecond: n / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

/**
 * Open loop: starts `n` calls at a steady `perSecond`, whether or not earlier ones have answered,
 * as independent clients do. Each latency runs from the call's scheduled start, so a server that
 * falls behind shows it in full (no coordinated omission); `perSecond` in the result is what was
 * achieved.
 */
export async function driveAtRate(n: number, perSecond: number, one: () => Promise<void>): Promise<RunStats> {
  const latencies: number[] = [];
  const calls: Promise<void>[] = [];
  const started = performance.now();
  let issued = 0;
  while (issued < n) {
    const due = Math.min(n, Math.floor(((performance.now() - started) / 1000) * perSecond) + 1);
    for (; issued < due; issued++) {
      const scheduled = started + (issued * 1000) / perSecond;
      calls.push(one().then(() => void latencies.push(performance.now() - scheduled)));
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(calls);
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { perSecond: n / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

const pools = new Map<string, Pool>();

/** The API key the load is sent with: a bench with its own keys file sets it (over connectors there is no demo key). */
const benchKey = () => process.env.TRADE_BENCH_KEY ?? 'tc_demo_key';

/**
 * A JSON POST through a keep-alive undici pool: the load generator's own cost per request stays
 * small (WHATWG fetch costs several times more CPU), so the figures measure the server.
 */
export async function post<T>(url: string, body: unknown): Promise<T> {
  const { origin, pathname } = new URL(url);
  let pool = pools.get(origin);
  if (!pool) pools.set(origin, (pool = new Pool(origin, { connections: 128 })));
  const res = await pool.request({ method: 'POST', path: pathname, headers: { authorization: `Bearer ${benchKey()}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await res.body.json()) as T;
  if (res.statusCode >= 300) throw new Error(`${url}: ${res.statusCode} ${JSON.stringify(json)}`);
  return json;
}

/**
 * Runs the same closed loop from a worker thread (bench/load-worker.ts) against a POST endpoint;
 * with `perSecond`, the open loop of {@link driveAtRate} instead (`concurrency` is then unused).
 */
export async function driveFromWorker(url: string, body: unknown, requests: number, concurrency: number, perSecond?: number): Promise<RunStats> {
  const { Worker } = await import('node:worker_threads');
  // A worker's entry file is resolved before any loader runs, so a small JS entry registers tsx first.
  const entry = new URL('./load-worker.ts', import.meta.url).href;
  const worker = new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`, {
    eval: true,
    workerData: { url, body, requests, concurrency, perSecond },
  });
  return new Promise((resolve, reject) => {
    worker.once('message', (stats: RunStats) => resolve(stats));
    worker.once('error', reject);
  });
}
