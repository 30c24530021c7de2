import t from 'tap';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import type { SystemName } from '../../systems/contract.ts';
import { loadDataset } from '../../systems/sim/index.ts';
import { DATASET_PATH, eventually, FUEL_SALE, startHarness, type Harness } from '../helpers/harness.ts';

type ErrorBody = { error: { code: string; message: string; details?: Record<string, unknown> } };

const NOON = Date.parse('2026-11-25T12:00:00+08:00');
const CARD_LEG = 20_000;

/** Everything a mixed sale can touch, to compare before and after. */
async function ledgers(h: Harness) {
  const s = h.sims.systems;
  return {
    card: await s.storedValue.peekCard('C1'),
    coupons: (await s.coupon.peekCoupons('U1')).map((c) => [c.couponId, c.status]),
    points: await s.points.peekPointsAccount('U1'),
  };
}

/** Real effects (empty rollbacks are not effects) of one verb of one system. */
async function effects(h: Harness, system: SystemName, verb: string): Promise<number> {
  return (await h.sims.store.effects({ system, verb })).filter((e) => e.detail !== 'empty-rollback').length;
}

/** U1, 300 yuan of 92#, the wechat combination (CP2, no method-bound discount): legs may mix. */
async function ordered(h: Harness): Promise<TransactionView> {
  const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  const res = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-wechat' });
  if (res.status !== 201) throw new Error(JSON.stringify(res.body));
  return res.body;
}

const view = (h: Harness, txnNo: string) => h.api<TransactionView>('GET', `/v1/transactions/${txnNo}`);
const until = (h: Harness, txnNo: string, state: string) => eventually(() => view(h, txnNo), (r) => r.body.state === state);
const cardAndWechat = (v: TransactionView, card = 'C1') => ({
  legs: [
    { method: 'stored_value', cardNo: card, amount: CARD_LEG },
    { method: 'wechat', amount: v.payableAmount - CARD_LEG },
  ],
});

