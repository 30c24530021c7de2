import t from 'tap';
import { optimize } from '../../domain/pricing/optimizer.ts';
import type { Combo, FuelLine, GoodsLine, PricingInput, PricingResult, TopUpLine } from '../../domain/pricing/types.ts';
import type { Coupon } from '../../systems/coupon/port.ts';
import type { Promotion } from '../../systems/promotion/port.ts';

// 2026-11-25 is a Wednesday; Shanghai is UTC+8.
const NIGHT = Date.parse('2026-11-25T15:30:00Z'); // 23:30 local
const NOON = Date.parse('2026-11-25T04:00:00Z'); // 12:00 local

const fuel = (lineNo: number, amount: number, volumeMl: number, grade = '92'): FuelLine => ({ lineNo, type: 'fuel', nozzleNo: lineNo, grade, unitPrice: 750, volumeMl, amount });
const goods = (lineNo: number, sku: string, category: string, unitPrice: number, quantity: number): GoodsLine => ({
  lineNo,
  type: 'goods',
  sku,
  name: sku,
  category,
  unitPrice,
  quantity,
  amount: unitPrice * quantity,
});
const topUp = (lineNo: number, amount: number): TopUpLine => ({ lineNo, type: 'stored_value', cardNo: 'C1', amount });

const promo = (p: Partial<Promotion> & Pick<Promotion, 'id' | 'benefit'>): Promotion => ({
  name: p.id,
  priority: 10,
  scope: { kind: 'fuel' },
  conditions: {},
  stackableWithCoupons: true,
  ...p,
});

const coupon = (c: Partial<Coupon> & Pick<Coupon, 'couponId' | 'benefit'>): Coupon => ({
  userId: 'U1',
  name: c.couponId,
  scope: { kind: 'all' },
  validFrom: '2026-11-01T00:00:00Z',
  validTo: '2026-12-31T00:00:00Z',
  stackableWithPromotions: true,
  status: 'available',
  ...c,
});

function input(over: Partial<PricingInput> = {}): PricingInput {
  return {
    lines: [fuel(1, 30000, 40000)],
    promotions: [],
    coupons: [],
    maxCouponsPerOrder: 1,
    points: null,
    memberLevel: 'gold',
    paymentMethods: [],
    atMs: NOON,
    timeZone: 'Asia/Shanghai',
    ...over,
  };
}

/** The one combo of a quote with at most one candidate method. */
function only(result: PricingResult): Combo {
  if (result.combos.length !== 1 || !result.combos[0]) throw new Error(`expected one combo, got ${result.combos.length}`);
  return result.combos[0];
}

/** `[id, fen]` per discount (`['points', points, fen]` for points), in application order. */
const applied = (combo: Combo) => combo.discounts.map((d) => (d.kind === 'points' ? ['points', d.points, d.amount] : [d.id, d.amount]));

t.test('a night per-litre promotion applies inside its window only, in station local time', async (t) => {
  const night = promo({ id: 'NIGHT', conditions: { timeWindows: [{ start: '22:00', end: '06:00' }] }, benefit: { type: 'perLiter', valueFen: 30 } });
  t.same(only(optimize(input({ promotions: [night], atMs: NIGHT }))), {
    comboId: 'c-any',
    paymentMethod: null,
    discounts: [{ kind: 'promotion', id: 'NIGHT', name: 'NIGHT', amount: 1200, byLine: { 1: 1200 } }],
    couponIds: [],
    points: 0,
    discountAmount: 1200,
    payableAmount: 28800,
    lineNets: { 1: 28800 },
    topUpBonuses: [],
  }, '40 L × 0.30 yuan');
  t.equal(only(optimize(input({ promotions: [night], atMs: NOON }))).discountAmount, 0);
  t.equal(only(optimize(input({ promotions: [night], atMs: Date.parse('2026-11-25T21:59:00Z') }))).discountAmount, 1200, '05:59 local is inside');
  t.equal(only(optimize(input({ promotions: [night], atMs: Date.parse('2026-11-25T22:00:00Z') }))).discountAmount, 0, 'the window ends at 06:00, exclusive');
});

