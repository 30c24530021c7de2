import t from 'tap';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { FUEL_SALE, startHarness } from '../helpers/harness.ts';

type ViewWithTasks = TransactionView & { tasks: { task: string; status: string }[] };

t.test('post-payment tasks finishing together are applied in order and stored in a few writes', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(Date.parse('2026-11-25T12:00:00+08:00')) });
  const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, userId: 'U4', paymentMethods: ['stored_value'] });
  const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-stored_value' });
  const paid = await h.api<ViewWithTasks>('POST', `/v1/transactions/${started.body.txnNo}/payments`, { legs: [{ method: 'stored_value', cardNo: 'C1', amount: ordered.body.payableAmount }] });
  t.equal(paid.body.state, 'completed');
  const view = await h.api<ViewWithTasks>('GET', `/v1/transactions/${started.body.txnNo}`);
  const pending = view.body.tasks.filter((x) => x.status === 'pending').length;
  t.ok(pending >= 5, `several tasks wait to run (${pending})`);
  const before = (await h.tc.storage.snapshots.load(started.body.txnNo))!.version;

  await h.tc.tasks.runDue();
  await h.tc.host.settle();

  const after = await h.api<ViewWithTasks>('GET', `/v1/transactions/${started.body.txnNo}`);
  t.same(after.body.tasks.map((x) => x.status), after.body.tasks.map(() => 'done'), 'every task is done');
  const journal = await h.tc.storage.journal.entries(started.body.txnNo);
  t.equal(journal.filter((e) => e.event === 'TASK_DONE').length, pending, 'each outcome is its own transition in the journal');
  const versions = (await h.tc.storage.snapshots.load(started.body.txnNo))!.version - before;
  // Outcomes that arrive while an earlier one waits its turn share its write; without that, one write each.
  t.ok(versions <= Math.ceil(pending / 3), `${pending} outcomes were stored in ${versions} writes`);
});

t.test('a command queued between two notifications is not overtaken by the second', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(Date.parse('2026-11-25T12:00:00+08:00')) });
  const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, userId: 'U4', paymentMethods: ['stored_value'] });
  const txnNo = started.body.txnNo;
  // Unknown timers and tasks are ignored by the machine but still journalled: they show the order.
  const first = h.tc.host.notify(txnNo, (at) => ({ type: 'TIMER', name: 'first', at }));
  const cancelled = h.tc.host.command(txnNo, (at, requestId) => ({ type: 'CANCEL', requestId, at, reason: 'test' }));
  const second = h.tc.host.notify(txnNo, (at) => ({ type: 'TIMER', name: 'second', at }));
  await Promise.all([first, cancelled, second]);
  await h.tc.host.settle();
  const events = (await h.tc.storage.journal.entries(txnNo)).map((e) => (e.event === 'TIMER' ? `TIMER:${String(e.data.name)}` : e.event)).filter((e) => e === 'CANCEL' || e.startsWith('TIMER'));
  t.same(events.slice(0, 3), ['TIMER:first', 'CANCEL', 'TIMER:second']);
});
