import t from 'tap';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { runTimersUntil } from '../helpers/durable-timers.ts';
import { orderedSale, startHarness } from '../helpers/harness.ts';

const DAY = '2026-12-01';
const at = (china: string) => Date.parse(`${china}+08:00`);

t.test('a capture the channel made on a cancelled transaction is given back through its own actor exactly once, and re-runs and the next day stay clean (issue 19)', async (t) => {
  const clock = new ManualClock(at(`${DAY}T23:47:00`));
  const h = await startHarness(t, { clock });
  const view = (txnNo: string) => h.api<TransactionView>('GET', `/v1/transactions/${txnNo}`);
  let nudges = 0;
  const nudge = h.tc.host.nudge.bind(h.tc.host);
  h.tc.host.nudge = (txnNo: string) => (nudges++, nudge(txnNo));

  const ordered = await orderedSale(h.api, 'wechat');
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.payableAmount }] });
  const paymentNo = paying.body.legs[0]!.paymentNo;
  t.equal((await h.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/cancel`, {})).body.state, 'cancelled');
  // The customer's money is taken anyway, after the close, and the channel's news of it is lost.
  await h.sims.gateway.configureCallbacks({ dropCallbacks: true });
  await h.sims.gateway.forcePay(paymentNo);
  await h.tc.host.settle();
  t.equal((await view(ordered.txnNo)).body.legs[0]!.status, 'closed', 'we do not know the channel took it');

  clock.set(at('2026-12-02T00:00:30'));
  const first = await h.tc.reconciler.run('wechat', DAY);
  const id = `wechat:${DAY}:platform_short_status:${paymentNo}`;
  t.same(first.added, [id], 'the capture is found on the bill');
  t.same(first.autoFixed, [id], 'and fixed: the cancelled transaction now knows of the money and gives it back');
  t.equal(nudges, 1, 'through the transaction\'s own actor, once');
  const refunded = await runTimersUntil(h, clock, () => view(ordered.txnNo), (r) => r.body.legs[0]?.status === 'refunded');
  t.equal(refunded.body.state, 'cancelled', 'the transaction stays cancelled');
  t.same(refunded.body.legs[0]?.giveBack, { refundNo: `${paymentNo}-L`, status: 'succeeded' }, 'given back under its durable key');

  const again = await h.tc.reconciler.run('wechat', DAY);
  t.same([again.added, again.autoFixed, again.result.discrepancies], [[], [], []], 'a re-run of the day finds it clean and does nothing');
  t.equal(nudges, 1, 'no second nudge');
  t.same((await h.sims.systems.paymentGateway.peekRefunds(paymentNo)).map((r) => [r.refundNo, r.status]), [[`${paymentNo}-L`, 'succeeded']], 'one refund at the channel');
  t.equal((await h.sims.systems.paymentGateway.peekPayment(paymentNo))?.refundedFen, ordered.payableAmount, 'the whole capture went back');

  clock.set(at('2026-12-03T00:00:30'));
  const next = await h.tc.reconciler.run('wechat', '2026-12-02');
  t.same(next.result.discrepancies, [], 'the next day matches the give-back\'s refund row, and misses nothing');
  t.equal(next.result.totals.billRefundsFen, ordered.payableAmount, 'the refund is on the next day\'s bill');
  t.equal((await h.tc.storage.reconciliation.get(id))?.status, 'auto-fixed');
});
