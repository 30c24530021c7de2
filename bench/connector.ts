/**
 * `npm run bench:connector`: the HTTP connectors against a `trade sim` process on loopback.
 * - the cost of one downstream call through the connector (a read and a keyed mutation), p50/p99,
 *   next to a bare request to the same server in the same run;
 * - a run of whole sales (quote → order → stored-value pay, post-payment tasks) with the platform
 *   in this process and every downstream system in the `trade sim` process, counting the TCP
 *   connections the sim accepted: pooling works when that stays near the pool size.
 *
 *   npm run bench:connector -- [--calls 1000] [--sales 1000] [--concurrency 16] [--pool 16]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { request } from 'undici';
import { buildApp } from '../http/app.ts';
import { simUrls } from '../runtime/systems-config.ts';
import { createTradeCenter, DEFAULT_CONFIG } from '../runtime/trade-center.ts';
import type { TransactionView } from '../runtime/view.ts';
import { createHttpSystems } from '../systems/http/index.ts';
import { loadDataset } from '../systems/sim/index.ts';
import { arg, drive, post } from './drive.ts';

const CALLS = arg('calls', 1000);
const SALES = arg('sales', 1000);
const CONCURRENCY = arg('concurrency', 16);
const POOL = arg('pool', 16);

/** Starts `trade sim` on a free port; resolves its URL and a stop function. */
async function startSim(dir: string, data: string): Promise<{ url: string; stop(): Promise<void> }> {
  const bin = new URL('../bin/trade.js', import.meta.url).pathname;
  const child = spawn(process.execPath, [bin, 'sim', '--port', '0', '--db', join(dir, 'sim.db'), '--data', data, '--callback-delay-ms', '0'], {
    env: { ...process.env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`trade sim exited with ${code}: ${out}`)));
  });
  return { url, stop: async () => { child.kill('SIGTERM'); await exited; } };
}

async function connectionsOpened(simUrl: string): Promise<number> {
  const res = await request(`${simUrl}/sim/stats`);
  return ((await res.body.json()) as { connectionsOpened: number }).connectionsOpened;
}

const fmt = (n: number) => n.toFixed(2);
const dir = mkdtempSync(join(tmpdir(), 'trade-bench-connector-'));
try {
  const dataset = loadDataset(new URL('../demo/dataset.json', import.meta.url).pathname);
  for (const card of dataset.cards) card.balanceFen = 1_000_000_000;
  const data = join(dir, 'dataset.json');
  writeFileSync(data, JSON.stringify(dataset));
  const sim = await startSim(dir, data);
  console.log(`machine: ${process.platform} ${process.arch}, node ${process.version}; trade sim at ${sim.url}, pool ${POOL} per origin`);

  console.log('\n# one downstream call through the connector (loopback, trade sim in its own process)');
  const remote = createHttpSystems({ urls: simUrls(sim.url), poolSize: POOL, timeoutMs: () => 5_000 });
  const bare = async () => {
    const res = await request(`${sim.url}/sim/stats`);
    await res.body.text();
  };
  const read = async () => {
    if (!(await remote.systems.user.getUser('U1'))) throw new Error('no user');
  };
  let n = 0;
  const mutation = async () => {
    const i = n++;
    const outcome = await remote.systems.storedValue.lock({ txnNo: `TB${i}`, step: 'leg-1:lock' }, { lockKey: `TB${i}-P1`, cardNo: 'C3', amountFen: 1 });
    if (!outcome.ok) throw new Error(outcome.code);
  };
  await drive(200, 4, read); // warm-up
  await drive(200, 4, bare);
  for (const concurrency of [1, CONCURRENCY]) {
    const b = await drive(CALLS, concurrency, bare);
    const r = await drive(CALLS, concurrency, read);
    const m = await drive(CALLS, concurrency, mutation);
    console.log(`concurrency ${concurrency}, ${CALLS} calls each:`);
    console.log(`  bare GET on the sim (undici):        p50 ${fmt(b.p50)} ms, p99 ${fmt(b.p99)} ms, ${b.perSecond.toFixed(0)}/s`);
    console.log(`  read  (user.getUser):                p50 ${fmt(r.p50)} ms, p99 ${fmt(r.p99)} ms, ${r.perSecond.toFixed(0)}/s`);
    console.log(`  mutation (storedValue.lock, keyed):  p50 ${fmt(m.p50)} ms, p99 ${fmt(m.p99)} ms, ${m.perSecond.toFixed(0)}/s (a SQLite write each)`);
  }
  await remote.close();

  console.log(`\n# ${SALES} whole sales, platform here, every downstream system in trade sim over HTTP`);
  const tc = createTradeCenter(
    {
      ...DEFAULT_CONFIG,
      dataset,
      systems: { mode: 'http', urls: simUrls(sim.url), poolSize: POOL, sendClock: false },
      dbPath: join(dir, 'trade.db'),
      simDbPath: join(dir, 'unused-sim.db'),
      logLevel: 'silent',
    },
    { log: pino({ level: 'silent' }) },
  );
  const app = await buildApp(tc);
  await app.listen({ port: 0, host: '127.0.0.1' });
  await tc.start();
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const sale = async () => {
    const started = await post<TransactionView>(`${base}/v1/transactions`, {
      scene: 'merchant_pos', merchantId: 'M1', stationId: 'S1', userId: 'U4',
      items: [{ type: 'fuel', nozzleNo: 1, amount: 30000 }], paymentMethods: ['stored_value'],
    });
    const ordered = await post<TransactionView>(`${base}/v1/transactions/${started.txnNo}/order`, { quoteId: started.quote.quoteId, comboId: started.quote.bestComboId });
    const paid = await post<TransactionView>(`${base}/v1/transactions/${started.txnNo}/payments`, { legs: [{ method: 'stored_value', cardNo: 'C1', amount: ordered.payableAmount }] });
    if (paid.state !== 'completed') throw new Error(`sale ended ${paid.state}`);
  };
  const before = await connectionsOpened(sim.url);
  const sales = await drive(SALES, CONCURRENCY, sale);
  // Let the post-payment tasks of the last sales run too: they are downstream calls as well.
  await new Promise((r) => setTimeout(r, 2 * tc.config.tasks.pollMs + 500));
  const opened = (await connectionsOpened(sim.url)) - before;
  console.log(`${fmt(sales.perSecond)} sales/s at concurrency ${CONCURRENCY}, p50 ${fmt(sales.p50)} ms, p99 ${fmt(sales.p99)} ms per sale`);
  console.log(`TCP connections the sim accepted during the run: ${opened} (pool size ${POOL}; a connection per call would be ~${SALES * 20})`);
  await app.close();
  await tc.close();
  await sim.stop();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