t.test('card + wechat: the card is locked first, confirmed when wechat is paid', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const before = await ledgers(h);
  const v = await ordered(h);
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${v.txnNo}/payments`, cardAndWechat(v));
  t.equal(paying.status, 202);
  t.same(paying.body.legs.map((l) => [l.method, l.status]), [['stored_value', 'locked'], ['wechat', 'pending']]);
  await h.sims.gateway.pay(paying.body.legs[1]!.paymentNo);
  const done = await until(h, v.txnNo, 'completed');
  t.same(done.body.legs.map((l) => l.status), ['succeeded', 'succeeded']);
  t.equal(before.card!.availableFen - (await h.sims.systems.storedValue.peekCard('C1'))!.availableFen, CARD_LEG);
  t.equal((await h.sims.systems.coupon.peekCoupon('CP2'))?.status, 'used');
});

t.test('a failing mixed payment leaves every ledger as it was, compensating each step once and only steps that ran', async (t) => {
  t.test('card lock refused: no wechat payment is ever created', async (t) => {
    const h = await startHarness(t, { clock: new ManualClock(NOON) });
    const before = await ledgers(h);
    const v = await ordered(h);
    const refused = await h.api<ErrorBody>('POST', `/v1/transactions/${v.txnNo}/payments`, cardAndWechat(v, 'C3'));
    t.equal(refused.status, 422);
    t.equal(refused.body.error.code, 'INSUFFICIENT_BALANCE');
    t.equal(await effects(h, 'paymentGateway', 'createPayment'), 0, 'the async leg never started');
    t.equal(await effects(h, 'storedValue', 'cancel'), 0, 'nothing to release on the card: the lock never held');
    await h.api('POST', `/v1/transactions/${v.txnNo}/cancel`, {});
    t.same(await ledgers(h), before);
    t.equal(await effects(h, 'coupon', 'release'), 1, 'the coupon released once');
  });

  t.test('coupon lock refused at order: nothing else is touched', async (t) => {
    const h = await startHarness(t, { clock: new ManualClock(NOON) });
    const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'], usePoints: true });
    await h.sims.faults.coupon.configure({ lock: { failNext: 1 } });
    const before = await ledgers(h);
    const refused = await h.api<ErrorBody>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-wechat' });
    t.equal(refused.status, 503);
    t.same(await ledgers(h), before);
    t.equal(await effects(h, 'points', 'lock'), 0, 'points were never locked');
    t.equal(await effects(h, 'points', 'release'), 0, 'so never released');
  });

  t.test('points lock refused at order: the coupon locked before is released once', async (t) => {
    const h = await startHarness(t, { clock: new ManualClock(NOON) });
    const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'], usePoints: true });
    await h.sims.faults.points.configure({ lock: { failNext: 1 } });
    const before = await ledgers(h);
    const refused = await h.api<ErrorBody>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-wechat' });
    t.equal(refused.status, 503);
    t.same(await ledgers(h), before);
    t.equal(await effects(h, 'coupon', 'lock'), 1);
    t.equal(await effects(h, 'coupon', 'release'), 1);
    t.equal(await effects(h, 'order', 'createOrder'), 0, 'the order was never created');
  });

  t.test('async create fails: the card lock is released once', async (t) => {
    const h = await startHarness(t, { clock: new ManualClock(NOON) });
    const before = await ledgers(h);
    const v = await ordered(h);
    await h.sims.faults.paymentGateway.configure({ createPayment: { failNext: 1 } });
    const refused = await h.api<ErrorBody>('POST', `/v1/transactions/${v.txnNo}/payments`, cardAndWechat(v));
    t.equal(refused.status, 503);
    t.equal((await view(h, v.txnNo)).body.state, 'ordered', 'nothing moved: the order stays open');
    t.equal(await effects(h, 'storedValue', 'lock'), 1);
    t.equal(await effects(h, 'storedValue', 'cancel'), 1);
    t.equal(await effects(h, 'storedValue', 'confirm'), 0);
    await h.api('POST', `/v1/transactions/${v.txnNo}/cancel`, {});
    t.same(await ledgers(h), before);
  });

  t.test('the wechat payment fails at the channel: the card lock is released once', async (t) => {
    const h = await startHarness(t, { clock: new ManualClock(NOON) });
    const before = await ledgers(h);
    const v = await ordered(h);
    const paying = await h.api<TransactionView>('POST', `/v1/transactions/${v.txnNo}/payments`, cardAndWechat(v));
    await h.sims.gateway.fail(paying.body.legs[1]!.paymentNo);
    await until(h, v.txnNo, 'ordered');
    t.equal(await effects(h, 'storedValue', 'cancel'), 1);
    await h.api('POST', `/v1/transactions/${v.txnNo}/cancel`, {});
    t.same(await ledgers(h), before);
    t.equal(await effects(h, 'coupon', 'release'), 1);
  });

  t.test('expiry: the wechat payment is closed, the card and coupon released, each once', async (t) => {
    const clock = new ManualClock(NOON);
    const h = await startHarness(t, { clock, config: { queryAfterMs: 60 * 60_000 } });
    const before = await ledgers(h);
    const v = await ordered(h);
    const paying = await h.api<TransactionView>('POST', `/v1/transactions/${v.txnNo}/payments`, cardAndWechat(v));
    clock.advance(h.config.paymentTtlMs);
    await h.drive.fireDueTimers();
    await until(h, v.txnNo, 'cancelled');
    t.same(await ledgers(h), before);
    t.equal((await h.sims.systems.paymentGateway.peekPayment(paying.body.legs[1]!.paymentNo))?.status, 'closed');
    t.equal(await effects(h, 'storedValue', 'cancel'), 1);
    t.equal(await effects(h, 'paymentGateway', 'closePayment'), 1);
    t.equal(await effects(h, 'coupon', 'release'), 1);
  });

  t.test('the second async leg fails after the first captured: the first is refunded once', async (t) => {
    const h = await startHarness(t, { clock: new ManualClock(NOON) });
    const before = await ledgers(h);
    const v = await ordered(h);
    const paying = await h.api<TransactionView>('POST', `/v1/transactions/${v.txnNo}/payments`, {
      legs: [
        { method: 'wechat', amount: 10_000 },
        { method: 'alipay', amount: v.payableAmount - 10_000 },
      ],
    });
    t.equal(paying.status, 202);
    const [wechat, alipay] = paying.body.legs;
    await h.sims.gateway.pay(wechat!.paymentNo);
    await eventually(() => view(h, v.txnNo), (r) => r.body.legs[0]?.status === 'succeeded');
    await h.sims.gateway.fail(alipay!.paymentNo);
    await until(h, v.txnNo, 'failed');
    // Refunded once the channel has paid it back: the refund outlives the unwinding.
    const failed = await eventually(() => view(h, v.txnNo), (r) => r.body.legs[0]?.status === 'refunded');
    t.same(failed.body.legs.map((l) => l.status), ['refunded', 'failed']);
    t.equal((await h.sims.systems.paymentGateway.peekPayment(wechat!.paymentNo))?.refundedFen, 10_000, 'the captured money went back');
    t.equal(await effects(h, 'paymentGateway', 'refundPayment'), 1);
    t.same(await ledgers(h), before);
    t.equal((await h.sims.systems.order.peekOrder(v.orderNo!))?.status, 'cancelled');
  });
});

t.test('callbacks: duplicated, reordered, dropped or late, the outcome matches the gateway', async (t) => {
  t.test('a failure and a success delivered in either order for two legs end the same way', async (t) => {
    for (const reorder of [false, true]) {
      const clock = new ManualClock(NOON);
      const h = await startHarness(t, { clock });
      const gateway = h.sims.gateway;
      await gateway.configureCallbacks({ reorderCallbacks: reorder, duplicateCallbacks: 2, callbackDelayMs: 50 });
      const v = await ordered(h);
      const paying = await h.api<TransactionView>('POST', `/v1/transactions/${v.txnNo}/payments`, {
        legs: [
          { method: 'wechat', amount: 10_000 },
          { method: 'unionpay', amount: v.payableAmount - 10_000 },
        ],
      });
      const [wechat, unionpay] = paying.body.legs;
      await gateway.fail(wechat!.paymentNo);
      await gateway.pay(unionpay!.paymentNo);
      clock.advance(50); // both callbacks fall due in the same delivery pass
      await until(h, v.txnNo, 'failed');
      // Refunded once the channel has paid it back; its refund callback too comes 50 ms later.
      const failed = await eventually(
        async () => {
          clock.advance(50);
          return view(h, v.txnNo);
        },
        (r) => r.body.legs[1]?.status === 'refunded',
      );
      t.same(failed.body.legs.map((l) => l.status), ['failed', 'refunded'], `reorder=${reorder}`);
      t.equal((await gateway.peekPayment(unionpay!.paymentNo))?.refundedFen, unionpay!.amount, 'the paid leg is refunded once');
      t.equal(await effects(h, 'paymentGateway', 'refundPayment'), 1);
    }
  });

  t.test('a dropped callback is recovered by the query alone', async (t) => {
    const clock = new ManualClock(NOON);
    const h = await startHarness(t, { clock });
    await h.sims.gateway.configureCallbacks({ dropCallbacks: true });
    const v = await ordered(h);
    const paying = await h.api<TransactionView>('POST', `/v1/transactions/${v.txnNo}/payments`, cardAndWechat(v));
    await h.sims.gateway.pay(paying.body.legs[1]!.paymentNo);
    clock.advance(h.config.queryAfterMs);
    t.equal(await h.drive.fireDueTimers(), 1, 'the silence timer fires');
    const done = await until(h, v.txnNo, 'completed');
    t.same(done.body.legs.map((l) => l.status), ['succeeded', 'succeeded']);
  });

  t.test('a query that finds the payment still pending asks again later', async (t) => {
    const clock = new ManualClock(NOON);
    const h = await startHarness(t, { clock });
    const v = await ordered(h);
    const paying = await h.api<TransactionView>('POST', `/v1/transactions/${v.txnNo}/payments`, { legs: [{ method: 'wechat', amount: v.payableAmount }] });
    clock.advance(h.config.queryAfterMs);
    await h.drive.fireDueTimers();
    await h.drive.settle();
    const timers = await h.drive.storedTimers(v.txnNo);
    t.ok(timers['query:leg-1']! > clock.now(), 'the next query is armed, later');
    await h.sims.gateway.configureCallbacks({ dropCallbacks: true });
    await h.sims.gateway.pay(paying.body.legs[0]!.paymentNo);
    clock.set(timers['query:leg-1']!);
    await h.drive.fireDueTimers();
    await until(h, v.txnNo, 'completed');
  });

  t.test('a success callback after the sale was cancelled is refunded automatically', async (t) => {
    const h = await startHarness(t, { clock: new ManualClock(NOON) });
    const v = await ordered(h);
    const paying = await h.api<TransactionView>('POST', `/v1/transactions/${v.txnNo}/payments`, { legs: [{ method: 'wechat', amount: v.payableAmount }] });
    const paymentNo = paying.body.legs[0]!.paymentNo;
    const cancelled = await h.api<TransactionView>('POST', `/v1/transactions/${v.txnNo}/cancel`, {});
    t.equal(cancelled.body.state, 'cancelled');
    // The channel captured the money just as we closed the payment.
    await h.sims.gateway.forcePay(paymentNo);
    const refunded = await eventually(() => view(h, v.txnNo), (r) => r.body.legs[0]?.status === 'refunded');
    t.equal(refunded.body.state, 'cancelled');
    t.equal((await h.sims.systems.paymentGateway.peekPayment(paymentNo))?.refundedFen, v.payableAmount);
    t.equal(await effects(h, 'paymentGateway', 'refundPayment'), 1);
  });
});

t.test('post mode: points spent elsewhere before the callback are recorded as a shortfall, the sale completes', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'], usePoints: true });
  const combo = started.body.quote.combos[0]!;
  t.ok(combo.points > 0);
  const v = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: combo.comboId, deductionMode: 'post' });
  const points = h.sims.systems.points;
  const held = (await points.peekPointsAccount('U1'))!.balance;
  await points.lock({ txnNo: 'T-ELSEWHERE', step: 'p' }, { lockKey: 'elsewhere', userId: 'U1', points: held });
  await points.deduct({ txnNo: 'T-ELSEWHERE', step: 'd' }, { lockKey: 'elsewhere' });
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${v.body.txnNo}/payments`, { legs: [{ method: 'wechat', amount: v.body.payableAmount }] });
  await h.sims.gateway.pay(paying.body.legs[0]!.paymentNo);
  const done = await until(h, v.body.txnNo, 'completed');
  t.same(done.body.holds.map((x) => [x.resource, x.status]), [['coupon', 'confirmed'], ['points', 'shortfall']]);
  t.equal(done.body.needsReview, true);
});

