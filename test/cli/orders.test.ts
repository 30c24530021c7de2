import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import t from 'tap';
import { runOrders, runSummary } from '../../bin/commands/orders.ts';
import { archiverConfig } from '../../runtime/archiver.ts';
import { ManualClock } from '../../runtime/clock.ts';
import { startHarness } from '../helpers/harness.ts';
import { captureIo, sources, storedValueSale } from './helpers.ts';

t.test('trade orders and trade summary list and sum archived and in-flight orders alike, over the API and the store (issue 18)', async (t) => {
  const clock = new ManualClock(Date.parse('2026-11-25T12:00:00+08:00'));
  const h = await startHarness(t, { clock, config: { archive: archiverConfig(2_000) } });
  // The test runs each archiver turn itself: one the periodic turn started just before would take the sale first.
  await h.tc.archiver.stop();
  const archived = await storedValueSale(h);
  await h.tc.host.settle();
  await h.tc.tasks.runDue();
  await h.tc.host.settle();
  clock.advance(2_000);
  t.equal(await h.tc.archiver!.run(), 1, 'the first sale is archived');
  const inFlight = await storedValueSale(h);

  for (const { mode, open } of sources(h)) {
    const source = open();
    t.teardown(() => source.close());
    const io = captureIo();
    const page = await runOrders(source, io, { limit: 50, json: true });
    const listed = JSON.parse(io.stdout()) as { items: { txnNo: string; paidAmountFen: number }[] };
    t.same(listed.items.map((o) => o.txnNo), [inFlight.txnNo, archived.txnNo], `${mode}: both, newest first`);
    t.equal(page.count, 2);

    const table = captureIo();
    await runOrders(source, table, { limit: 1, method: 'stored_value' });
    t.match(table.stdout(), /more with --cursor oa1\./, `${mode}: a table page says how to go on`);

    const file = join(h.dir, `orders-${mode}.csv`);
    const csv = captureIo();
    t.equal((await runOrders(source, csv, { limit: 50, csv: file })).count, 2);
    const rows = parse(readFileSync(file, 'utf8'), { columns: true }) as { txnNo: string; paidAmountFen: string }[];
    t.same(rows.map((r) => [r.txnNo, Number(r.paidAmountFen)]), [[inFlight.txnNo, inFlight.paidAmount], [archived.txnNo, archived.paidAmount]], `${mode}: every order in the CSV`);
    t.ok(csv.progressed.some((p) => p.label === 'exporting pages' && p.steps >= 1), `${mode}: with progress`);

    const summed = captureIo();
    const groups = await runSummary(source, summed, { groupBy: 'method', json: true });
    t.same(groups.map((g) => [g.method, g.count, g.paidAmountFen]), [['stored_value', 2, archived.paidAmount + inFlight.paidAmount]], `${mode}: summed by method`);
  }
});
