import t from 'tap';
import { priceQuote } from '../../domain/pricing/promotions.ts';
import type { PricingInput, QuoteLine } from '../../domain/pricing/types.ts';
import type { Promotion } from '../../systems/promotion/port.ts';

const line = (lineNo: number, amount: number, volumeMl: number, grade = '92'): QuoteLine => ({
  lineNo,
  type: 'fuel',
  nozzleNo: lineNo,
  grade,
  unitPrice: 750,
  volumeMl,
  amount,
});

const promo = (p: Partial<Promotion> & Pick<Promotion, 'id' | 'benefit'>): Promotion => ({
  name: p.id,
  priority: 10,
  scope: { kind: 'fuel' },
  conditions: {},
  stackableWithCoupons: true,
  ...p,
});

// 2026-11-25 is a Wednesday; 23:30 in Shanghai is 15:30 UTC.
const NIGHT = Date.parse('2026-11-25T15:30:00Z');
const NOON = Date.parse('2026-11-25T04:00:00Z');

function input(promotions: Promotion[], over: Partial<PricingInput> = {}): PricingInput {
  return { lines: [line(1, 30000, 40000)], promotions, memberLevel: 'gold', paymentMethods: [], atMs: NOON, timeZone: 'Asia/Shanghai', ...over };
}

t.test('a night per-litre promotion applies inside its window only, in station local time', async (t) => {
  const night = promo({ id: 'NIGHT', conditions: { timeWindows: [{ start: '22:00', end: '06:00' }] }, benefit: { type: 'perLiter', valueFen: 30 } });
  t.equal(priceQuote(input([night], { atMs: NIGHT })).combos[0]?.discountAmount, 1200, '40 L × 0.30 yuan');
  t.equal(priceQuote(input([night], { atMs: NOON })).combos[0]?.discountAmount, 0);
});

t.test('member level, weekday and minimum amount conditions are honoured', async (t) => {
  const gold = promo({ id: 'GOLD', conditions: { memberLevels: ['gold'] }, benefit: { type: 'percent', bp: 300, maxDiscountFen: 800 } });
  const weekend = promo({ id: 'WKND', conditions: { weekdays: [6, 7] }, benefit: { type: 'amountOff', valueFen: 500 } });
  const big = promo({ id: 'BIG', conditions: { minAmountFen: 50000 }, benefit: { type: 'amountOff', valueFen: 2000 } });
  const quote = priceQuote(input([gold, weekend, big]));
  t.same(quote.combos[0]?.discounts.map((d) => [d.id, d.amount]), [['GOLD', 800]], '3% capped at 8 yuan; not a weekend; below the minimum');
  t.equal(priceQuote(input([gold], { memberLevel: 'normal' })).combos[0]?.discountAmount, 0);
});

t.test('a payment-method promotion changes which method is best', async (t) => {
  const sv = promo({ id: 'SV', conditions: { paymentMethods: ['stored_value'] }, benefit: { type: 'perLiter', valueFen: 15 } });
  const quote = priceQuote(input([sv], { paymentMethods: ['wechat', 'stored_value'] }));
  t.same(quote.combos.map((c) => [c.comboId, c.payableAmount]), [['c-wechat', 30000], ['c-stored_value', 29400]]);
  t.equal(quote.bestComboId, 'c-stored_value');
  t.equal(priceQuote(input([sv])).combos[0]?.discountAmount, 0, 'with no candidate methods a method-bound promotion is not eligible');
});

t.test('of one exclusive group the promotion giving most applies, in priority order on current nets', async (t) => {
  const a = promo({ id: 'A', exclusiveGroup: 'g', benefit: { type: 'amountOff', valueFen: 500 } });
  const b = promo({ id: 'B', exclusiveGroup: 'g', benefit: { type: 'percent', bp: 500 } });
  const first = promo({ id: 'FIRST', priority: 1, benefit: { type: 'amountOff', valueFen: 10000 } });
  const quote = priceQuote(input([a, b, first]));
  // FIRST takes 100 yuan, then 5% of the remaining 200 yuan = 10 yuan beats 5 yuan.
  t.same(quote.combos[0]?.discounts.map((d) => [d.id, d.amount]), [['FIRST', 10000], ['B', 1000]]);
  t.equal(quote.combos[0]?.payableAmount, 19000);
});

t.test('a discount is spread over its lines by largest remainder and never exceeds them', async (t) => {
  const off = promo({ id: 'OFF', benefit: { type: 'thresholdOff', thresholdFen: 10000, valueFen: 1000, repeat: true } });
  const lines = [line(1, 10001, 13335), line(2, 20002, 26669, '95'), line(3, 3, 4)];
  const quote = priceQuote(input([off], { lines }));
  const combo = quote.combos[0]!;
  t.equal(combo.discountAmount, 3000, '300.06 yuan holds 3 thresholds');
  const shares = combo.discounts[0]!.byLine;
  t.equal(Object.values(shares).reduce((a, v) => a + v, 0), 3000);
  t.same(shares, { 1: 1000, 2: 2000 }, 'line 3 keeps its 3 fen: its share rounds to zero');
  t.equal(Object.values(combo.lineNets).reduce((a, v) => a + v, 0), combo.payableAmount);
  const huge = promo({ id: 'HUGE', benefit: { type: 'amountOff', valueFen: 10_000_000 } });
  t.equal(priceQuote(input([huge])).combos[0]?.payableAmount, 0, 'payable is never negative');
});