t.test('checkout with "max" and "rest" pays 300 yuan from a 200-yuan card as 200 + the rest', async (t) => {
  const dataset = loadDataset(DATASET_PATH);
  dataset.cards.find((c) => c.cardNo === 'C2')!.balanceFen = 20_000;
  const h = await startHarness(t, { clock: new ManualClock(NOON), config: { dataset } });
  const res = await h.api<TransactionView>('POST', '/v1/checkout', {
    ...FUEL_SALE,
    userId: 'U2',
    paymentMethods: ['wechat'],
    legs: [
      { method: 'stored_value', cardNo: 'C2', amount: 'max' },
      { method: 'wechat', amount: 'rest' },
    ],
  });
  t.equal(res.status, 202);
  const quoted = res.body.quote.combos.find((c) => c.comboId === res.body.comboId)!;
  t.equal(res.body.payableAmount, quoted.payableAmount, 'the quoted discounts apply');
  t.same(res.body.legs.map((l) => [l.method, l.amount, l.status]), [
    ['stored_value', 20_000, 'locked'],
    ['wechat', quoted.payableAmount - 20_000, 'pending'],
  ]);
  await h.sims.gateway.pay(res.body.legs[1]!.paymentNo);
  await until(h, res.body.txnNo, 'completed');
  t.equal((await h.sims.systems.storedValue.peekCard('C2'))!.availableFen, 0);
});