t.test('member level, weekday and minimum amount conditions are honoured', async (t) => {
  const gold = promo({ id: 'GOLD', conditions: { memberLevels: ['gold'] }, benefit: { type: 'percent', bp: 300, maxDiscountFen: 800 } });
  const weekend = promo({ id: 'WKND', conditions: { weekdays: [6, 7] }, benefit: { type: 'amountOff', valueFen: 500 } });
  const big = promo({ id: 'BIG', conditions: { minAmountFen: 50000 }, benefit: { type: 'amountOff', valueFen: 2000 } });
  t.same(applied(only(optimize(input({ promotions: [gold, weekend, big] })))), [['GOLD', 800]], '3% capped at 8 yuan; not a weekend; below the minimum');
  t.equal(only(optimize(input({ promotions: [gold], memberLevel: 'normal' }))).discountAmount, 0);
  const later = promo({ id: 'LATER', priority: 20, conditions: { minAmountFen: 29500 }, benefit: { type: 'amountOff', valueFen: 100 } });
  t.same(applied(only(optimize(input({ promotions: [gold, later] })))), [['GOLD', 800]], 'the minimum is judged on the nets GOLD left: 292 yuan');
});

t.test('a coupon not stackable with promotions beats the promotions when it gives more', async (t) => {
  const perLitre = promo({ id: 'P1', benefit: { type: 'perLiter', valueFen: 30 } });
  const off = promo({ id: 'P2', benefit: { type: 'amountOff', valueFen: 500 } });
  const small = coupon({ couponId: 'SMALL', benefit: { type: 'cash', valueFen: 200 } });
  const alone = (valueFen: number) => coupon({ couponId: 'ALONE', benefit: { type: 'cash', valueFen }, stackableWithPromotions: false });
  // Promotions alone 17 yuan; with SMALL 19 yuan; ALONE drops both promotions.
  const winner = only(optimize(input({ promotions: [perLitre, off], coupons: [small, alone(2000)] })));
  t.same(applied(winner), [['ALONE', 2000]]);
  t.same(winner.couponIds, ['ALONE']);
  t.same(winner.discounts[0]?.byLine, { 1: 2000 });
  t.equal(winner.payableAmount, 28000);
  const loser = only(optimize(input({ promotions: [perLitre, off], coupons: [small, alone(1800)] })));
  t.same(applied(loser), [['P1', 1200], ['P2', 500], ['SMALL', 200]], 'at 18 yuan it loses to the promotions with SMALL');
});

t.test('points are capped by the ratio of what promotions and coupons left, in whole steps worth whole fen', async (t) => {
  const perLitre = promo({ id: 'P1', benefit: { type: 'perLiter', valueFen: 30 } });
  const rule = { pointsPerYuan: 100, step: 100, maxRatioBp: 1000 };
  // 300 - 12 = 288 yuan left; 10% of it is 28.80 yuan; whole steps of 100 points (1 yuan) → 2800 points.
  const capped = only(optimize(input({ promotions: [perLitre], points: { balance: 100000, rule } })));
  t.same(applied(capped), [['P1', 1200], ['points', 2800, 2800]]);
  t.same(capped.discounts[1]?.byLine, { 1: 2800 });
  t.equal(capped.points, 2800);
  t.equal(capped.payableAmount, 26000);
  t.same(applied(only(optimize(input({ promotions: [perLitre], points: { balance: 1234, rule } })))), [['P1', 1200], ['points', 1200, 1200]], 'the balance limits too');
  // At 300 points per yuan, 10 points are 3.33 fen: only multiples of 30 points (10 fen) are usable.
  const odd = { pointsPerYuan: 300, step: 10, maxRatioBp: 1000 };
  t.same(applied(only(optimize(input({ promotions: [perLitre], points: { balance: 100000, rule: odd } })))), [['P1', 1200], ['points', 8640, 2880]]);
  t.same(applied(only(optimize(input({ promotions: [perLitre], points: { balance: 8635, rule: odd } })))), [['P1', 1200], ['points', 8610, 2870]]);
  t.equal(only(optimize(input({ promotions: [perLitre], points: null }))).points, 0, 'no points without the opt-in');
});

