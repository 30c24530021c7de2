/**
 * `npm run bench`: the optimizer and quote benchmarks (bench/optimizer.ts, bench/quote.ts), then a whole fuel sale (quote → order → stored-value pay, completed) through the real
 * HTTP API on the embedded SQLite default with in-process simulators and no added latency,
 * against a bare fastify route in the same run, so the figures read as ratios on a noisy machine.
 *
 *   npm run bench -- [--sales 400] [--concurrency 16]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../http/app.ts';
import { createTradeCenter, DEFAULT_CONFIG } from '../runtime/trade-center.ts';
import type { TransactionView } from '../runtime/view.ts';
import { loadDataset } from '../systems/sim/index.ts';
import { arg, drive, post } from './drive.ts';
import { benchOptimizer } from './optimizer.ts';
import { benchQuote } from './quote.ts';

const SALES = arg('sales', 400);
const CONCURRENCY = arg('concurrency', 16);

console.log(`machine: ${process.platform} ${process.arch}, node ${process.version}`);
console.log('\n# optimizer (issue 3)');
for (const line of await benchOptimizer()) console.log(line);
console.log('\n# quote through HTTP (issue 3)');
for (const line of await benchQuote()) console.log(line);
console.log('\n# whole sale through HTTP (issue 2)');

const dir = mkdtempSync(join(tmpdir(), 'trade-bench-'));
try {
  const dataset = loadDataset(new URL('../demo/dataset.json', import.meta.url).pathname);
  // Enough money on the card for every sale of the run.
  for (const card of dataset.cards) card.balanceFen = 1_000_000_000;
  const tc = createTradeCenter(
    { ...DEFAULT_CONFIG, dataset, dbPath: join(dir, 'trade.db'), simDbPath: join(dir, 'sim.db'), logLevel: 'silent' },
    { log: pino({ level: 'silent' }) },
  );
  const app = await buildApp(tc);
  await app.listen({ port: 0, host: '127.0.0.1' });
  await tc.start();
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;

  const bare = Fastify();
  bare.post('/echo', async (req) => ({ ok: true, body: req.body }));
  await bare.listen({ port: 0, host: '127.0.0.1' });
  const bareUrl = `http://127.0.0.1:${(bare.server.address() as { port: number }).port}/echo`;

  const sale = async () => {
    const started = await post<TransactionView>(`${base}/v1/transactions`, {
      scene: 'merchant_pos', merchantId: 'M1', stationId: 'S1', userId: 'U4', // no coupons: concurrent sales must not contend for one; 150 yuan earns no reward coupon that would grow U4's wallet run after run
      items: [{ type: 'fuel', nozzleNo: 1, amount: 15000 }], paymentMethods: ['stored_value'],
    });
    const ordered = await post<TransactionView>(`${base}/v1/transactions/${started.txnNo}/order`, { quoteId: started.quote.quoteId, comboId: started.quote.bestComboId });
    const paid = await post<TransactionView>(`${base}/v1/transactions/${started.txnNo}/payments`, { legs: [{ method: 'stored_value', cardNo: 'C1', amount: ordered.payableAmount }] });
    if (paid.state !== 'completed') throw new Error(`sale ended ${paid.state}`);
  };
  const bareCall = async () => {
    await post(bareUrl, { hello: 'world' });
  };

  await drive(Math.min(50, SALES), CONCURRENCY, sale); // warm-up
  await drive(200, CONCURRENCY, bareCall);
  const sales = await drive(SALES, CONCURRENCY, sale);
  const bareRun = await drive(SALES * 3, CONCURRENCY, bareCall);

  const fmt = (n: number) => n.toFixed(1);
  console.log(`${SALES} sales, concurrency ${CONCURRENCY}`);
  console.log(`whole sale (3 HTTP calls, SQLite, in-process simulators): ${fmt(sales.perSecond)} sales/s, p50 ${fmt(sales.p50)} ms, p99 ${fmt(sales.p99)} ms`);
  console.log(`bare fastify POST in the same run:                         ${fmt(bareRun.perSecond)} req/s, p50 ${fmt(bareRun.p50)} ms, p99 ${fmt(bareRun.p99)} ms`);
  console.log(`ratio: one sale costs ${fmt(bareRun.perSecond / sales.perSecond)}× a bare request (${fmt(bareRun.perSecond / sales.perSecond / 3)}× per API call)`);
  await bare.close();
  await app.close();
  await tc.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