t.test('a refused checkout leaves nothing behind and names its transaction', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const before = await ledgers(h);
  const res = await h.api<ErrorBody>('POST', '/v1/checkout', { ...FUEL_SALE, paymentMethods: ['wechat'], legs: [{ method: 'wechat', amount: 1 }] });
  t.equal(res.status, 422);
  t.equal(res.body.error.code, 'LEGS_MISMATCH');
  const txnNo = String(res.body.error.details?.txnNo);
  t.equal((await view(h, txnNo)).body.state, 'cancelled');
  t.same(await ledgers(h), before, 'the coupon locked by the order is released');
});

t.test('100 concurrent duplicate payment requests produce one set of legs', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const v = await ordered(h);
  const body = cardAndWechat(v);
  const answers = await Promise.all(Array.from({ length: 100 }, () => h.api('POST', `/v1/transactions/${v.txnNo}/payments`, body)));
  const accepted = answers.filter((a) => a.status === 202);
  t.equal(accepted.length, 1, 'one request pays');
  t.ok(answers.every((a) => a.status === 202 || a.status === 409), 'the others are told the transaction moved on');
  t.equal((await view(h, v.txnNo)).body.legs.length, 2);
  t.equal(await effects(h, 'storedValue', 'lock'), 1);
  t.equal(await effects(h, 'paymentGateway', 'createPayment'), 1);

  const keyed = await ordered(h);
  const headers = { 'idempotency-key': 'pay-once' };
  const replies = await Promise.all(Array.from({ length: 100 }, () => h.api('POST', `/v1/transactions/${keyed.txnNo}/payments`, cardAndWechat(keyed), headers)));
  t.ok(replies.every((a) => a.status === 202 || a.status === 409), 'with one Idempotency-Key: the first, or REQUEST_IN_PROGRESS');
  t.equal((await view(h, keyed.txnNo)).body.legs.length, 2);
  const replay = await h.api('POST', `/v1/transactions/${keyed.txnNo}/payments`, cardAndWechat(keyed), headers);
  t.equal(replay.status, 202, 'afterwards the first answer is replayed');
});
