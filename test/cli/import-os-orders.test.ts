import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import t from 'tap';
import { importCommand } from '../../bin/commands/import-os-orders.ts';
import { inspectCommand } from '../../bin/commands/inspect.ts';
import { historicPaymentsOf } from '../../runtime/os-order-entry.ts';
import { importOsOrders, type ImportOptions } from '../../runtime/os-order-import.ts';
import { generateOsOrders } from '../../scripts/generate-os-orders.ts';
import { openSqliteStorage } from '../../storage/sqlite/storage.ts';
import type { HistoricPayment } from '../../systems/payment-gateway/simulator.ts';
import { simAdminRoutes } from '../../systems/sim/admin-routes.ts';
import { openSims } from '../systems/helpers.ts';
import { captureIo } from './helpers.ts';

const STATIONS = new Map([['S1', 'M1'], ['S2', 'M1'], ['S3', 'M2']]);
const COUNT = 600;
const BAD = 10;

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'os-import-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Imports into the archive of a SQLite file, opened and closed around the run. */
async function run(db: string, opts: Omit<ImportOptions, 'archive' | 'stations' | 'statePath'>) {
  const storage = openSqliteStorage(db);
  try {
    return await importOsOrders({ ...opts, archive: storage.archive, stations: STATIONS, statePath: `${db}.os-import`, batchSize: 100 });
  } finally {
    await storage.close();
  }
}

async function archiveTotals(db: string) {
  const storage = openSqliteStorage(db);
  try {
    const [all] = await storage.archive.summary({ origin: 'os-import' }, []);
    return { count: all?.count ?? 0, paidAmountFen: all?.paidAmountFen ?? 0, journal: (await storage.archive.counts()).journalEntries };
  } finally {
    await storage.close();
  }
}

const rejectLines = (file: string) => readFileSync(file, 'utf8').trim().split('\n').slice(1).map((l) => Number(l.split(',')[0]));

for (const format of ['jsonl', 'csv'] as const) {
  t.test(`a ${format} export is imported once: counts and sums equal the file's, a second run imports 0, the rejects are exactly the planted bad records`, async (t) => {
    const dir = tempDir(t);
    const input = join(dir, `orders.${format}`);
    const generated = await generateOsOrders({ count: COUNT, seed: 7, bad: BAD, format, out: input });
    const db = join(dir, 'trade.db');

    const first = await run(db, { files: [input] });
    t.equal(first.imported, generated.goodCount);
    t.equal(first.rejected, BAD);
    const totals = await archiveTotals(db);
    t.equal(totals.count, generated.goodCount);
    // Paid at OS, less nothing: the file's refunds show as refunded, the captures as paid.
    t.equal(totals.paidAmountFen, generated.goodPaidFen);
    const headerLines = format === 'csv' ? 1 : 0;
    t.same(rejectLines(`${input}.rejects.csv`), generated.badLines.map((n) => n + headerLines));

    const second = await run(db, { files: [input] });
    t.equal(second.imported, 0);
    t.equal(second.alreadyImported, generated.goodCount);
    t.same(await archiveTotals(db), totals, 'the second run changed nothing');
    t.same(rejectLines(`${input}.rejects.csv`), generated.badLines.map((n) => n + headerLines));
  });
}

t.test('a dry run counts what it would import and writes nothing', async (t) => {
  const dir = tempDir(t);
  const input = join(dir, 'orders.jsonl');
  const generated = await generateOsOrders({ count: 200, seed: 3, bad: 5, format: 'jsonl', out: input });
  const db = join(dir, 'trade.db');
  const summary = await run(db, { files: [input], dryRun: true });
  t.equal(summary.imported, generated.goodCount);
  t.equal(summary.rejected, 5);
  t.equal((await archiveTotals(db)).count, 0);
});

t.test('an import stopped part way resumes from its checkpoint and ends where an uninterrupted one does', async (t) => {
  const dir = tempDir(t);
  const input = join(dir, 'orders.jsonl');
  await generateOsOrders({ count: COUNT, seed: 11, bad: BAD, format: 'jsonl', out: input });
  const straight = join(dir, 'straight.db');
  await run(straight, { files: [input] });

  const resumed = join(dir, 'resumed.db');
  const partial = await run(resumed, { files: [input], stopAfter: 250 });
  t.equal(partial.read, 250);
  t.ok((await archiveTotals(resumed)).count < COUNT - BAD, 'the first run stopped before the end');
  const rest = await run(resumed, { files: [input] });
  t.equal(rest.resumed, 1);
  // Batches of 100: the first run committed 200 records, the 50 after them were lost with it.
  t.equal(rest.read, COUNT - 200, 'the resumed run starts after the last committed batch');
  t.same(await archiveTotals(resumed), await archiveTotals(straight));
  t.same(readFileSync(`${input}.rejects.csv`, 'utf8').trim().split('\n').length, BAD + 1);
});