t.test('a payment-method promotion changes which method is best', async (t) => {
  const sv = promo({ id: 'SV', conditions: { paymentMethods: ['stored_value'] }, benefit: { type: 'perLiter', valueFen: 15 } });
  const quote = optimize(input({ promotions: [sv], paymentMethods: ['wechat', 'stored_value'] }));
  t.same(quote.combos.map((c) => [c.comboId, c.paymentMethod, c.payableAmount]), [['c-wechat', 'wechat', 30000], ['c-stored_value', 'stored_value', 29400]]);
  t.equal(quote.bestComboId, 'c-stored_value');
  t.equal(only(optimize(input({ promotions: [sv] }))).discountAmount, 0, 'with no candidate methods a method-bound promotion is not eligible');
  const tie = optimize(input({ paymentMethods: ['alipay', 'wechat'] }));
  t.equal(tie.bestComboId, 'c-alipay', 'equal payables go to the earlier candidate');
});

t.test('of one exclusive group the promotion giving most applies, in priority order on current nets', async (t) => {
  const a = promo({ id: 'A', exclusiveGroup: 'g', benefit: { type: 'amountOff', valueFen: 500 } });
  const b = promo({ id: 'B', exclusiveGroup: 'g', benefit: { type: 'percent', bp: 500 } });
  const first = promo({ id: 'FIRST', priority: 1, benefit: { type: 'amountOff', valueFen: 10000 } });
  const combo = only(optimize(input({ promotions: [a, b, first] })));
  // FIRST takes 100 yuan, then 5% of the remaining 200 yuan = 10 yuan beats 5 yuan.
  t.same(applied(combo), [['FIRST', 10000], ['B', 1000]]);
  t.equal(combo.payableAmount, 19000);
  const z = promo({ id: 'Z', exclusiveGroup: 'g', benefit: { type: 'amountOff', valueFen: 500 } });
  t.same(applied(only(optimize(input({ promotions: [z, a] })))), [['A', 500]], 'equal members: the lower id');
});

t.test('a coupon can make the weaker member of an exclusive group the better choice', async (t) => {
  const strong = promo({ id: 'STRONG', exclusiveGroup: 'g', stackableWithCoupons: false, benefit: { type: 'amountOff', valueFen: 1000 } });
  const weak = promo({ id: 'WEAK', exclusiveGroup: 'g', benefit: { type: 'amountOff', valueFen: 600 } });
  const cash = coupon({ couponId: 'C', benefit: { type: 'cash', valueFen: 500 } });
  // STRONG alone 10 yuan; with the coupon STRONG leaves the group and WEAK + coupon give 11 yuan.
  t.same(applied(only(optimize(input({ promotions: [strong, weak], coupons: [cash] })))), [['WEAK', 600], ['C', 500]]);
});

