import t from 'tap';
import type { Combo, Quote } from '../../domain/pricing/types.ts';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { FUEL_SALE, startHarness } from '../helpers/harness.ts';

type ErrorBody = { error: { code: string; message: string } };

/** 2026-11-25 is a Wednesday; times are station local (Asia/Shanghai, UTC+8). */
const at = (local: string) => Date.parse(`2026-11-25T${local}:00+08:00`);

function comboFor(quote: Quote, method: string): Combo {
  const found = quote.combos.find((c) => c.paymentMethod === method);
  if (!found) throw new Error(`no combo for ${method}`);
  return found;
}

const summary = (c: Combo) => c.discounts.map((d) => (d.kind === 'points' ? `points:${d.points}=${d.amount}` : `${d.id}=${d.amount}`));

// Worked examples from the demo data (README "Worked examples"): member U1 is gold and holds
// coupons CP1 (10 yuan off 100, fuel), CP2 (20 yuan, not stackable with promotions), and 5000 points.
t.test('worked example: by day a coupon not stackable with promotions beats the promotions', async (t) => {
  const { api } = await startHarness(t, { clock: new ManualClock(at('12:00')) });
  const res = await api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  t.equal(res.status, 201);
  const wechat = comboFor(res.body.quote, 'wechat');
  // Gold 3% (P2) gives 9 yuan alone; CP1 keeps only P3 (8 yuan) + 10 yuan; CP2 alone gives 20 yuan.
  t.same(summary(wechat), ['CP2=2000']);
  t.same(wechat.couponIds, ['CP2']);
  t.equal(wechat.payableAmount, 28000);
});

t.test('worked example: at night the time-window discount joins a stackable coupon', async (t) => {
  const { api } = await startHarness(t, { clock: new ManualClock(at('23:30')) });
  const res = await api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  const wechat = comboFor(res.body.quote, 'wechat');
  // 40 L: night 0.30/L = 12 yuan, silver-and-gold 0.20/L = 8 yuan, CP1 10 yuan.
  t.same(summary(wechat), ['P1=1200', 'P3=800', 'CP1=1000']);
  t.equal(wechat.payableAmount, 27000);
});

t.test('worked example: a stored-value payment discount changes which method is best', async (t) => {
  const { api } = await startHarness(t, { clock: new ManualClock(at('12:00')) });
  const res = await api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat', 'stored_value'] });
  const quote = res.body.quote;
  t.same(summary(comboFor(quote, 'wechat')), ['CP2=2000']);
  t.same(summary(comboFor(quote, 'stored_value')), ['P3=800', 'P4=600', 'CP1=1000']);
  t.equal(quote.bestComboId, comboFor(quote, 'stored_value').comboId);
});

t.test('worked example: points are capped by the ratio, not the balance', async (t) => {
  const { api } = await startHarness(t, { clock: new ManualClock(at('12:00')) });
  const res = await api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'], usePoints: true });
  const wechat = comboFor(res.body.quote, 'wechat');
  // After CP2 280 yuan are left; 10% of that is 28 yuan = 2800 points of the 5000 held.
  t.same(summary(wechat), ['CP2=2000', 'points:2800=2800']);
  t.equal(wechat.points, 2800);
  t.equal(wechat.payableAmount, 25200);
});

t.test('goods, fuel and a top-up in one quote: drinks discount, top-up bonus, top-up untouched', async (t) => {
  const { api } = await startHarness(t, { clock: new ManualClock(at('12:00')) });
  const res = await api<TransactionView>('POST', '/v1/transactions', {
    ...FUEL_SALE,
    userId: 'U4',
    items: [
      { type: 'fuel', nozzleNo: 1, amount: 30000 },
      { type: 'goods', sku: 'SKU-COLA', quantity: 6 },
      { type: 'stored_value', cardNo: 'C4', amount: 50000 },
    ],
    paymentMethods: ['wechat'],
  });
  t.equal(res.status, 201);
  const quote = res.body.quote;
  t.same(quote.lines.map((l) => [l.type, l.amount]), [['fuel', 30000], ['goods', 2100], ['stored_value', 50000]]);
  const wechat = comboFor(quote, 'wechat');
  t.same(summary(wechat), ['P8=200'], '21 yuan of drinks hold one 20-yuan step');
  t.equal(wechat.lineNets[3], 50000, 'the top-up is outside every discount');
  t.same(wechat.topUpBonuses, [{ promotionId: 'P6', lineNo: 3, bonusFen: 5000 }]);
  t.equal(wechat.payableAmount, 30000 + 1900 + 50000);
});

t.test('a failing promotion engine degrades the quote; a failing user system fails it with 503', async (t) => {
  const { api, tc } = await startHarness(t, { clock: new ManualClock(at('12:00')) });
  tc.sims!.faults.promotion.configure({ '*': { outage: true } });
  const degraded = await api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  t.equal(degraded.status, 201);
  t.same(degraded.body.quote.degraded, ['promotion']);
  t.same(summary(comboFor(degraded.body.quote, 'wechat')), ['CP2=2000'], 'coupons still apply');

  tc.sims!.faults.user.configure({ '*': { outage: true } });
  const failed = await api<ErrorBody>('POST', '/v1/transactions', { ...FUEL_SALE, userId: 'U2', paymentMethods: ['wechat'] });
  t.equal(failed.status, 503);
  t.equal(failed.body.error.code, 'CORE_SYSTEM_UNAVAILABLE');
  t.notMatch(failed.body.error.message, /stack|at .*\.ts/, 'no internals in a 5xx');
});

