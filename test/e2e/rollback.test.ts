import t from 'tap';
import type { TransactionView } from '../../runtime/view.ts';
import { FUEL_SALE, orderedSale, startHarness } from '../helpers/harness.ts';

t.test('cancelling an ordered transaction cancels the order and leaves the card as it was', async (t) => {
  const { api, tc } = await startHarness(t);
  const before = tc.sims!.systems.storedValue.peekCard('C1');
  const ordered = await orderedSale(api, 'stored_value');
  const cancelled = await api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/cancel`, { reason: 'customer left' });
  t.equal(cancelled.status, 200);
  t.equal(cancelled.body.state, 'cancelled');
  t.equal(tc.sims!.systems.order.peekOrder(ordered.orderNo!)?.status, 'cancelled', 'the order system cancelled the order');
  t.same(tc.sims!.systems.storedValue.peekCard('C1'), before, 'balance and locks exactly as before');

  const again = await api('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'stored_value', cardNo: 'C1', amount: ordered.payableAmount }] });
  t.equal(again.status, 409, 'a cancelled transaction cannot be paid');
  t.equal((again.body as { error: { code: string } }).error.code, 'INVALID_STATE');
});

// Issue 15: a normal cancel's outcome read INVALID_STATE, an error code no request had been refused with.
t.test("a cancel's outcome reads CANCELLED with its reason, whether quoted, ordered or paying", async (t) => {
  const { api } = await startHarness(t);
  const started = await api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  const quoted = await api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/cancel`, {});
  t.same([quoted.status, quoted.body.state, quoted.body.outcome?.code], [200, 'cancelled', 'CANCELLED'], 'quoted');
  t.equal(quoted.body.outcome?.message, 'cancelled by the channel', 'without a reason, who cancelled');

  const ordered = await orderedSale(api, 'stored_value');
  const cancelled = await api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/cancel`, { reason: 'customer left' });
  t.same([cancelled.body.state, cancelled.body.outcome], ['cancelled', { code: 'CANCELLED', message: 'customer left' }], 'ordered');

  const paying = await orderedSale(api, 'wechat');
  const pay = await api<TransactionView>('POST', `/v1/transactions/${paying.txnNo}/payments`, { legs: [{ method: 'wechat', amount: paying.payableAmount }] });
  t.equal(pay.status, 202);
  const stopped = await api<TransactionView>('POST', `/v1/transactions/${paying.txnNo}/cancel`, { reason: 'pump blocked' });
  t.same([stopped.body.state, stopped.body.outcome], ['cancelled', { code: 'CANCELLED', message: 'pump blocked' }], 'paying');
});

t.test('a stored-value payment whose confirm fails is rolled back: balance and locks as before', async (t) => {
  const { api, tc } = await startHarness(t);
  const sims = tc.sims!;
  const before = sims.systems.storedValue.peekCard('C1');
  const ordered = await orderedSale(api, 'stored_value');
  sims.faults.storedValue.configure({ confirm: { failNext: 1 } });

  const paid = await api<{ error: { code: string } }>('POST', `/v1/transactions/${ordered.txnNo}/payments`, {
    legs: [{ method: 'stored_value', cardNo: 'C1', amount: ordered.payableAmount }],
  });
  t.equal(paid.status, 503, 'the failed confirm is reported as the card system being unavailable');
  t.equal(paid.body.error.code, 'CORE_SYSTEM_UNAVAILABLE');

  const view = (await api<TransactionView>('GET', `/v1/transactions/${ordered.txnNo}`)).body;
  t.equal(view.state, 'failed');
  t.equal(view.legs[0]?.status, 'failed');
  t.same(sims.systems.storedValue.peekCard('C1'), before, 'balance and locks exactly as before the sale');
  const locks = sims.systems.storedValue.peekLocks('C1').filter((l) => l.lockKey === view.legs[0]?.paymentNo);
  t.same(locks.map((l) => l.status), ['cancelled'], 'the lock was taken and then released, not left hanging');
  t.equal(sims.systems.order.peekOrder(ordered.orderNo!)?.status, 'cancelled', 'the order was cancelled with the sale');
});

t.test('a lock refused for a low balance leaves the order open for another attempt', async (t) => {
  const { api, tc } = await startHarness(t);
  const ordered = await orderedSale(api, 'stored_value');
  const low = tc.sims!.systems.storedValue.peekCard('C3')!;
  t.ok(low.availableFen < ordered.payableAmount, 'card C3 of the demo data holds too little');
  const refused = await api<{ error: { code: string } }>('POST', `/v1/transactions/${ordered.txnNo}/payments`, {
    legs: [{ method: 'stored_value', cardNo: 'C3', amount: ordered.payableAmount }],
  });
  t.equal(refused.status, 422);
  t.equal(refused.body.error.code, 'INSUFFICIENT_BALANCE');
  t.same(tc.sims!.systems.storedValue.peekCard('C3'), low, 'nothing locked on the low card');

  const retried = await api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, {
    legs: [{ method: 'stored_value', cardNo: 'C1', amount: ordered.payableAmount }],
  });
  t.equal(retried.status, 200, 'the same order is then paid with another card');
  t.equal(retried.body.state, 'completed');
});
