import t from 'tap';
import { yuan } from '../../bin/commands/cli-io.ts';
import { runInspect } from '../../bin/commands/inspect.ts';
import { runList } from '../../bin/commands/list.ts';
import { runStuck } from '../../bin/commands/stuck.ts';
import { runViz } from '../../bin/commands/viz.ts';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { FUEL_SALE, startHarness } from '../helpers/harness.ts';
import { captureIo, sources, storedValueSale } from './helpers.ts';

const NOON = Date.parse('2026-11-25T12:00:00+08:00');

t.test('list, inspect and viz show a known completed sale the same way through the server and from the store', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock });
  const sale = await storedValueSale(h);
  await h.tc.tasks.runDue();
  const quoted = (await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] })).body;
  await h.tc.host.settle();

  for (const { mode, open } of sources(h)) {
    await t.test(mode, async (t) => {
      const source = open();
      t.teardown(() => source.close());

      const table = captureIo(() => clock.now());
      await runList(source, table, { limit: 50 });
      const rows = table.stdout().split('\n').filter((l) => l.includes('T'));
      t.match(rows.find((l) => l.includes(sale.txnNo)), /│ completed\s+│/, 'the sale is listed completed');
      t.match(rows.find((l) => l.includes(quoted.txnNo)), /│ quoted\s+│/, 'the quote is listed quoted');
      t.match(table.stdout(), /2 transaction\(s\)/);

      const json = captureIo();
      await runList(source, json, { limit: 50, state: 'completed', json: true });
      t.same(JSON.parse(json.stdout()).items.map((i: { txnNo: string }) => i.txnNo), [sale.txnNo], '--json: filtered by state, parseable');

      const all = captureIo();
      await runList(source, all, { limit: 1, all: true, json: true });
      t.equal(JSON.parse(all.stdout()).items.length, 2, '--all pages through everything');
      t.equal(all.progressed[0]?.steps, 1, 'and reports its progress per page');

      const inspect = captureIo();
      await runInspect(source, inspect, sale.txnNo, {});
      const text = inspect.stdout();
      t.match(text, new RegExp(`^${sale.txnNo}  completed`), 'headline: number and state');
      t.match(text, new RegExp(`│ 1\\s+│ 1\\s+│ stored_value │ ${yuan(sale.payableAmount).replace('.', '\\.')} │ succeeded │`), 'the leg, in yuan');
      t.match(text, /│ settlement\s+│ settlement\s+│ done\s+│ 1\/8\s+│/, 'the tasks');
      t.match(text, /leg-1 \(payment-leg\): succeeded/, 'the child actor in the state tree');
      t.match(text, /│ transaction │ PAY\s+│ ordered\s+│ paying/, 'the timeline has the payment');

      const inspectJson = captureIo();
      await runInspect(source, inspectJson, sale.txnNo, { json: true });
      const parsed = JSON.parse(inspectJson.stdout());
      t.equal(parsed.transaction.state, 'completed');
      t.equal(parsed.transaction.paidAmount, sale.payableAmount);
      t.ok(parsed.transaction.tasks.some((x: { task: string; status: string }) => x.task === 'invoice' && x.status === 'done'));
      t.same(parsed.journal.map((e: { event: string }) => e.event).slice(0, 2), ['xstate.init', 'ORDER'], 'the journal from the start');

      const viz = captureIo();
      await runViz(source, viz, sale.txnNo, {});
      const lines = viz.stdout().split('\n');
      t.same(lines.filter((l) => l.startsWith('▶')).map((l) => l.trim()), ['▶ completed', '▶ succeeded (final)'], 'exactly the active states are marked');
      t.ok(lines.includes('  quoted') && lines.includes('  paying'), 'the other states are listed unmarked');
      t.ok(lines.includes('leg-1 (payment-leg)  succeeded'), "the leg's own chart follows");

      const vizJson = captureIo();
      await runViz(source, vizJson, quoted.txnNo, { json: true });
      t.same(JSON.parse(vizJson.stdout()), { txnNo: quoted.txnNo, state: 'quoted', stateValue: 'quoted', active: ['quoted'], children: [] });

      await t.rejects(runInspect(source, captureIo(), 'T404', {}), /NOT_FOUND: no transaction T404|no transaction T404/, 'an unknown transaction is an error');
    });
  }
});

t.test('stuck lists a transaction with a dead task and one idle on its way to rest, not the healthy ones', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock, config: { breaker: { afterFailures: 1000, halfOpenAfterMs: 10 }, paymentTtlMs: 60 * 60_000, queryAfterMs: 60 * 60_000 } });
  h.tc.sims!.faults.settlement.configure({ '*': { outage: true } });
  const dead = await storedValueSale(h);
  for (let i = 0; i < 10; i++) {
    await h.tc.tasks.runDue();
    clock.advance(60 * 60_000);
  }
  // A wechat payment waiting an hour (TTL and query configured longer): idle, but on its way.
  const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-wechat' });
  await h.api('POST', `/v1/transactions/${started.body.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.body.payableAmount }] });
  await h.api('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  clock.advance(25 * 60_000);
  await h.tc.host.settle();

  for (const { mode, open } of sources(h)) {
    await t.test(mode, async (t) => {
      const source = open();
      t.teardown(() => source.close());
      const io = captureIo(() => clock.now());
      const items = await runStuck(source, io, { idleMinutes: 20 });
      t.same(
        items.map((i) => [i.txnNo, i.reasons]),
        [
          [dead.txnNo, ['needs attention']],
          [started.body.txnNo, ['idle 25m in paying']],
        ],
      );
      t.match(io.stdout(), new RegExp(`${started.body.txnNo} │ paying\\s+│ .* │ idle 25m in paying`));
      t.match(io.stdout(), /2 stuck transaction\(s\)/);
      t.ok(io.progressed[0]!.steps >= 6, 'progress: one step per page scanned');

      const json = captureIo(() => clock.now());
      await runStuck(source, json, { idleMinutes: 30, json: true });
      t.same(JSON.parse(json.stdout()), { idleMinutes: 30, items: [{ txnNo: dead.txnNo, state: 'completed', updatedAt: JSON.parse(json.stdout()).items[0].updatedAt, reasons: ['needs attention'] }] }, 'a longer threshold leaves only the dead task');
    });
  }
});
