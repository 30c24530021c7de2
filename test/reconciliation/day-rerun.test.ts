import t from 'tap';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { runTimersUntil } from '../helpers/durable-timers.ts';
import { eventually, orderedSale, startHarness, type Harness } from '../helpers/harness.ts';

const DAY = '2026-12-01';
const at = (china: string) => Date.parse(`${china}+08:00`);

const view = (h: Harness, txnNo: string) => h.api<TransactionView>('GET', `/v1/transactions/${txnNo}`);

async function paying(h: Harness): Promise<TransactionView> {
  const ordered = await orderedSale(h.api, 'wechat');
  return (await h.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.payableAmount }] })).body;
}

/** The gateway simulator's whole ledger: every payment and refund it holds, as stored. */
function gatewayLedger(h: Harness): unknown[] {
  const db = h.tc.sims!.store.db;
  return [db.prepare('SELECT * FROM payments ORDER BY payment_no').all(), db.prepare('SELECT * FROM refunds ORDER BY refund_no').all()];
}

t.test('a whole day run twice acts once: the second run queries and gives back nothing, finds the same discrepancies, and the fixed transactions end as the channel says (issue 19)', async (t) => {
  const clock = new ManualClock(at(`${DAY}T09:00:00`));
  const h = await startHarness(t, { clock });
  const gateway = h.tc.sims!.systems.paymentGateway;
  let queries = 0;
  const query = gateway.queryPayment.bind(gateway);
  gateway.queryPayment = (paymentNo: string) => (queries++, query(paymentNo));
  let nudges = 0;
  const nudge = h.tc.host.nudge.bind(h.tc.host);
  h.tc.host.nudge = (txnNo: string) => (nudges++, nudge(txnNo));

  const sales: TransactionView[] = [];
  for (let i = 0; i < 8; i++) {
    clock.advance(10 * 60_000);
    const sale = await paying(h);
    await h.sims.gateway.pay(sale.legs[0]!.paymentNo);
    sales.push((await eventually(() => view(h, sale.txnNo), (r) => r.body.state === 'completed')).body);
  }
  // The channel took two payments we never heard of: one whose callback was lost, one captured after we cancelled.
  await h.sims.gateway.configureCallbacks({ dropCallbacks: true });
  clock.advance(10 * 60_000);
  const lost = await paying(h);
  await h.sims.gateway.pay(lost.legs[0]!.paymentNo);
  const cancelled = await paying(h);
  t.equal((await h.api<TransactionView>('POST', `/v1/transactions/${cancelled.txnNo}/cancel`, {})).body.state, 'cancelled');
  await h.sims.gateway.forcePay(cancelled.legs[0]!.paymentNo);
  await h.tc.host.settle();
  t.equal((await view(h, lost.txnNo)).body.legs[0]!.status, 'pending', 'we do not know the lost one was paid');
  t.equal((await view(h, cancelled.txnNo)).body.legs[0]!.status, 'closed', 'nor that the cancelled one was captured');

  const bills = h.tc.sims!.bills;
  const ref = (i: number) => sales[i]!.legs[0]!.paymentNo;
  const planted = [
    bills.inject({ channel: 'wechat', date: DAY, kind: 'channel_missing', merchantRef: ref(1) }),
    bills.inject({ channel: 'wechat', date: DAY, kind: 'platform_missing' }),
    bills.inject({ channel: 'wechat', date: DAY, kind: 'platform_over_status', merchantRef: ref(2) }),
    bills.inject({ channel: 'wechat', date: DAY, kind: 'platform_short_amount', merchantRef: ref(3) }),
    bills.inject({ channel: 'wechat', date: DAY, kind: 'platform_over_amount', merchantRef: ref(4) }),
    bills.inject({ channel: 'wechat', date: DAY, kind: 'fee_mismatch', merchantRef: ref(5) }),
  ];
  const lostId = `wechat:${DAY}:platform_short_status:${lost.legs[0]!.paymentNo}`;
  const cancelledId = `wechat:${DAY}:platform_short_status:${cancelled.legs[0]!.paymentNo}`;
  const expected = [...planted.map((p) => `wechat:${DAY}:${p.kind}:${p.merchantRef}`), lostId, cancelledId].sort();

  clock.set(at('2026-12-02T01:00:00'));
  const first = await h.tc.reconciler.run('wechat', DAY);
  t.same([...first.added].sort(), expected, 'the first run finds every planted discrepancy and the two payments we missed, nothing else');
  // The query's answer comes back through the transaction's own callback path; the run's verdict
  // may come before it, and then the next run closes it (without acting): between them, both.
  t.ok(first.autoFixed.every((id) => id === lostId || id === cancelledId), 'it fixes only the two it may: the transactions now agree with the channel');
  t.ok(queries > 0, 'the fixes asked the gateway');
  const refunded = await runTimersUntil(h, clock, () => view(h, cancelled.txnNo), (r) => r.body.legs[0]?.giveBack?.status === 'succeeded');
  t.equal(refunded.body.state, 'cancelled', 'the cancelled transaction stays cancelled');
  t.equal(refunded.body.legs[0]?.status, 'refunded', 'and gives back what the channel captured');
  const fixedLost = (await view(h, lost.txnNo)).body;
  t.equal(fixedLost.state, 'completed', 'the lost payment completes its transaction');
  t.equal(fixedLost.paidAmount, lost.payableAmount, 'for the amount the channel took');

  const ledger = gatewayLedger(h);
  const [nudgesBefore, queriesBefore] = [nudges, queries];
  const recordsBefore = await h.tc.storage.reconciliation.discrepancies('wechat', DAY);

  const second = await h.tc.reconciler.run('wechat', DAY);
  await h.tc.host.settle();
  t.same(second.added, [], 'the second run adds nothing');
  t.same([...first.autoFixed, ...second.autoFixed].sort(), [cancelledId, lostId].sort(), 'the two first-run verdicts still open are closed, each once');
  t.equal(nudges, nudgesBefore, 'it nudges no transaction');
  t.equal(queries, queriesBefore, 'it asks the gateway nothing');
  t.same(gatewayLedger(h), ledger, 'the gateway\'s payments and refunds are unchanged: no second query result acted on, no second give-back');
  t.same(second.result.discrepancies.map((d) => `wechat:${DAY}:${d.kind}:${d.ref}`).sort(), planted.map((p) => `wechat:${DAY}:${p.kind}:${p.merchantRef}`).sort(),
    'it finds the planted ones again; the fixed ones now match');
  const recordsAfter = await h.tc.storage.reconciliation.discrepancies('wechat', DAY);
  t.same(recordsAfter.map((d) => d.id).sort(), recordsBefore.map((d) => d.id).sort(), 'the recorded discrepancies are the same ones');
  t.same(recordsAfter.filter((d) => d.status === 'auto-fixed').map((d) => d.id).sort(), [cancelledId, lostId].sort());
  t.same((await gateway.peekRefunds(cancelled.legs[0]!.paymentNo)).map((r) => [r.refundNo, r.status]), [[`${cancelled.legs[0]!.paymentNo}-L`, 'succeeded']], 'one give-back at the channel');
  t.equal((await view(h, lost.txnNo)).body.legs[0]!.status, 'succeeded', 'the fixed transactions still end as the channel says');
});
