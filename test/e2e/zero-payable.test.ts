import t from 'tap';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { eventually, FUEL_SALE, startHarness, type Harness } from '../helpers/harness.ts';

/*
 * Issue 15: an order whose discounts cover everything (20 yuan of fuel with U1's 20-yuan coupon
 * CP2) has 0 to pay. It is paid with no legs at all (the legs add up to its payable), and completes
 * like any other sale: the coupon used, the order marked paid, nothing asked of any channel.
 */

const NOON = Date.parse('2026-11-25T12:00:00+08:00');
const FREE_FUEL = { ...FUEL_SALE, items: [{ type: 'fuel', nozzleNo: 1, amount: 2000 }], paymentMethods: ['wechat'] };
const view = (h: Harness, txnNo: string) => h.api<TransactionView>('GET', `/v1/transactions/${txnNo}`);

async function orderedFree(h: Harness): Promise<TransactionView> {
  const started = await h.api<TransactionView>('POST', '/v1/transactions', FREE_FUEL);
  const best = started.body.quote.combos.find((c) => c.comboId === started.body.quote.bestComboId)!;
  const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: best.comboId });
  if (ordered.status !== 201) throw new Error(JSON.stringify(ordered.body));
  return ordered.body;
}

t.test('issue 15: a fully discounted order is paid with no legs and completes, its coupon used and its order marked paid', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock });
  const ordered = await orderedFree(h);
  t.equal(ordered.payableAmount, 0, 'the coupon covers the whole sale');
  clock.advance(1000);
  const paid = await h.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [] });
  t.equal(paid.status, 200, 'paid synchronously');
  t.equal(paid.body.state, 'completed');
  t.same(paid.body.legs, []);
  t.equal(paid.body.paidAmount, 0);
  t.equal(paid.body.paidAt, new Date(NOON + 1000).toISOString(), 'paid when the payment was asked for');
  t.equal((await h.sims.systems.coupon.peekCoupon('CP2'))?.status, 'used', 'the coupon was spent on it');
  t.equal(h.tc.sims!.systems.order.peekOrder(ordered.orderNo!)?.status, 'paid');
  t.equal(h.tc.sims!.systems.paymentGateway.peekPayment(`${ordered.txnNo}-P1`), null, 'no channel was asked for anything');
});

t.test('issue 15: a fully discounted order refuses a leg of any amount, and no legs when something is left to pay', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const free = await orderedFree(h);
  const leg = await h.api<{ error: { code: string } }>('POST', `/v1/transactions/${free.txnNo}/payments`, { legs: [{ method: 'wechat', amount: 1 }] });
  t.equal(leg.status, 422);
  t.equal(leg.body.error.code, 'LEGS_MISMATCH');
  const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-wechat' });
  const none = await h.api<{ error: { code: string } }>('POST', `/v1/transactions/${ordered.body.txnNo}/payments`, { legs: [] });
  t.equal(none.status, 422);
  t.equal(none.body.error.code, 'LEGS_MISMATCH');
  t.equal((await view(h, ordered.body.txnNo)).body.state, 'ordered');
});

t.test('issue 15: a fully discounted checkout completes with its "rest" leg left out', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const res = await h.api<TransactionView>('POST', '/v1/checkout', { ...FREE_FUEL, legs: [{ method: 'wechat', amount: 'rest' }] });
  t.equal(res.status, 200);
  t.equal(res.body.state, 'completed');
  t.equal(res.body.payableAmount, 0);
  t.same(res.body.legs, []);
});

t.test('issue 15: a fully discounted sale has nothing to refund: a refund is refused and changes nothing', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const ordered = await orderedFree(h);
  await h.api('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [] });
  const refund = await h.api<{ error?: { code: string } }>('POST', `/v1/transactions/${ordered.txnNo}/refunds`, { reason: 'returned' });
  t.equal(refund.status, 422);
  t.equal(refund.body.error?.code, 'REFUND_EXCEEDS_PAID');
  const after = await eventually(() => view(h, ordered.txnNo), (r) => r.body.state === 'completed');
  t.same(after.body.refunds, []);
  t.equal((await h.sims.systems.coupon.peekCoupon('CP2'))?.status, 'used');
});
