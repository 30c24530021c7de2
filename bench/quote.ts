/**
 * Quote latency through HTTP when every downstream call takes 20 ms, with 64 concurrent clients,
 * reported as a ratio to the longest chain of dependent downstream calls (issue 3). The quote
 * fetches everything it needs at once, so that chain is one call: 20 ms.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { buildApp } from '../http/app.ts';
import { createTradeCenter, DEFAULT_CONFIG } from '../runtime/trade-center.ts';
import type { SystemName } from '../systems/contract.ts';
import { loadDataset } from '../systems/sim/index.ts';
import { driveFromWorker } from './drive.ts';

const LATENCY_MS = 20;
const QUOTE_SYSTEMS: SystemName[] = ['user', 'level', 'fuelCatalog', 'goods', 'promotion', 'coupon', 'points'];

export async function benchQuote(opts: { requests?: number; concurrency?: number } = {}): Promise<string[]> {
  const requests = opts.requests ?? 2000;
  const concurrency = opts.concurrency ?? 64;
  const dir = mkdtempSync(join(tmpdir(), 'trade-bench-quote-'));
  try {
    const tc = createTradeCenter(
      { ...DEFAULT_CONFIG, dataset: loadDataset(new URL('../demo/dataset.json', import.meta.url).pathname), dbPath: join(dir, 'trade.db'), simDbPath: join(dir, 'sim.db'), logLevel: 'silent' },
      { log: pino({ level: 'silent' }) },
    );
    const app = await buildApp(tc);
    await app.listen({ port: 0, host: '127.0.0.1' });
    await tc.start();
    for (const system of QUOTE_SYSTEMS) tc.sims!.faults[system].configure({ '*': { latencyMs: LATENCY_MS } });
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/v1/transactions`;
    const body = {
      scene: 'merchant_pos', merchantId: 'M1', stationId: 'S1', userId: 'U1',
      items: [{ type: 'fuel', nozzleNo: 1, amount: 30000 }, { type: 'goods', sku: 'SKU-WATER', quantity: 2 }],
      paymentMethods: ['stored_value', 'wechat'], usePoints: true,
    };
    await driveFromWorker(url, body, 200, concurrency);
    const lines: string[] = [];
    // 64 clients is the target; fewer show how much of the latency is queueing for the CPU.
    for (const clients of [1, 8, concurrency]) {
      const run = await driveFromWorker(url, body, clients === 1 ? 200 : requests, clients);
      lines.push(
        `quote through HTTP, every downstream call ${LATENCY_MS} ms, ${String(clients).padStart(2)} concurrent clients: ` +
          `p50 ${run.p50.toFixed(1)} ms, p99 ${run.p99.toFixed(1)} ms, ${run.perSecond.toFixed(0)} quotes/s; ` +
          `ratio to the longest dependent chain (1 call, ${LATENCY_MS} ms): p50 ${(run.p50 / LATENCY_MS).toFixed(2)}×, p99 ${(run.p99 / LATENCY_MS).toFixed(2)}×`,
      );
    }
    await app.close();
    await tc.close();
    return [...lines, '  (target: ≤ 1.2× at p99 with 64 clients)'];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of await benchQuote()) console.log(line);
}
