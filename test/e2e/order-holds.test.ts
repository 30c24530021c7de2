import t from 'tap';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { eventually, FUEL_SALE, startHarness, type Harness } from '../helpers/harness.ts';

type ErrorBody = { error: { code: string; message: string } };

const NOON = Date.parse('2026-11-25T12:00:00+08:00');

/** U1 at noon, wechat, points on: CP1 + P3, 2820 points, and 6 colas (P8). */
const SALE = {
  ...FUEL_SALE,
  items: [{ type: 'fuel', nozzleNo: 1, amount: 30000 }, { type: 'goods', sku: 'SKU-COLA', quantity: 6 }],
  paymentMethods: ['stored_value'],
  usePoints: true,
};

function ledgers(h: Harness) {
  const s = h.tc.sims!.systems;
  return {
    cp1: s.coupon.peekCoupon('CP1')?.status,
    cp2: s.coupon.peekCoupon('CP2')?.status,
    points: s.points.peekPointsAccount('U1'),
    cola: s.goods.peekStock('S1', 'SKU-COLA'),
    card: s.storedValue.peekCard('C1'),
  };
}

async function start(h: Harness, body: Record<string, unknown> = SALE) {
  const res = await h.api<TransactionView>('POST', '/v1/transactions', body);
  if (res.status !== 201) throw new Error(JSON.stringify(res.body));
  const combo = res.body.quote.combos.find((c) => c.comboId === res.body.quote.bestComboId)!;
  return { view: res.body, combo };
}

t.test('pre mode locks the coupon, points and stock at order time and confirms them after payment', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const before = ledgers(h);
  const { view, combo } = await start(h);
  t.ok(combo.couponIds.length > 0 && combo.points > 0, 'the combination uses a coupon and points');
  const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${view.txnNo}/order`, { quoteId: view.quote.quoteId, comboId: combo.comboId });
  t.equal(ordered.status, 201);
  t.same(ordered.body.holds.map((x) => [x.resource, x.status]), [['coupon', 'locked'], ['points', 'locked'], ['goods', 'locked']]);
  const locked = ledgers(h);
  t.equal(h.tc.sims!.systems.coupon.peekCoupon(combo.couponIds[0]!)?.status, 'locked');
  t.equal(locked.points!.balance, before.points!.balance - combo.points);
  t.equal(locked.points!.locked, combo.points);
  t.equal(locked.cola!.availableStock, before.cola!.availableStock - 6);

  const paid = await h.api<TransactionView>('POST', `/v1/transactions/${view.txnNo}/payments`, { legs: [{ method: 'stored_value', cardNo: 'C1', amount: ordered.body.payableAmount }] });
  t.equal(paid.body.state, 'completed');
  t.same(paid.body.holds.map((x) => x.status), ['confirmed', 'confirmed', 'confirmed']);
  // A point per yuan is awarded by a post-payment task; let the tasks finish before counting.
  await h.tc.tasks.runDue(); // may join a pass already under way…
  await h.tc.tasks.runDue(); // …so one more, started after our tasks were stored
  const after = ledgers(h);
  t.equal(h.tc.sims!.systems.coupon.peekCoupon(combo.couponIds[0]!)?.status, 'used');
  t.equal(after.points!.balance, before.points!.balance - combo.points + Math.floor(paid.body.paidAmount / 100));
  t.equal(after.points!.locked, 0);
  t.equal(after.cola!.availableStock, before.cola!.availableStock - 6);
  t.equal(after.cola!.reservedStock, before.cola!.reservedStock, 'the reservation was consumed, not left');
});

t.test('cancelling an ordered sale releases every hold: ledgers exactly as before', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const before = ledgers(h);
  const { view, combo } = await start(h);
  await h.api('POST', `/v1/transactions/${view.txnNo}/order`, { quoteId: view.quote.quoteId, comboId: combo.comboId });
  const cancelled = await h.api<TransactionView>('POST', `/v1/transactions/${view.txnNo}/cancel`, {});
  t.equal(cancelled.body.state, 'cancelled');
  t.same(cancelled.body.holds.map((x) => x.status), ['released', 'released', 'released']);
  t.same(ledgers(h), before);
});

t.test('payment expiry releases every hold', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock });
  const before = ledgers(h);
  const { view, combo } = await start(h);
  await h.api('POST', `/v1/transactions/${view.txnNo}/order`, { quoteId: view.quote.quoteId, comboId: combo.comboId });
  clock.advance(h.tc.config.paymentTtlMs);
  await h.tc.host.fireDueTimers();
  await eventually(() => h.api<TransactionView>('GET', `/v1/transactions/${view.txnNo}`), (r) => r.body.state === 'cancelled');
  t.same(ledgers(h), before);
});

t.test('points spent elsewhere after the quote: INSUFFICIENT_POINTS, and the coupon locked before them is released', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const { view, combo } = await start(h);
  const points = h.tc.sims!.systems.points;
  const balance = points.peekPointsAccount('U1')!.balance;
  await points.lock({ txnNo: 'T-ELSEWHERE', step: 'points' }, { lockKey: 'elsewhere', userId: 'U1', points: balance - 100 });
  const before = ledgers(h);
  const refused = await h.api<ErrorBody>('POST', `/v1/transactions/${view.txnNo}/order`, { quoteId: view.quote.quoteId, comboId: combo.comboId });
  t.equal(refused.status, 422);
  t.equal(refused.body.error.code, 'INSUFFICIENT_POINTS');
  t.same(ledgers(h), before, 'the coupon lock taken first was released');
  const view2 = (await h.api<TransactionView>('GET', `/v1/transactions/${view.txnNo}`)).body;
  t.equal(view2.state, 'quoted', 'back to quoted: the customer can quote again');
  t.equal(view2.orderNo, null);
  const requote = await h.api<TransactionView>('POST', `/v1/transactions/${view.txnNo}/quotes`, { items: SALE.items, paymentMethods: ['stored_value'], usePoints: true });
  t.equal(requote.body.quote.combos[0]?.points, 100, 'the new quote uses the points left');
});

t.test('stock sold meanwhile: OUT_OF_STOCK at order time and nothing stays locked', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const body = { ...SALE, userId: 'U4', items: [{ type: 'goods', sku: 'SKU-OIL', quantity: 1 }], usePoints: false };
  const first = await start(h, body);
  const second = await start(h, body);
  const ok = await h.api('POST', `/v1/transactions/${first.view.txnNo}/order`, { quoteId: first.view.quote.quoteId, comboId: first.combo.comboId });
  t.equal(ok.status, 201, 'the first order reserves the last engine oil');
  const before = ledgers(h);
  const refused = await h.api<ErrorBody>('POST', `/v1/transactions/${second.view.txnNo}/order`, { quoteId: second.view.quote.quoteId, comboId: second.combo.comboId });
  t.equal(refused.body.error.code, 'OUT_OF_STOCK');
  t.same(ledgers(h), before);
});

t.test('a used coupon is refused at order time with COUPON_UNAVAILABLE', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const first = await start(h, { ...FUEL_SALE, paymentMethods: ['wechat'] });
  const second = await start(h, { ...FUEL_SALE, paymentMethods: ['wechat'] });
  t.same(first.combo.couponIds, ['CP2']);
  await h.api('POST', `/v1/transactions/${first.view.txnNo}/order`, { quoteId: first.view.quote.quoteId, comboId: first.combo.comboId });
  const refused = await h.api<ErrorBody>('POST', `/v1/transactions/${second.view.txnNo}/order`, { quoteId: second.view.quote.quoteId, comboId: second.combo.comboId });
  t.equal(refused.status, 422);
  t.equal(refused.body.error.code, 'COUPON_UNAVAILABLE');
});

t.test('post mode locks nothing at order time and takes the benefits after payment', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const before = ledgers(h);
  const { view, combo } = await start(h);
  const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${view.txnNo}/order`, { quoteId: view.quote.quoteId, comboId: combo.comboId, deductionMode: 'post' });
  t.same(ordered.body.holds.map((x) => x.status), ['pending', 'pending', 'pending']);
  t.same(ledgers(h), before, 'nothing locked while the customer may still walk away');
  const paid = await h.api<TransactionView>('POST', `/v1/transactions/${view.txnNo}/payments`, { legs: [{ method: 'stored_value', cardNo: 'C1', amount: ordered.body.payableAmount }] });
  t.equal(paid.body.state, 'completed');
  t.same(paid.body.holds.map((x) => x.status), ['confirmed', 'confirmed', 'confirmed']);
  t.equal(paid.body.needsReview, false);
  t.equal(h.tc.sims!.systems.coupon.peekCoupon(combo.couponIds[0]!)?.status, 'used');
});