t.test('a failing coupon system while the user holds coupons gives a quote without coupons, marked', async (t) => {
  const { api, tc } = await startHarness(t, { clock: new ManualClock(at('12:00')) });
  tc.sims!.faults.coupon.configure({ listCoupons: { outage: true } });
  const res = await api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  t.equal(res.status, 201);
  t.same(res.body.quote.degraded, ['coupon']);
  const wechat = comboFor(res.body.quote, 'wechat');
  t.same(wechat.couponIds, []);
  t.same(summary(wechat), ['P2=900'], 'the promotions alone');
});

t.test('an order placed from a kept quote gets the quoted price after the time window ended', async (t) => {
  const clock = new ManualClock(at('05:58'));
  const { api } = await startHarness(t, { clock });
  const started = await api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  const quoted = comboFor(started.body.quote, 'wechat');
  t.ok(quoted.discounts.some((d) => d.kind === 'promotion' && d.id === 'P1'), 'quoted at night');
  clock.set(at('06:03'));
  const fresh = await api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  t.notOk(comboFor(fresh.body.quote, 'wechat').discounts.some((d) => d.kind === 'promotion' && d.id === 'P1'), 'a new quote no longer has it');
  const ordered = await api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: quoted.comboId });
  t.equal(ordered.status, 201);
  t.equal(ordered.body.payableAmount, quoted.payableAmount, 'the order keeps the quoted amount');
  t.equal(ordered.body.discountAmount, quoted.discountAmount);
});

t.test('a re-quote supersedes the previous quote', async (t) => {
  const { api, tc } = await startHarness(t, { clock: new ManualClock(at('12:00')) });
  const started = await api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  const first = started.body.quote;
  const requoted = await api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/quotes`, {
    items: [{ type: 'fuel', nozzleNo: 4, amount: 20000 }],
    paymentMethods: ['stored_value'],
  });
  t.equal(requoted.status, 201);
  t.not(requoted.body.quote.quoteId, first.quoteId);
  t.match(requoted.body.quote.lines[0], { grade: '95', amount: 20000 });
  const stale = await api<ErrorBody>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: first.quoteId, comboId: 'c-wechat' });
  t.equal(stale.status, 422);
  t.equal(stale.body.error.code, 'QUOTE_SUPERSEDED');
  const ordered = await api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, {
    quoteId: requoted.body.quote.quoteId,
    comboId: requoted.body.quote.bestComboId,
  });
  t.equal(ordered.status, 201);
  const late = await api<ErrorBody>('POST', `/v1/transactions/${started.body.txnNo}/quotes`, { items: [{ type: 'fuel', nozzleNo: 1, amount: 100 }] });
  t.equal(late.status, 409, 'an ordered transaction keeps its quote');
  t.equal(late.body.error.code, 'INVALID_STATE');
  t.equal(tc.sims!.store.effects({ system: 'order', verb: 'createOrder' }).length, 1, 'quoting never called the order system');
});

t.test('bad quote input gets a 4xx with the right code and stores nothing', async (t) => {
  const { api, tc } = await startHarness(t);
  const cases: [string, unknown, number, string][] = [
    ['empty items', { ...FUEL_SALE, items: [] }, 400, 'INVALID_REQUEST'],
    ['unknown SKU', { ...FUEL_SALE, items: [{ type: 'goods', sku: 'SKU-CAVIAR', quantity: 1 }] }, 422, 'UNKNOWN_SKU'],
    ['quantity 0', { ...FUEL_SALE, items: [{ type: 'goods', sku: 'SKU-WATER', quantity: 0 }] }, 400, 'INVALID_REQUEST'],
    ['more than in stock', { ...FUEL_SALE, items: [{ type: 'goods', sku: 'SKU-OIL', quantity: 2 }] }, 422, 'OUT_OF_STOCK'],
    ['unknown payment method', { ...FUEL_SALE, paymentMethods: ['cheque'] }, 400, 'INVALID_REQUEST'],
    ['top-up paid by stored value', { ...FUEL_SALE, items: [{ type: 'stored_value', cardNo: 'C1', amount: 10000 }], paymentMethods: ['stored_value'] }, 400, 'INVALID_REQUEST'],
    ['top-up of an unknown card', { ...FUEL_SALE, items: [{ type: 'stored_value', cardNo: 'C404', amount: 10000 }] }, 422, 'UNKNOWN_CARD'],
  ];
  for (const [name, body, status, code] of cases) {
    const res = await api<ErrorBody>('POST', '/v1/transactions', body);
    t.equal(res.status, status, `${name}: status`);
    t.equal(res.body.error?.code, code, `${name}: code`);
  }
  const a = await api<TransactionView>('POST', '/v1/transactions', FUEL_SALE);
  const b = await api<TransactionView>('POST', '/v1/transactions', FUEL_SALE);
  // A quoted-only transaction is a quote record (issue 21): its record is what views read.
  const before = await tc.reads.record(a.body.txnNo);
  const foreign = await api<ErrorBody>('POST', `/v1/transactions/${a.body.txnNo}/order`, { quoteId: b.body.quote.quoteId, comboId: 'c-any' });
  t.equal(foreign.status, 404, 'a quote of another transaction');
  t.equal(foreign.body.error.code, 'NOT_FOUND');
  const after = await tc.reads.record(a.body.txnNo);
  t.same(after?.stateValue, before?.stateValue);
  t.same((after?.snapshot as { context: { order: unknown } }).context.order, null);
});

t.test('service tiers come from configuration: a promotion engine configured core fails the quote', async (t) => {
  const { api, tc } = await startHarness(t, { clock: new ManualClock(at('12:00')), config: { tiers: { promotion: 'core' } } });
  tc.sims!.faults.promotion.configure({ '*': { outage: true } });
  const res = await api<ErrorBody>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  t.equal(res.status, 503);
  t.equal(res.body.error.code, 'CORE_SYSTEM_UNAVAILABLE');
});
