/**
 * Issue 18, must-show 2: many sales on Redis + PostgreSQL with a short quiet period. Redis's key
 * count (DBSIZE) and `used_memory` are sampled every N sales: once the first quiet period has
 * passed they should stay flat, final transactions leaving Redis for the archive as fast as new
 * ones come. At the end every sale must be in the archive, and the archive's counts and sums must
 * equal the simulators' ledger (the card's debits) and `GET /admin/orders/summary`. Then every
 * sale is read (`GET /v1/transactions/{txnNo}`: paid in full) and REFUNDS of them, spread over the
 * run, refunded in full; once archived again, the refunds' sum must equal the archive's refunded
 * amount, and the card ledger the archive's paid less refunded.
 *
 *   npx tsx bench/archive-flat-memory.ts [sales=100000] [quiet=2s] [rate=0] [keepDelivered=10s]
 *
 * `rate` > 0 offers that many sales a second (open loop): below what the post-payment tasks keep up
 * with, transactions become final as fast as they arrive. 0: as fast as 32 clients in flight go.
 * `keepDelivered`: how long OS events OS took stay in the station outbox (TRADE_OS_KEEP_DELIVERED).
 *
 * Runs a private redis-server and its own PostgreSQL database (dropped at the end); the trade
 * center, its simulators and the load run in this process (`app.inject`, 32 checkouts in flight).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import { buildApp } from '../http/app.ts';
import { archiverConfig, parseDuration } from '../runtime/archiver.ts';
import { createTradeCenter, DEFAULT_CONFIG } from '../runtime/trade-center.ts';
import { loadDataset } from '../systems/sim/index.ts';
import { startRedisServer } from './servers.ts';

const SALES = Number(process.argv[2] ?? 100_000);
const QUIET_MS = parseDuration(process.argv[3] ?? '2s') ?? 2_000;
const RATE = Number(process.argv[4] ?? 0);
const KEEP_DELIVERED_MS = parseDuration(process.argv[5] ?? '10s') ?? 10_000;
const SAMPLES = 20;
/** Sales refunded after archiving (spread evenly over the run), each in full. */
const REFUNDS = 100;
const IN_FLIGHT = 32;
const PG_SERVER = process.env.TRADE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432';
const CARD = 'C4';
/** `TRADE_BENCH_CENSUS=1`: each sample also writes a census of Redis's keys by shape (see census) to stderr. */
const CENSUS = process.env.TRADE_BENCH_CENSUS === '1';
const CARD_BALANCE = 1_000_000_000_000;

const CHECKOUT = {
  scene: 'merchant_pos',
  merchantId: 'M1',
  stationId: 'S1',
  userId: 'U5',
  items: [{ type: 'fuel', nozzleNo: 1, amount: 15000 }],
  paymentMethods: ['stored_value'],
  legs: [{ method: 'stored_value', cardNo: CARD, amount: 'rest' }],
};


/** A key's place in the layout: its transaction, idempotency key or stream id part replaced by `*`. */
function keyShape(key: string): string {
  return key.replace(/\{(?!idx\})[^}]*\}/g, '{*}').replace(/:task:.*$/, ':task:*');
}

/** Elements of a key of each type (stream entries, hash fields, set members, list items, string bytes). */
const LENGTH: Record<string, string> = { stream: 'XLEN', hash: 'HLEN', zset: 'ZCARD', set: 'SCARD', list: 'LLEN', string: 'STRLEN' };

/**
 * Every key of Redis grouped by shape (see keyShape): keys, type, elements and `MEMORY USAGE`
 * bytes per shape, biggest first; what grows per sale shows as a shape whose bytes rise between
 * two censuses.
 */