t.test('goods spend-X-save-Y is spread over its two goods lines by largest remainder', async (t) => {
  const lines = [fuel(1, 30000, 40000), goods(2, 'W1', 'drinks', 300, 4), goods(3, 'K1', 'snacks', 850, 2)];
  const scope = { kind: 'goods' as const, categories: ['drinks', 'snacks'] };
  const once = promo({ id: 'SNACK', scope, benefit: { type: 'thresholdOff', thresholdFen: 2000, valueFen: 500, repeat: false } });
  const combo = only(optimize(input({ lines, promotions: [once] })));
  // 29 yuan of goods: 500 × 12/29 = 206.90 and 500 × 17/29 = 293.10; the leftover fen goes to line 2.
  t.same(combo.discounts, [{ kind: 'promotion', id: 'SNACK', name: 'SNACK', amount: 500, byLine: { 2: 207, 3: 293 } }]);
  t.same(combo.lineNets, { 1: 30000, 2: 993, 3: 1407 });
  t.equal(combo.payableAmount, 32400);
  const repeated = promo({ id: 'SNACK', scope, benefit: { type: 'thresholdOff', thresholdFen: 1000, valueFen: 300, repeat: true } });
  // Two thresholds: 600 × 12/29 = 248.28 and 600 × 17/29 = 351.72; the leftover fen goes to line 3.
  t.same(only(optimize(input({ lines, promotions: [repeated] }))).discounts[0]?.byLine, { 2: 248, 3: 352 });
  const bySku = promo({ id: 'K1', scope: { kind: 'goods', skus: ['K1'] }, benefit: { type: 'amountOff', valueFen: 100 } });
  t.same(only(optimize(input({ lines, promotions: [bySku] }))).discounts[0]?.byLine, { 3: 100 }, 'a SKU scope takes only its line');
});

t.test('a top-up earns its bonus and stays outside every discount', async (t) => {
  const lines = [fuel(1, 30000, 40000), topUp(2, 50000)];
  const tenPercent = promo({ id: 'ALL10', scope: { kind: 'all' }, benefit: { type: 'percent', bp: 1000 } });
  const bonus = promo({ id: 'TOPUP', stackableWithCoupons: false, benefit: { type: 'topUpBonus', thresholdFen: 50000, bonusFen: 5000, repeat: false } });
  const cash = coupon({ couponId: 'C', benefit: { type: 'cash', valueFen: 1000 } });
  const bigSpend = coupon({ couponId: 'BIG', benefit: { type: 'cash', valueFen: 3000, thresholdFen: 40000 } });
  const combo = only(
    optimize(input({ lines, promotions: [tenPercent, bonus], coupons: [cash, bigSpend], points: { balance: 500, rule: { pointsPerYuan: 100, step: 100, maxRatioBp: 5000 } }, paymentMethods: ['wechat'] })),
  );
  // 10% of the fuel only (30 yuan), the coupon 10 yuan, 500 points; BIG's 400 yuan threshold sees 270 yuan, not the top-up.
  t.same(combo, {
    comboId: 'c-wechat',
    paymentMethod: 'wechat',
    discounts: [
      { kind: 'promotion', id: 'ALL10', name: 'ALL10', amount: 3000, byLine: { 1: 3000 } },
      { kind: 'coupon', id: 'C', name: 'C', amount: 1000, byLine: { 1: 1000 } },
      { kind: 'points', points: 500, amount: 500, byLine: { 1: 500 } },
    ],
    couponIds: ['C'],
    points: 500,
    discountAmount: 4500,
    payableAmount: 75500,
    lineNets: { 1: 25500, 2: 50000 },
    topUpBonuses: [{ promotionId: 'TOPUP', lineNo: 2, bonusFen: 5000 }],
  }, 'a coupon does not remove the top-up bonus even though TOPUP does not stack with coupons');
  const repeated = promo({ id: 'TOPUP', benefit: { type: 'topUpBonus', thresholdFen: 50000, bonusFen: 5000, repeat: true } });
  t.same(only(optimize(input({ lines: [topUp(1, 120000)], promotions: [repeated] }))).topUpBonuses, [{ promotionId: 'TOPUP', lineNo: 1, bonusFen: 10000 }], 'repeated per 500 yuan');
  t.same(only(optimize(input({ lines: [topUp(1, 49999)], promotions: [repeated] }))).topUpBonuses, [], 'below the threshold');
});

