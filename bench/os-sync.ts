/**
 * OS order sync cost (docs/os-sync.md): what recording events costs a save, and how fast the
 * delivery loop drains a station's backlog into the OS simulator, on SQLite (a temp file).
 *
 *   npx tsx bench/os-sync.ts [orders]     (default 5000 orders over 3 stations, 2 events each)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ManualClock } from '../runtime/clock.ts';
import { Downstream } from '../runtime/downstream.ts';
import { DEFAULT_OS_KEEP_DELIVERED_MS, OsSync } from '../runtime/os-sync.ts';
import { openSqliteStorage } from '../storage/sqlite/storage.ts';
import type { OsEventSpec, SaveRecord } from '../storage/types.ts';
import { createSimulators, DEMO_DATASET_URL, loadDataset } from '../systems/sim/index.ts';

const orders = Number(process.argv[2] ?? 5000);
const dir = mkdtempSync(join(tmpdir(), 'os-sync-bench-'));
const clock = new ManualClock();
const record = (txnNo: string, stationId: string, osEvents: OsEventSpec[]): SaveRecord => ({
  txnNo, merchantId: 'M1', stationId, orderNo: `O${txnNo}`, state: 'completed', stateValue: 'completed', snapshot: { value: 'completed', context: { pad: 'x'.repeat(2000) } },
  atRest: true, working: false, needsAttention: false, finalAt: null, timers: {}, tasks: [], osEvents, createdAt: clock.now(), updatedAt: clock.now(),
});
const events = (orderNo: string): OsEventSpec[] => [
  { eventId: `${orderNo}:placed`, orderNo, kind: 'placed', payload: { payableFen: 3000, lines: [{ lineNo: 1, type: 'fuel', amount: 3000 }] } },
  { eventId: `${orderNo}:paid`, orderNo, kind: 'paid', payload: { amountFen: 3000, legs: [{ method: 'wechat', amountFen: 3000 }] } },
];

async function saves(label: string, withEvents: boolean): Promise<void> {
  const storage = openSqliteStorage(join(dir, `${label}.db`));
  const started = performance.now();
  const batch: Promise<unknown>[] = [];
  for (let i = 0; i < orders; i++) {
    const txnNo = `T${label}${i}`;
    // Two saves a sale: created, then paid (each lists the events so far).
    batch.push(storage.snapshots.save(record(txnNo, `S${(i % 3) + 1}`, withEvents ? events(`O${txnNo}`).slice(0, 1) : []), 0, []).then(() =>
      storage.snapshots.save(record(txnNo, `S${(i % 3) + 1}`, withEvents ? events(`O${txnNo}`) : []), 1, [])));
    if (batch.length >= 200) await Promise.all(batch.splice(0));
  }
  await Promise.all(batch);
  const ms = performance.now() - started;
  console.log(`${label}: ${orders * 2} saves in ${ms.toFixed(0)} ms = ${((orders * 2) / (ms / 1000)).toFixed(0)} saves/s`);
  if (withEvents) {
    const sims = createSimulators({ dbPath: join(dir, 'sim.db'), dataset: loadDataset(DEMO_DATASET_URL), clock, callback: { baseUrl: 'http://127.0.0.1:1', secret: 's' } });
    const downstream = new Downstream({ timeoutsMs: { default: 5_000 }, breakAfterFailures: 1_000, halfOpenAfterMs: 1_000 });
    const sync = new OsSync(storage.osOutbox, sims.systems.os, downstream, async () => null, clock, { pollMs: 60_000, batch: 500, baseBackoffMs: 1_000, maxBackoffMs: 60_000, keepDeliveredMs: DEFAULT_OS_KEEP_DELIVERED_MS, leaseMs: 30_000 }, pino({ level: 'silent' }));
    const t0 = performance.now();
    const delivered = await sync.runDue();
    const dms = performance.now() - t0;
    console.log(`delivery: ${delivered} events to the OS simulator in ${dms.toFixed(0)} ms = ${(delivered / (dms / 1000)).toFixed(0)} events/s (cursor CAS per batch of 500)`);
    const r0 = performance.now();
    await sync.resync('S1', 0);
    const again = await sync.runDue();
    const rms = performance.now() - r0;
    console.log(`resync of S1: ${again} events re-sent in ${rms.toFixed(0)} ms, OS holds ${sims.systems.os.peekEvents('S1').length} (once each)`);
    await sims.close();
  }
  await storage.close();
}

await saves('plain', false);
await saves('events', true);
rmSync(dir, { recursive: true, force: true });
