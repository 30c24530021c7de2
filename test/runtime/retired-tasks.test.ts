import t from 'tap';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { FUEL_SALE, startHarness } from '../helpers/harness.ts';

const NOON = Date.parse('2026-12-01T12:00:00+08:00');
type WithTasks = TransactionView & { tasks: { task: string; status: string }[] };

/**
 * A store written by v3 still holds `os-sync` task rows (issue 20 retired the task: the order's
 * events go through the station outbox). Such a row, run, is done at once and calls nothing; the
 * transaction is then as settled as one v4 sold, its order events in its station's outbox once.
 */
t.test('an os-sync task row left by an earlier version is done at once without a call, and the order reaches OS through the outbox only', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock });
  const sale = await h.api<WithTasks>('POST', '/v1/checkout', { ...FUEL_SALE, items: [{ type: 'fuel', nozzleNo: 1, amount: 1_000 }], paymentMethods: ['stored_value'], legs: [{ method: 'stored_value', cardNo: 'C1', amount: 'rest' }] });
  t.equal(sale.body.state, 'completed');
  const { txnNo } = sale.body;
  t.equal(await h.tc.tasks.runDue(), 8);
  const asked = await h.api<WithTasks>('GET', `/v1/transactions/${txnNo}`);
  t.same(asked.body.tasks.map((x) => x.task).sort(), ['campaign', 'growth', 'invoice', 'marketing', 'notify', 'points-award', 'push', 'settlement'], 'v4 asks for no os-sync task');

  // The row as v3 wrote it, with a save of the stored record (the snapshot CAS as any writer's).
  const stored = (await h.tc.storage.snapshots.load(txnNo))!;
  const { version, ...record } = stored;
  const v3Task = { task: 'os-sync', kind: 'os-sync', system: 'os', core: false, maxAttempts: 8, payload: { txnNo, orderNo: sale.body.orderNo, stationId: 'S1', amountFen: 1_000, lines: [] } };
  t.same(await h.tc.storage.snapshots.save({ ...record, tasks: [v3Task], osEvents: [] }, version, []), { ok: true, version: version + 1 });
  t.match(await h.tc.storage.tasks.task(txnNo, 'os-sync'), { status: 'pending', attempts: 0 });

  // OS is down: a call would fail and leave the row retrying; the retired kind calls nothing.
  await h.sims.faults.os.configure({ '*': { outage: true } });
  const effectsBefore = h.tc.sims!.store.effects({ system: 'os' }).length;
  t.equal(await h.tc.tasks.runDue(), 1, 'the one row left runs');
  t.match(await h.tc.storage.tasks.task(txnNo, 'os-sync'), { status: 'done', attempts: 1, lastError: null, result: { retired: /station outbox/ } });
  t.equal(h.tc.sims!.store.effects({ system: 'os' }).length, effectsBefore, 'nothing was sent to OS for it');
  const view = await h.api<WithTasks>('GET', `/v1/transactions/${txnNo}`);
  t.equal(view.body.needsAttention, false);
  t.ok(view.body.tasks.every((x) => x.status === 'done'), 'every task of the sale done: nothing keeps it from the archive');

  await h.sims.faults.os.clear();
  t.equal(await h.tc.osSync.runDue(), 2, 'its placed and paid events, from the outbox');
  t.same(h.tc.sims!.systems.os.peekEvents('S1').filter((e) => e.txnNo === txnNo).map((e) => [e.eventSeq, e.kind]), [[1, 'placed'], [2, 'paid']]);
});