t.test('stored value is not a candidate method for a quote with a top-up line', async (t) => {
  const methods = ['stored_value', 'wechat', 'alipay'];
  const withTopUp = optimize(input({ lines: [fuel(1, 30000, 40000), topUp(2, 50000)], paymentMethods: methods }));
  t.same(withTopUp.combos.map((c) => c.comboId), ['c-wechat', 'c-alipay']);
  t.equal(withTopUp.bestComboId, 'c-wechat');
  t.same(optimize(input({ paymentMethods: methods })).combos.map((c) => c.comboId), ['c-stored_value', 'c-wechat', 'c-alipay'], 'without a top-up it is');
  const onlyStoredValue = optimize(input({ lines: [topUp(1, 50000)], paymentMethods: ['stored_value'] }));
  t.same(onlyStoredValue.combos.map((c) => c.comboId), ['c-any'], 'nothing left: priced as if no method were given');
});

t.test('coupons apply in ascending id on current nets, so a later coupon threshold sees the earlier coupons', async (t) => {
  const tenPercent = (couponId: string) => coupon({ couponId, benefit: { type: 'percent', bp: 1000 } });
  const spend = (couponId: string) => coupon({ couponId, benefit: { type: 'cash', valueFen: 2000, thresholdFen: 27500 } });
  // A (10%) first leaves 270 yuan, below B's 275: B would give nothing, so A alone (30 yuan) wins.
  t.same(applied(only(optimize(input({ coupons: [spend('B'), tenPercent('A')], maxCouponsPerOrder: 2 })))), [['A', 3000]]);
  // A (20 yuan off 300) first, then 10% of 280: 48 yuan together.
  t.same(applied(only(optimize(input({ coupons: [tenPercent('B'), spend('A')], maxCouponsPerOrder: 2 })))), [['A', 2000], ['B', 2800]]);
  t.same(applied(only(optimize(input({ coupons: [tenPercent('B'), spend('A')], maxCouponsPerOrder: 1 })))), [['B', 3000]], 'one coupon at most by default');
  t.same(applied(only(optimize(input({ coupons: [tenPercent('B')], maxCouponsPerOrder: 0 })))), [], 'none when the limit is 0');
});

t.test('coupons that are locked, used or outside their validity window are not candidates', async (t) => {
  const cash = (couponId: string, over: Partial<Coupon>) => coupon({ couponId, benefit: { type: 'cash', valueFen: 1000 }, ...over });
  const coupons = [
    cash('LOCKED', { status: 'locked' }),
    cash('USED', { status: 'used' }),
    cash('EXPIRED', { validTo: '2026-11-25T03:59:59Z' }),
    cash('FUTURE', { validFrom: '2026-11-25T04:00:01Z' }),
  ];
  t.equal(only(optimize(input({ coupons }))).discountAmount, 0);
  const edge = cash('EDGE', { validFrom: '2026-11-25T04:00:00Z', validTo: '2026-11-25T04:00:00Z' });
  t.same(only(optimize(input({ coupons: [...coupons, edge] }))).couponIds, ['EDGE'], 'validity bounds are inclusive');
});

t.test('equal discounts go to fewer points, then fewer coupons, then the coupon expiring first, then the lower id', async (t) => {
  const cash = (couponId: string, validTo = '2026-12-31T00:00:00Z') => coupon({ couponId, validTo, benefit: { type: 'cash', valueFen: 1000 } });
  // Points may take everything: 300 yuan of points alone, or 10 yuan of coupon and 290 of points.
  const everything = { balance: 1_000_000, rule: { pointsPerYuan: 100, step: 1, maxRatioBp: 10000 } };
  t.same(applied(only(optimize(input({ coupons: [cash('C')], points: everything })))), [['C', 1000], ['points', 29000, 29000]], 'fewer points');
  const promotion = promo({ id: 'P', stackableWithCoupons: false, benefit: { type: 'amountOff', valueFen: 1000 } });
  t.same(applied(only(optimize(input({ promotions: [promotion], coupons: [cash('C')] })))), [['P', 1000]], 'fewer coupons');
  t.same(only(optimize(input({ coupons: [cash('A', '2026-12-31T00:00:00Z'), cash('B', '2026-11-30T00:00:00Z')] }))).couponIds, ['B'], 'expiring first');
  t.same(only(optimize(input({ coupons: [cash('B'), cash('A')] }))).couponIds, ['A'], 'lower id');
});

