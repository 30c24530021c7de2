/**
 * Profiling aid, not part of `npm run bench`: drives SQLite checkouts against one in-process
 * Trade Center so `node --cpu-prof` sees only the engine and the simulators.
 *   node --import tsx bench/profile-checkout.ts [sqlite|redis URL]   (PROFILE=out.cpuprofile to profile the measured run)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { pino } from 'pino';
import { buildApp } from '../http/app.ts';
import { createTradeCenter, DEFAULT_CONFIG } from '../runtime/trade-center.ts';
import { loadDataset } from '../systems/sim/index.ts';
import { driveFromWorker } from './drive.ts';

const body = {
  scene: 'merchant_pos', merchantId: 'M1', stationId: 'S1', userId: 'U5',
  items: [{ type: 'fuel', nozzleNo: 1, amount: 15000 }], paymentMethods: ['stored_value'], usePoints: true,
  legs: [{ method: 'stored_value', cardNo: 'C4', amount: 'rest' }],
};
const d = loadDataset(new URL('../demo/dataset.json', import.meta.url).pathname);
for (const card of d.cards) card.balanceFen = 1_000_000_000_000;
for (const a of d.pointsAccounts) a.balance = 1_000_000_000;
const dir = mkdtempSync(join(tmpdir(), 'trade-prof-'));
const redisUrl = process.argv[2] === 'redis' ? process.argv[3] : undefined;
const tc = createTradeCenter(
  { ...DEFAULT_CONFIG, dataset: d, dbPath: join(dir, 'trade.db'), simDbPath: join(dir, 'sim.db'), logLevel: 'silent', storage: redisUrl ? { kind: 'redis', url: redisUrl, prefix: `prof${Date.now()}` } : { kind: 'sqlite' } },
  { log: pino({ level: 'silent' }) },
);
const app = await buildApp(tc);
await app.listen({ port: 0, host: '127.0.0.1' });
await tc.start();
const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/v1/checkout`;
const n = Number(process.env.N ?? 2000);
await driveFromWorker(url, body, 300, 64);
const session = process.env.PROFILE ? new Session() : null;
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
}
const elu0 = performance.eventLoopUtilization();
const stats = await driveFromWorker(url, body, n, 64);
const elu = performance.eventLoopUtilization(elu0);
if (session) writeFileSync(process.env.PROFILE!, JSON.stringify((await session.post('Profiler.stop')).profile));
console.log(JSON.stringify(stats), 'engine ms/checkout', (elu.active / n).toFixed(2));
await app.close();
await tc.close();
rmSync(dir, { recursive: true, force: true });