t.test("an import hands each batch's new orders to onImported, whose channel payments a simulated gateway admits once, so they can be refunded later (issue 20)", async (t) => {
  const dir = tempDir(t);
  const input = join(dir, 'orders.jsonl');
  await generateOsOrders({ count: 300, seed: 11, bad: 0, format: 'jsonl', out: input });
  const db = join(dir, 'trade.db');
  const sims = openSims(t);
  let batches = 0;
  const admitted: HistoricPayment[] = [];
  const onImported: ImportOptions['onImported'] = async (orders) => {
    batches++;
    const payments = orders.flatMap((o) => historicPaymentsOf(o.order, o.merchantId));
    sims.gateway.admitHistoricPayments(payments);
    admitted.push(...payments);
  };
  const first = await run(db, { files: [input], onImported });
  t.equal(first.imported, 300);
  t.equal(batches, 3, 'one call per batch of 100');
  t.ok(admitted.length > 0, 'the generated history has channel payments');
  t.ok(admitted.every((p) => sims.gateway.peekPayment(p.paymentNo)?.channelTradeNo === p.channelTradeNo && sims.gateway.peekPayment(p.paymentNo)?.status === 'succeeded'), 'each known to the gateway by its recorded channel transaction id');
  const storage = openSqliteStorage(db);
  const sample = await storage.archive.get(admitted[0]!.txnNo);
  await storage.close();
  t.equal(sample?.row.legs.find((l) => l.paymentNo === admitted[0]!.paymentNo)?.channelTradeNo, admitted[0]!.channelTradeNo, 'under the payment number of the archived leg');

  const again = await run(db, { files: [input], onImported });
  t.equal(again.imported, 0);
  t.equal(batches, 3, 'nothing new imported: nothing to admit');
});

t.test('trade import os-orders --admit-sim admits the imported channel payments at a trade sim over HTTP (issue 20)', async (t) => {
  const dir = tempDir(t);
  const input = join(dir, 'orders.jsonl');
  await generateOsOrders({ count: 120, seed: 5, bad: 0, format: 'jsonl', out: input });
  const db = join(dir, 'trade.db');
  const sims = openSims(t);
  const app = Fastify();
  await app.register(simAdminRoutes, { prefix: '/sim', sims });
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => app.close());
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  const io = captureIo();
  await importCommand(io).parseAsync(['os-orders', input, '--db', db, '--batch', '50', '--admit-sim', url], { from: 'user' });
  t.match(JSON.parse(io.stdout()), { imported: 120, rejected: 0 });
  const storage = openSqliteStorage(db);
  t.teardown(() => storage.close());
  const page = await storage.archive.search({ origin: 'os-import' }, 200, null);
  const channelLegs = page.rows.flatMap((r) => r.legs).filter((l) => ['wechat', 'alipay', 'unionpay'].includes(l.method) && l.channelTradeNo !== null);
  t.ok(channelLegs.length > 0);
  t.ok(channelLegs.every((l) => sims.gateway.peekPayment(l.paymentNo)?.channelTradeNo === l.channelTradeNo), 'every imported channel leg is known to the gateway under its payment number');
  t.equal(sims.store.effects({ system: 'paymentGateway', verb: 'admitHistoricPayment' }).length, channelLegs.length, 'each admitted once');
});

t.test('trade inspect --station --os-order finds an imported order in the store file by its OS number; a txnNo and an OS number together, or neither, is refused (issue 20)', async (t) => {
  const dir = tempDir(t);
  const input = join(dir, 'orders.jsonl');
  await generateOsOrders({ count: 30, seed: 9, bad: 0, format: 'jsonl', out: input });
  const db = join(dir, 'trade.db');
  await importCommand(captureIo()).parseAsync(['os-orders', input, '--db', db], { from: 'user' });
  // The generator puts record i at station S(i mod 3 + 1) with OS number OS<i, 9 digits>.
  const io = captureIo();
  await inspectCommand(io).parseAsync(['--db', db, '--station', 'S2', '--os-order', 'OS000000004', '--json'], { from: 'user' });
  const inspected = JSON.parse(io.stdout()) as { transaction: { stationId: string; scene: string }; journal: { event: string; data: { osOrderNo?: string } }[] };
  t.equal(inspected.transaction.stationId, 'S2');
  t.same([inspected.journal[0]?.event, inspected.journal[0]?.data.osOrderNo], ['IMPORTED', 'OS000000004']);
  await t.rejects(inspectCommand(captureIo()).parseAsync(['--db', db, '--station', 'S1', '--os-order', 'OS000000004'], { from: 'user' }), /no order imported from OS with number OS000000004 at station S1/);
  await t.rejects(inspectCommand(captureIo()).parseAsync(['T1', '--db', db, '--station', 'S2', '--os-order', 'OS000000004'], { from: 'user' }), /give a txnNo, or --station and --os-order/);
  await t.rejects(inspectCommand(captureIo()).parseAsync(['--db', db, '--os-order', 'OS000000004'], { from: 'user' }), /give a txnNo, or --station and --os-order/);
});

t.test('a number seen again in the batch after the one still being written is decided against that batch: other content refused, the same content already imported', async (t) => {
  const dir = tempDir(t);
  const source = join(dir, 'source.jsonl');
  await generateOsOrders({ count: 4, seed: 13, bad: 0, format: 'jsonl', out: source });
  const [a, b, c] = readFileSync(source, 'utf8').trim().split('\n') as [string, string, string];
  const changed = JSON.stringify({ ...(JSON.parse(a) as Record<string, unknown>), terminalId: 'POS-other' });
  const input = join(dir, 'orders.jsonl');
  // Batches of 2: the repeats of line 1 come in the second batch, checked while the first is written.
  writeFileSync(input, [a, b, changed, a, c].join('\n') + '\n');
  const db = join(dir, 'trade.db');
  const storage = openSqliteStorage(db);
  try {
    const summary = await importOsOrders({ files: [input], archive: storage.archive, stations: STATIONS, statePath: `${db}.os-import`, batchSize: 2 });
    t.equal(summary.imported, 3);
    t.equal(summary.alreadyImported, 1, 'line 4 is line 1 again');
    t.equal(summary.rejected, 1);
  } finally {
    await storage.close();
  }
  t.same(readFileSync(`${input}.rejects.csv`, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')[0]), ['3']);
  t.equal((await archiveTotals(db)).count, 3);
});