t.test('a coupon that gives nothing after the coupons before it is never chosen, even to shed promotions', async (t) => {
  const penny = promo({ id: 'PENNY', benefit: { type: 'amountOff', valueFen: 1 } });
  const a = coupon({ couponId: 'A', benefit: { type: 'cash', valueFen: 1000 } });
  const b = coupon({ couponId: 'B', stackableWithPromotions: false, benefit: { type: 'cash', valueFen: 50, thresholdFen: 9500 } });
  // Points come in 900-fen units, at most 10% of what is left. With PENNY 89.99 yuan leave no unit;
  // A then B (worth nothing after A, below its threshold) would drop PENNY and free a unit: 19 yuan.
  // The rule keeps A with PENNY instead: 10.01 yuan (B alone: 0.50 + 9 = 9.50; nothing: 0.01 + 9 = 9.01).
  const combo = only(
    optimize(input({ lines: [fuel(1, 10000, 13333)], promotions: [penny], coupons: [a, b], maxCouponsPerOrder: 2, points: { balance: 10000, rule: { pointsPerYuan: 100, step: 900, maxRatioBp: 1000 } } })),
  );
  t.same(applied(combo), [['PENNY', 1], ['A', 1000]]);
});

t.test('a discount is spread over its lines by largest remainder and never exceeds them', async (t) => {
  const off = promo({ id: 'OFF', benefit: { type: 'thresholdOff', thresholdFen: 10000, valueFen: 1000, repeat: true } });
  const lines = [fuel(1, 10001, 13335), fuel(2, 20002, 26669, '95'), fuel(3, 3, 4)];
  const combo = only(optimize(input({ promotions: [off], lines })));
  t.equal(combo.discountAmount, 3000, '300.06 yuan holds 3 thresholds');
  t.same(combo.discounts[0]?.byLine, { 1: 1000, 2: 2000 }, 'line 3 keeps its 3 fen: its share rounds to zero');
  t.equal(Object.values(combo.lineNets).reduce((a, v) => a + v, 0), combo.payableAmount);
  const huge = promo({ id: 'HUGE', benefit: { type: 'amountOff', valueFen: 10_000_000 } });
  t.equal(only(optimize(input({ promotions: [huge] }))).payableAmount, 0, 'payable is never negative');
  const perLitre = promo({ id: 'PL', benefit: { type: 'perLiter', valueFen: 1000 } });
  t.same(only(optimize(input({ promotions: [perLitre], lines: [fuel(1, 500, 40000)] }))).lineNets, { 1: 0 }, 'per litre is capped by the line');
});

t.test('issue 15: a coupon whose scope is already at 0 is never part of a combination, even where shedding a promotion with it frees points', async (t) => {
  const penny = promo({ id: 'PENNY', benefit: { type: 'amountOff', valueFen: 1 } });
  // A shop coupon on a fuel-only sale gives 0 fen, and is not stackable: using it would drop PENNY,
  // and 100 yuan left instead of 99.99 would free one 10-yuan unit of points (the cap is 10%).
  const shopOnly = coupon({ couponId: 'SHOP', scope: { kind: 'goods' }, stackableWithPromotions: false, benefit: { type: 'cash', valueFen: 500 } });
  const combo = only(
    optimize(input({ lines: [fuel(1, 10000, 13333)], promotions: [penny], coupons: [shopOnly], points: { balance: 100000, rule: { pointsPerYuan: 100, step: 1000, maxRatioBp: 1000 } } })),
  );
  t.same(applied(combo), [['PENNY', 1]]);
  t.same(combo.couponIds, [], 'the customer keeps the coupon');
  t.equal(combo.payableAmount, 9999);
});

