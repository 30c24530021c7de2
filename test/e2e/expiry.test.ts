import t from 'tap';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { eventually, orderedSale, startHarness } from '../helpers/harness.ts';

const TTL = 15 * 60_000;

t.test('a wechat payment with no callback expires: the payment is closed and the transaction cancelled', async (t) => {
  const clock = new ManualClock();
  // Queries on callback silence are tested elsewhere; here only the expiry timer may fire.
  const { api, tc } = await startHarness(t, { clock, config: { paymentTtlMs: TTL, queryAfterMs: 60 * 60_000 } });
  const ordered = await orderedSale(api, 'wechat');
  const paying = await api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.payableAmount }] });
  const paymentNo = paying.body.legs[0]!.paymentNo;
  t.equal(paying.body.expiresAt, new Date(Date.parse(ordered.quote.quotedAt) + TTL).toISOString(), 'the deadline is the order time plus the TTL');

  clock.advance(TTL - 1);
  t.equal(await tc.host.fireDueTimers(), 0, 'nothing is due one millisecond early');
  clock.advance(1);
  t.equal(await tc.host.fireDueTimers(), 1, 'the payment-expiry timer fires once due');

  const { body: view } = await eventually(() => api<TransactionView>('GET', `/v1/transactions/${ordered.txnNo}`), (r) => r.body.state === 'cancelled');
  t.equal(view.legs[0]?.status, 'closed');
  t.same(view.outcome, { code: 'PAYMENT_EXPIRED', message: 'payment expired' }, 'the outcome names the expiry, not an error code');
  t.equal(tc.sims!.systems.paymentGateway.peekPayment(paymentNo)?.status, 'closed', 'the gateway payment was closed');
  t.equal(tc.sims!.systems.order.peekOrder(ordered.orderNo!)?.status, 'cancelled', 'the order was cancelled');
  const late = await tc.sims!.gateway.pay(paymentNo);
  t.equal(late.ok, false, 'the customer can no longer pay the closed payment');
  t.equal(await tc.host.fireDueTimers(), 0, 'no timer is left behind');
});

t.test('an order never paid expires and is cancelled at the order system', async (t) => {
  const clock = new ManualClock();
  const { api, tc } = await startHarness(t, { clock, config: { paymentTtlMs: TTL } });
  const before = tc.sims!.systems.storedValue.peekCard('C1');
  const ordered = await orderedSale(api, 'stored_value');
  clock.advance(TTL);
  await tc.host.fireDueTimers();
  await eventually(() => api<TransactionView>('GET', `/v1/transactions/${ordered.txnNo}`), (r) => r.body.state === 'cancelled');
  t.equal(tc.sims!.systems.order.peekOrder(ordered.orderNo!)?.status, 'cancelled');
  t.same(tc.sims!.systems.storedValue.peekCard('C1'), before, 'the card is untouched');
});

t.test('a payment that succeeds while its expiry is closing it wins: the sale completes', async (t) => {
  const clock = new ManualClock();
  const { api, tc } = await startHarness(t, { clock, config: { paymentTtlMs: TTL } });
  const ordered = await orderedSale(api, 'wechat');
  const paying = await api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.payableAmount }] });
  tc.sims!.gateway.configureCallbacks({ dropCallbacks: true });
  await tc.sims!.gateway.pay(paying.body.legs[0]!.paymentNo);
  clock.advance(TTL);
  await tc.host.fireDueTimers();
  const { body: view } = await eventually(
    () => api<TransactionView>('GET', `/v1/transactions/${ordered.txnNo}`),
    (r) => r.body.state !== 'paying' && r.body.state !== 'paid',
  );
  t.equal(view.state, 'completed', 'the close was refused as already paid, and the query confirmed it');
  t.equal(view.legs[0]?.status, 'succeeded');
});

t.test('issue 15: a payment after its deadline is refused before the expiry timer fires, and the expiry still cancels the sale', async (t) => {
  const clock = new ManualClock();
  const { api, tc } = await startHarness(t, { clock, config: { paymentTtlMs: TTL } });
  const ordered = await orderedSale(api, 'wechat');
  clock.advance(TTL);
  const late = await api<{ error: { code: string; details?: { expiresAt?: string } } }>('POST', `/v1/transactions/${ordered.txnNo}/payments`, {
    legs: [{ method: 'wechat', amount: ordered.payableAmount }],
  });
  t.equal(late.status, 409);
  t.equal(late.body.error.code, 'INVALID_STATE');
  t.equal(late.body.error.details?.expiresAt, ordered.expiresAt, 'the refusal names the deadline');
  const refused = await api<TransactionView>('GET', `/v1/transactions/${ordered.txnNo}`);
  t.equal(refused.body.state, 'ordered', 'nothing changed');
  t.same(refused.body.legs, [], 'no payment leg was started');
  t.equal(tc.sims!.systems.paymentGateway.peekPayment(`${ordered.txnNo}-P1`), null, 'no payment was created at the gateway');

  t.equal(await tc.host.fireDueTimers(), 1, 'the expiry timer is still armed');
  const { body: view } = await eventually(() => api<TransactionView>('GET', `/v1/transactions/${ordered.txnNo}`), (r) => r.body.state === 'cancelled');
  t.equal(view.outcome?.message, 'payment expired');
  t.equal(tc.sims!.systems.order.peekOrder(ordered.orderNo!)?.status, 'cancelled');
});

t.test('issue 15: a payment one millisecond before its deadline is taken', async (t) => {
  const clock = new ManualClock();
  const { api } = await startHarness(t, { clock, config: { paymentTtlMs: TTL } });
  const ordered = await orderedSale(api, 'wechat');
  clock.advance(TTL - 1);
  const paying = await api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.payableAmount }] });
  t.equal(paying.status, 202);
  t.equal(paying.body.state, 'paying');
});
