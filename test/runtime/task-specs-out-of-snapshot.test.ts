import t from 'tap';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import type { SaveRecord } from '../../storage/types.ts';
import { FUEL_SALE, startHarness } from '../helpers/harness.ts';

t.test('a paid sale writes its task specs once, as task rows, and its snapshots keep only the names (issue 21)', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(Date.parse('2026-11-25T12:00:00+08:00')) });
  const saves: SaveRecord[] = [];
  const store = h.tc.storage.snapshots;
  const save = store.save.bind(store);
  store.save = (record, expected, journal) => {
    saves.push(record);
    return save(record, expected, journal);
  };
  const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, userId: 'U4', paymentMethods: ['stored_value'] });
  const txnNo = started.body.txnNo;
  const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-stored_value' });
  const paid = await h.api<TransactionView>('POST', `/v1/transactions/${txnNo}/payments`, { legs: [{ method: 'stored_value', cardNo: 'C1', amount: ordered.body.payableAmount }] });
  t.equal(paid.body.state, 'completed');
  await h.tc.tasks.runDue();
  await h.tc.host.settle();

  const carrying = saves.filter((r) => r.tasks.length > 0);
  t.equal(carrying.length, 1, 'one save carried task specs');
  const rows = await h.tc.storage.tasks.tasksOf(txnNo);
  t.same(carrying[0]!.tasks.map((s) => s.task), rows.map((r) => r.task), 'the specs of every task the sale asked for, in order');
  t.ok(rows.every((r) => r.status === 'done'), 'and every task ran from its row');
  t.same(rows.find((r) => r.task === 'settlement')?.payload['amountFen'], ordered.body.payableAmount, 'a row keeps its payload');

  const stored = (await store.load(txnNo))!;
  const context = (stored.snapshot as { context: Record<string, unknown> }).context;
  t.same(context['taskNames'], rows.map((r) => r.task), 'the stored snapshot names the tasks');
  t.notOk('tasks' in context, 'and holds no spec');
  for (const r of saves) t.notOk(JSON.stringify(r.snapshot).includes('"payload"'), `the snapshot of the ${r.state} save carries no task payload`);
});