t.test('issue 15: on equal payables bestComboId goes to the method using fewer points, even when listed later', async (t) => {
  // Wechat's 10 yuan off leaves 90 yuan, whose 10% cap is below one 10-yuan points unit; alipay
  // pays the same 90 yuan by spending 1000 points.
  const wechatOff = promo({ id: 'W', conditions: { paymentMethods: ['wechat'] }, benefit: { type: 'amountOff', valueFen: 1000 } });
  const points = { balance: 100000, rule: { pointsPerYuan: 100, step: 1000, maxRatioBp: 1000 } };
  const quote = optimize(input({ lines: [fuel(1, 10000, 13333)], promotions: [wechatOff], points, paymentMethods: ['alipay', 'wechat'] }));
  t.same(quote.combos.map((c) => [c.comboId, c.points, c.payableAmount]), [['c-alipay', 1000, 9000], ['c-wechat', 0, 9000]]);
  t.equal(quote.bestComboId, 'c-wechat');
});

t.test('issue 15: on equal payables and points bestComboId goes to the method using fewer coupons', async (t) => {
  const wechatOff = promo({ id: 'W', conditions: { paymentMethods: ['wechat'] }, stackableWithCoupons: false, benefit: { type: 'amountOff', valueFen: 1000 } });
  const cash = coupon({ couponId: 'C', benefit: { type: 'cash', valueFen: 1000 } });
  const quote = optimize(input({ lines: [fuel(1, 10000, 13333)], promotions: [wechatOff], coupons: [cash], paymentMethods: ['alipay', 'wechat'] }));
  t.same(quote.combos.map((c) => [c.comboId, c.couponIds, c.payableAmount]), [['c-alipay', ['C'], 9000], ['c-wechat', [], 9000]]);
  t.equal(quote.bestComboId, 'c-wechat', 'the customer keeps the coupon');
});

t.test('issue 15: on equal payables, points and coupon counts bestComboId goes to the method using the coupon that expires first', async (t) => {
  // Wechat's fuel promotion takes the fuel below EARLY's threshold, so wechat uses LATE; alipay's
  // shop promotion leaves the fuel whole, and of two equal coupons it uses the one expiring first.
  const lines = [fuel(1, 10000, 13333), goods(2, 'SKU-W', 'drinks', 1000, 1)];
  const wechatFuel = promo({ id: 'WF', conditions: { paymentMethods: ['wechat'] }, benefit: { type: 'amountOff', valueFen: 500 } });
  const alipayShop = promo({ id: 'AS', scope: { kind: 'goods' }, conditions: { paymentMethods: ['alipay'] }, benefit: { type: 'amountOff', valueFen: 500 } });
  const early = coupon({ couponId: 'EARLY', scope: { kind: 'fuel' }, validTo: '2026-11-30T00:00:00Z', benefit: { type: 'cash', valueFen: 1000, thresholdFen: 10000 } });
  const late = coupon({ couponId: 'LATE', validTo: '2026-12-31T00:00:00Z', benefit: { type: 'cash', valueFen: 1000 } });
  const quote = optimize(input({ lines, promotions: [wechatFuel, alipayShop], coupons: [early, late], paymentMethods: ['wechat', 'alipay'] }));
  t.same(quote.combos.map((c) => [c.comboId, c.couponIds, c.payableAmount]), [['c-wechat', ['LATE'], 9500], ['c-alipay', ['EARLY'], 9500]]);
  t.equal(quote.bestComboId, 'c-alipay');
  const same = optimize(input({ lines, coupons: [late], paymentMethods: ['wechat', 'alipay'] }));
  t.equal(same.bestComboId, 'c-wechat', 'a full tie goes to the method listed first');
});