async function census(probe: Redis): Promise<{ shape: string; type: string; keys: number; elements: number; bytes: number }[]> {
  const shapes = new Map<string, { shape: string; type: string; keys: number; elements: number; bytes: number }>();
  let cursor = '0';
  do {
    const [next, keys] = await probe.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await probe.type(key);
      const elements = LENGTH[type] ? Number(await probe.call(LENGTH[type]!, key)) : 0;
      const bytes = Number((await probe.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
      const shape = keyShape(key);
      const row = shapes.get(shape) ?? { shape, type, keys: 0, elements: 0, bytes: 0 };
      row.keys++;
      row.elements += elements;
      row.bytes += bytes;
      shapes.set(shape, row);
    }
  } while (cursor !== '0');
  return [...shapes.values()].sort((a, b) => b.bytes - a.bytes);
}

async function onPostgres(sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: `${PG_SERVER}/postgres` });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'trade-bench-archive-'));
  const redis = await startRedisServer(dir);
  const database = `tc_flat_${randomBytes(6).toString('hex')}`;
  await onPostgres(`CREATE DATABASE ${database}`);
  const probe = new Redis(redis.url);
  try {
    const dataset = loadDataset(new URL('../demo/dataset.json', import.meta.url).pathname);
    for (const card of dataset.cards) card.balanceFen = CARD_BALANCE;
    const tc = createTradeCenter(
      {
        ...DEFAULT_CONFIG,
        dataset,
        dbPath: join(dir, 'trade.db'),
        simDbPath: join(dir, 'sim.db'),
        logLevel: 'silent',
        storage: { kind: 'redis', url: redis.url, prefix: 'flat', archiveUrl: `${PG_SERVER}/${database}` },
        archive: archiverConfig(QUIET_MS),
        osSync: { ...DEFAULT_CONFIG.osSync, keepDeliveredMs: KEEP_DELIVERED_MS },
      },
      { log: pino({ level: 'silent' }) },
    );
    const app = await buildApp(tc);
    await app.ready();
    await tc.start();
    const auth = { authorization: 'Bearer tc_demo_key' };
    const samples: { sales: number; seconds: number; dbsize: number; usedMemoryMb: number; archived: number }[] = [];
    const sample = async (sales: number, started: number) => {
      const info = await probe.info('memory');
      const used = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
      samples.push({ sales, seconds: Math.round((performance.now() - started) / 100) / 10, dbsize: await probe.dbsize(), usedMemoryMb: Math.round(used / 10_485.76) / 100, archived: (await tc.archive.counts()).orders });
      process.stderr.write(`${JSON.stringify(samples.at(-1))}\n`);
      if (CENSUS) process.stderr.write(`${JSON.stringify(await census(probe))}\n`);
    };
    const started = performance.now();
    await sample(0, started);
    let next = 0;
    let done = 0;
    let failed = 0;
    const txnNos: string[] = [];
    const every = Math.max(1, Math.floor(SALES / SAMPLES));
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= SALES) return;
        if (RATE > 0) {
          const due = started + (i * 1000) / RATE;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        const res = await app.inject({ method: 'POST', url: '/v1/checkout', headers: { ...auth, 'content-type': 'application/json' }, payload: JSON.stringify(CHECKOUT) });
        if (res.statusCode !== 200) failed++;
        else txnNos.push((JSON.parse(res.body) as { txnNo: string }).txnNo);
        done++;
        if (done % every === 0) await sample(done, started);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    const salesSeconds = (performance.now() - started) / 1000;
    // The tail: the last sales' tasks finish, a quiet period passes, the archiver takes them.
    const deadline = Date.now() + 10 * 60_000;
    while ((await tc.archive.counts()).orders < SALES - failed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    await new Promise((r) => setTimeout(r, QUIET_MS * 2));
    await sample(done, started);
    const stillHot = (await Promise.all(txnNos.slice(0, 1000).map((txnNo) => tc.storage.snapshots.load(txnNo)))).filter((r) => r !== null).length;
    // Every sale readable after archiving, as a client reads it: paid in full.
    let readable = 0;
    for (const txnNo of txnNos) {
      const res = await app.inject({ method: 'GET', url: `/v1/transactions/${txnNo}`, headers: auth });
      const view = res.statusCode === 200 ? (JSON.parse(res.body) as { state: string; paidAmount: number; payableAmount: number }) : null;
      if (view && view.paidAmount === view.payableAmount && view.paidAmount > 0) readable++;
    }
    // Some refundable: refunded in full (each rehydrated into Redis, then archived again).
    const refundOf = txnNos.filter((_, i) => i % Math.max(1, Math.floor(txnNos.length / REFUNDS)) === 0).slice(0, REFUNDS);
    let refunded = 0;
    let refundedFen = 0;
    for (const txnNo of refundOf) {
      const res = await app.inject({ method: 'POST', url: `/v1/transactions/${txnNo}/refunds`, headers: { ...auth, 'content-type': 'application/json' }, payload: JSON.stringify({ reason: 'bench' }) });
      if (res.statusCode !== 202) continue;
      const { refundNo } = JSON.parse(res.body) as { refundNo: string };
      for (const until = Date.now() + 60_000; Date.now() < until; ) {
        const r = JSON.parse((await app.inject({ method: 'GET', url: `/v1/transactions/${txnNo}/refunds/${refundNo}`, headers: auth })).body) as { status: string; amount: number };
        if (r.status === 'succeeded') {
          refunded++;
          refundedFen += r.amount;
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    // The refunded sales final again: archived again after a quiet period.
    const again = Date.now() + 5 * 60_000;
    while ((await tc.archive.summary({}, []))[0]!.refundedAmountFen < refundedFen && Date.now() < again) await new Promise((r) => setTimeout(r, 500));
    await new Promise((r) => setTimeout(r, QUIET_MS * 2));
    await sample(done, started);
    const card = await tc.sims!.systems.storedValue.peekCard(CARD);
    const cardDebitedFen = CARD_BALANCE - card!.availableFen;
    const archiveTotals = (await tc.archive.summary({}, []))[0]!;
    const api = JSON.parse((await app.inject({ method: 'GET', url: '/admin/orders/summary', headers: auth })).body) as { groups: { count: number; paidAmountFen: number; refundedAmountFen: number }[] };
    const report = {
      sales: SALES,
      failed,
      quiet: `${QUIET_MS} ms`,
      keepDelivered: `${KEEP_DELIVERED_MS} ms`,
      offeredPerSecond: RATE || 'as fast as possible',
      salesPerSecond: Math.round(SALES / salesSeconds),
      archived: (await tc.archive.counts()).orders,
      archiveTotals,
      apiSummary: api.groups[0],
      cardDebitedFen,
      ledgerMatchesArchive: cardDebitedFen === archiveTotals.paidAmountFen - archiveTotals.refundedAmountFen,
      apiMatchesArchive: api.groups[0]?.count === archiveTotals.count && api.groups[0]?.paidAmountFen === archiveTotals.paidAmountFen && api.groups[0]?.refundedAmountFen === archiveTotals.refundedAmountFen,
      stillHotOfFirst1000: stillHot,
      readable: `${readable} of ${txnNos.length}`,
      refunded: `${refunded} of ${refundOf.length}`,
      refundedFen,
      refundsMatchArchive: refundedFen === archiveTotals.refundedAmountFen,
      loadavg: loadavg().map((l) => Math.round(l * 100) / 100),
      samples,
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    await app.close();
    await tc.close();
  } finally {
    probe.disconnect();
    redis.stop();
    await onPostgres(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