t.test('post mode: a coupon spent before the payment is recorded as a shortfall and the sale completes', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const { view, combo } = await start(h, { ...FUEL_SALE, paymentMethods: ['wechat'] });
  const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${view.txnNo}/order`, { quoteId: view.quote.quoteId, comboId: combo.comboId, deductionMode: 'post' });
  const coupons = h.tc.sims!.systems.coupon;
  await coupons.lock({ txnNo: 'T-ELSEWHERE', step: 'c' }, { lockKey: 'elsewhere', userId: 'U1', couponIds: combo.couponIds });
  await coupons.use({ txnNo: 'T-ELSEWHERE', step: 'u' }, { lockKey: 'elsewhere' });
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${view.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.body.payableAmount }] });
  await h.tc.sims!.gateway.pay(paying.body.legs[0]!.paymentNo);
  const done = await eventually(() => h.api<TransactionView>('GET', `/v1/transactions/${view.txnNo}`), (r) => r.body.state === 'completed');
  t.same(done.body.holds.map((x) => [x.resource, x.status]), [['coupon', 'shortfall']]);
  t.equal(done.body.needsReview, true, 'flagged for review, never silently ignored');
});

t.test('the scene decides the default deduction mode: one-click refuel deducts after payment', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const { view, combo } = await start(h, { ...SALE, scene: 'one_click_refuel' });
  const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${view.txnNo}/order`, { quoteId: view.quote.quoteId, comboId: combo.comboId });
  t.same(ordered.body.holds.map((x) => x.status), ['pending', 'pending', 'pending'], 'post mode: nothing locked');
  const other = await start(h, { ...SALE, scene: 'one_click_refuel', userId: 'U2', usePoints: false });
  const pre = await h.api<TransactionView>('POST', `/v1/transactions/${other.view.txnNo}/order`, { quoteId: other.view.quote.quoteId, comboId: other.combo.comboId, deductionMode: 'pre' });
  t.ok(pre.body.holds.every((x) => x.status === 'locked'), 'the order call may override it');
});
