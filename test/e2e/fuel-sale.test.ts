import t from 'tap';
import type { TransactionView } from '../../runtime/view.ts';
import { eventually, orderedSale, startHarness } from '../helpers/harness.ts';

t.test('a fuel sale paid by wechat completes when the gateway calls back over HTTP', async (t) => {
  const { api, sims } = await startHarness(t);
  const ordered = await orderedSale(api, 'wechat');
  t.equal(ordered.state, 'ordered');
  t.match(ordered.orderNo, /^O\d{21}/);
  t.equal((await sims.systems.order.peekOrder(ordered.orderNo!))?.status, 'created', 'the order system has the order');

  const paying = await api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, {
    legs: [{ method: 'wechat', amount: ordered.payableAmount }],
  });
  t.equal(paying.status, 202, 'an async leg answers 202 while it waits');
  t.equal(paying.body.state, 'paying');
  t.equal(paying.body.legs[0]?.status, 'pending');
  t.match(paying.body.legs[0]?.payUrl, /^https:\/\/pay\.sim\.local\/wechat\//, 'the channel gets what it needs to collect');

  const paid = await sims.gateway.pay(paying.body.legs[0]!.paymentNo);
  t.equal(paid.ok, true, 'the customer pays at the gateway');
  const done = await eventually(
    () => api<TransactionView>('GET', `/v1/transactions/${ordered.txnNo}`),
    (r) => r.body.state === 'completed',
  );
  t.equal(done.body.legs[0]?.status, 'succeeded');
  t.equal(done.body.paidAmount, ordered.payableAmount);
  t.equal((await sims.systems.order.peekOrder(ordered.orderNo!))?.status, 'paid', 'the order system learned it was paid');
  const delivered = await sims.gateway.callbacks(paying.body.legs[0]!.paymentNo);
  t.ok(delivered.some((c) => c.deliveredAt !== null), 'the callback really crossed HTTP');

  const byOrder = await api<TransactionView>('GET', `/v1/orders/${ordered.orderNo}`);
  t.equal(byOrder.body.txnNo, ordered.txnNo, 'the view is found by order number too');
});

t.test('a fuel sale paid by stored value completes synchronously and debits exactly the payable amount', async (t) => {
  const { api, sims } = await startHarness(t);
  const before = (await sims.systems.storedValue.peekCard('C1'))!;
  const ordered = await orderedSale(api, 'stored_value');
  t.ok(ordered.discountAmount > 0, 'the stored-value promotion applies');
  const paid = await api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, {
    legs: [{ method: 'stored_value', cardNo: 'C1', amount: ordered.payableAmount }],
  });
  t.equal(paid.status, 200);
  t.equal(paid.body.state, 'completed');
  t.equal(paid.body.legs[0]?.status, 'succeeded');
  const after = (await sims.systems.storedValue.peekCard('C1'))!;
  t.equal(before.availableFen - after.availableFen, ordered.payableAmount, 'balance dropped by exactly the payable amount');
  t.equal(after.lockedFen, before.lockedFen, 'no lock left behind');
});
