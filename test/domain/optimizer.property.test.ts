import { deepStrictEqual } from 'node:assert/strict';
import fc from 'fast-check';
import t from 'tap';
import { optimize } from '../../domain/pricing/optimizer.ts';
import type { Combo, Discount, PricingInput, PricingResult, QuoteLine, TopUpBonus } from '../../domain/pricing/types.ts';
import type { Coupon, CouponBenefit } from '../../systems/coupon/port.ts';
import type { Benefit, Promotion, Scope } from '../../systems/promotion/port.ts';

/*
 * The optimizer against an exhaustive search written here from DOMAIN.md "Quote arithmetic,
 * exactly" and the decisions of issue 3, sharing no code with it: every coupon subset up to the
 * limit, every exclusive-group choice, each priced straightforwardly, the best picked by sorting
 * with the objective. Station time is Asia/Shanghai (UTC+8, no daylight saving), so local time is
 * plain arithmetic here.
 */

const NUM_RUNS = 2000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// Monday 2026-11-23 00:00 UTC; instances fall anywhere in the following week.
const WEEK_START = Date.parse('2026-11-23T00:00:00Z');
const METHODS = ['wechat', 'stored_value', 'alipay'];

// ---------------------------------------------------------------------------------------------
// The naive reference

function localClock(atMs: number): { minutes: number; weekday: number } {
  const local = atMs + 8 * HOUR;
  const day = Math.floor(local / DAY);
  // 1970-01-01 was a Thursday (ISO 4).
  return { minutes: Math.floor((local - day * DAY) / 60_000), weekday: ((day + 3) % 7) + 1 };
}

function clockMinutes(hhmm: string): number {
  const [h, m] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}

const restricts = (list: readonly unknown[] | undefined): list is unknown[] => list !== undefined && list.length > 0;

function promotionEligible(p: Promotion, input: PricingInput, method: string | null): boolean {
  if (p.validFrom !== undefined && input.atMs < Date.parse(p.validFrom)) return false;
  if (p.validTo !== undefined && input.atMs > Date.parse(p.validTo)) return false;
  const { minutes, weekday } = localClock(input.atMs);
  const c = p.conditions;
  if (restricts(c.timeWindows)) {
    const inside = c.timeWindows.some((w) => {
      const s = clockMinutes(w.start);
      const e = clockMinutes(w.end);
      return s <= e ? s <= minutes && minutes < e : minutes >= s || minutes < e;
    });
    if (!inside) return false;
  }
  if (restricts(c.weekdays) && !c.weekdays.includes(weekday)) return false;
  if (restricts(c.memberLevels) && !c.memberLevels.includes(input.memberLevel)) return false;
  if (restricts(c.paymentMethods) && (method === null || !c.paymentMethods.includes(method))) return false;
  return true;
}

function scopeHas(scope: Scope, line: QuoteLine): boolean {
  if (line.type === 'stored_value') return false;
  if (scope.kind === 'all') return true;
  if (scope.kind === 'fuel') return line.type === 'fuel' && (!restricts(scope.grades) || scope.grades.includes(line.grade));
  if (line.type !== 'goods') return false;
  if (!restricts(scope.categories) && !restricts(scope.skus)) return true;
  return (restricts(scope.categories) && scope.categories.includes(line.category)) || (restricts(scope.skus) && scope.skus.includes(line.sku));
}

/** Largest remainder in plain numbers (amounts here stay far below 2^53). */
function spread(amount: number, weights: { lineNo: number; net: number }[]): Record<number, number> {
  const sum = weights.reduce((a, w) => a + w.net, 0);
  const parts = weights.map((w) => ({ lineNo: w.lineNo, share: Math.floor((amount * w.net) / sum), rest: (amount * w.net) % sum }));
  let left = amount - parts.reduce((a, p) => a + p.share, 0);
  for (const p of [...parts].sort((a, b) => b.rest - a.rest || a.lineNo - b.lineNo)) {
    if (left === 0) break;
    p.share++;
    left--;
  }
  const out: Record<number, number> = {};
  for (const p of parts) if (p.share > 0) out[p.lineNo] = p.share;
  return out;
}

type Arithmetic =
  | { kind: 'perLiter'; fen: number }
  | { kind: 'percent'; bp: number; max?: number }
  | { kind: 'off'; fen: number }
  | { kind: 'threshold'; every: number; fen: number; repeat: boolean };

/** One step on the nets (mutated): its allocation by line number, empty when it gives nothing. */
function step(lines: QuoteLine[], nets: Map<number, number>, scope: Scope, minNet: number, how: Arithmetic): Record<number, number> {
  const scoped = lines.filter((l) => scopeHas(scope, l)).sort((a, b) => a.lineNo - b.lineNo);
  const scopeNet = scoped.reduce((a, l) => a + (nets.get(l.lineNo) ?? 0), 0);
  if (scopeNet < minNet) return {};
  let byLine: Record<number, number> = {};
  if (how.kind === 'perLiter') {
    for (const l of scoped) {
      if (l.type !== 'fuel') continue;
      const off = Math.min(Math.floor((l.volumeMl * how.fen) / 1000), nets.get(l.lineNo) ?? 0);
      if (off > 0) byLine[l.lineNo] = off;
    }
  } else {
    let amount: number;
    if (how.kind === 'percent') amount = Math.min(Math.floor((scopeNet * how.bp) / 10000), how.max ?? scopeNet);
    else if (how.kind === 'off') amount = Math.min(how.fen, scopeNet);
    else if (scopeNet < how.every) amount = 0;
    else amount = Math.min(how.repeat ? Math.floor(scopeNet / how.every) * how.fen : how.fen, scopeNet);
    const open = scoped.filter((l) => (nets.get(l.lineNo) ?? 0) > 0).map((l) => ({ lineNo: l.lineNo, net: nets.get(l.lineNo) ?? 0 }));
    if (amount > 0) byLine = spread(amount, open);
  }
  for (const [lineNo, off] of Object.entries(byLine)) nets.set(Number(lineNo), (nets.get(Number(lineNo)) ?? 0) - off);
  return byLine;
}

function promotionArithmetic(b: Benefit): Arithmetic {
  if (b.type === 'perLiter') return { kind: 'perLiter', fen: b.valueFen };
  if (b.type === 'percent') return { kind: 'percent', bp: b.bp, max: b.maxDiscountFen };
  if (b.type === 'amountOff') return { kind: 'off', fen: b.valueFen };
  if (b.type === 'thresholdOff') return { kind: 'threshold', every: b.thresholdFen, fen: b.valueFen, repeat: b.repeat };
  throw new Error('top-up bonuses are not discounts');
}

function couponArithmetic(b: CouponBenefit): Arithmetic {
  if (b.type === 'cash') return { kind: 'off', fen: b.valueFen };
  if (b.type === 'percent') return { kind: 'percent', bp: b.bp, max: b.maxDiscountFen };
  return { kind: 'perLiter', fen: b.valueFen };
}

const total = (byLine: Record<number, number>) => Object.values(byLine).reduce((a, v) => a + v, 0);
const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const byPriority = (a: Promotion, b: Promotion) => a.priority - b.priority || byId(a.id, b.id);

function listOrder<T>(a: T[], b: T[], cmp: (x: T, y: T) => number): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = cmp(a[i] as T, b[i] as T);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** Every way to keep one member per exclusive group, with the free promotions. */
function groupChoices(promotions: Promotion[]): { kept: Promotion[]; groupIds: string[] }[] {
  const groupNames = [...new Set(promotions.flatMap((p) => (p.exclusiveGroup === undefined ? [] : [p.exclusiveGroup])))];
  let choices: Promotion[][] = [[]];
  for (const g of groupNames) {
    const members = promotions.filter((p) => p.exclusiveGroup === g);
    choices = choices.flatMap((c) => members.map((m) => [...c, m]));
  }
  const free = promotions.filter((p) => p.exclusiveGroup === undefined);
  return choices.map((c) => ({ kept: [...free, ...c], groupIds: c.map((p) => p.id).sort(byId) }));
}

function subsets<T>(items: T[], max: number): T[][] {
  if (items.length === 0 || max === 0) return [[]];
  const [first, ...rest] = items as [T, ...T[]];
  return [...subsets(rest, max), ...subsets(rest, max - 1).map((s) => [first, ...s])];
}

interface Priced {
  total: number;
  points: number;
  couponIds: string[];
  expiries: number[];
  groupIds: string[];
  combo: Omit<Combo, 'comboId' | 'paymentMethod' | 'topUpBonuses'>;
}

function pricePoints(input: PricingInput, net: number): number {
  if (!input.points) return 0;
  const { balance, rule } = input.points;
  const cap = Math.floor((net * rule.maxRatioBp) / 10000);
  // The largest multiple of the step within the balance whose value stays within the cap…
  let p = Math.floor(Math.min(balance, Math.floor((cap * rule.pointsPerYuan) / 100)) / rule.step) * rule.step;
  // …and whose value is a whole number of fen.
  while (p > 0 && (p * 100) % rule.pointsPerYuan !== 0) p -= rule.step;
  return Math.max(0, p);
}

function priceCombination(input: PricingInput, promotions: Promotion[], coupons: Coupon[], groupIds: string[]): Priced | null {
  const nets = new Map<number, number>();
  for (const l of input.lines) nets.set(l.lineNo, l.amount);
  const discounts: Discount[] = [];
  for (const p of [...promotions].sort(byPriority)) {
    const byLine = step(input.lines, nets, p.scope, p.conditions.minAmountFen ?? 0, promotionArithmetic(p.benefit));
    if (total(byLine) > 0) discounts.push({ kind: 'promotion', id: p.id, name: p.name, amount: total(byLine), byLine });
  }
  const sortedCoupons = [...coupons].sort((a, b) => byId(a.couponId, b.couponId));
  for (const c of sortedCoupons) {
    const byLine = step(input.lines, nets, c.scope, c.benefit.thresholdFen ?? 0, couponArithmetic(c.benefit));
    if (total(byLine) === 0) return null; // a coupon giving nothing is never chosen
    discounts.push({ kind: 'coupon', id: c.couponId, name: c.name, amount: total(byLine), byLine });
  }
  const discountable = input.lines.filter((l) => l.type !== 'stored_value');
  const points = pricePoints(input, discountable.reduce((a, l) => a + (nets.get(l.lineNo) ?? 0), 0));
  if (points > 0 && input.points) {
    const fen = (points * 100) / input.points.rule.pointsPerYuan;
    const byLine = step(input.lines, nets, { kind: 'all' }, 0, { kind: 'off', fen });
    discounts.push({ kind: 'points', points, amount: fen, byLine });
  }
  const lineNets: Record<number, number> = Object.fromEntries(nets);
  const discountAmount = discounts.reduce((a, d) => a + d.amount, 0);
  return {
    total: discountAmount,
    points,
    couponIds: sortedCoupons.map((c) => c.couponId),
    expiries: coupons.map((c) => Date.parse(c.validTo)).sort((a, b) => a - b),
    groupIds,
    combo: { discounts, couponIds: sortedCoupons.map((c) => c.couponId), points, discountAmount, payableAmount: total(lineNets), lineNets },
  };
}

function naiveTopUpBonuses(input: PricingInput, eligible: Promotion[]): TopUpBonus[] {
  const bonusesOf = (kept: Promotion[]): TopUpBonus[] =>
    [...kept].sort(byPriority).flatMap((p) =>
      input.lines.flatMap((l): TopUpBonus[] => {
        if (l.type !== 'stored_value' || p.benefit.type !== 'topUpBonus') return [];
        const b = p.benefit;
        if (l.amount < (p.conditions.minAmountFen ?? 0) || l.amount < b.thresholdFen) return [];
        const bonusFen = b.repeat ? Math.floor(l.amount / b.thresholdFen) * b.bonusFen : b.bonusFen;
        return bonusFen > 0 ? [{ promotionId: p.id, lineNo: l.lineNo, bonusFen }] : [];
      }),
    );
  const sum = (bs: TopUpBonus[]) => bs.reduce((a, b) => a + b.bonusFen, 0);
  const ranked = groupChoices(eligible)
    .map((c) => ({ ...c, bonuses: bonusesOf(c.kept) }))
    .sort((a, b) => sum(b.bonuses) - sum(a.bonuses) || listOrder(a.groupIds, b.groupIds, byId));
  return ranked[0]?.bonuses ?? [];
}

function exhaustive(input: PricingInput): PricingResult {
  const hasTopUp = input.lines.some((l) => l.type === 'stored_value');
  const given = [...new Set(input.paymentMethods)].filter((m) => !(hasTopUp && m === 'stored_value'));
  const methods: (string | null)[] = given.length ? given : [null];
  const candidates = input.coupons.filter(
    (c) => c.status === 'available' && Date.parse(c.validFrom) <= input.atMs && input.atMs <= Date.parse(c.validTo),
  );
  const combos = methods.map((method): Combo => {
    const eligible = input.promotions.filter((p) => promotionEligible(p, input, method));
    const discountPromotions = eligible.filter((p) => p.benefit.type !== 'topUpBonus');
    const priced: Priced[] = [];
    for (const coupons of subsets(candidates, input.maxCouponsPerOrder)) {
      const remaining =
        coupons.length === 0
          ? discountPromotions
          : coupons.every((c) => c.stackableWithPromotions)
            ? discountPromotions.filter((p) => p.stackableWithCoupons)
            : [];
      for (const choice of groupChoices(remaining)) {
        const result = priceCombination(input, choice.kept, coupons, choice.groupIds);
        if (result) priced.push(result);
      }
    }
    priced.sort(
      (a, b) =>
        b.total - a.total ||
        a.points - b.points ||
        a.couponIds.length - b.couponIds.length ||
        listOrder(a.expiries, b.expiries, (x, y) => x - y) ||
        listOrder(a.couponIds, b.couponIds, byId) ||
        listOrder(a.groupIds, b.groupIds, byId),
    );
    const best = priced[0];
    if (!best) throw new Error('the empty combination always prices');
    const topUpBonuses = naiveTopUpBonuses(input, eligible.filter((p) => p.benefit.type === 'topUpBonus'));
    return { comboId: `c-${method ?? 'any'}`, paymentMethod: method, ...best.combo, topUpBonuses };
  });
  // Equal payables: fewer points, fewer coupons, the earliest-expiring coupons, the first method.
  const expiry = new Map(input.coupons.map((c) => [c.couponId, Date.parse(c.validTo)]));
  const expiries = (c: Combo) => c.couponIds.map((id) => expiry.get(id) ?? Infinity).sort((a, b) => a - b);
  const ranked = combos
    .map((c, i) => ({ c, i }))
    .sort(
      (x, y) =>
        x.c.payableAmount - y.c.payableAmount ||
        x.c.points - y.c.points ||
        x.c.couponIds.length - y.c.couponIds.length ||
        listOrder(expiries(x.c), expiries(y.c), (a, b) => a - b) ||
        x.i - y.i,
    );
  return { combos, bestComboId: (ranked[0] as { c: Combo }).c.comboId };
}

// ---------------------------------------------------------------------------------------------
// Random instances

/** Fen in [min, max], often a round figure: round figures make ties, which the tie-breaks must settle. */
const fen = (min: number, max: number): fc.Arbitrary<number> =>
  fc.oneof(
    { weight: 2, arbitrary: fc.integer({ min, max }) },
    { weight: 1, arbitrary: fc.constantFrom(...[100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 30_000].filter((v) => v >= min && v <= max)) },
  );

/** `arb` one time in `1 + never`, else absent: conditions that mostly hold keep benefits in play. */
const sometimes = <T>(arb: fc.Arbitrary<T>, never = 3): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: never, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

const scopeArb: fc.Arbitrary<Scope> = fc.oneof(
  fc.constant<Scope>({ kind: 'all' }),
  fc.record({ kind: fc.constant('fuel' as const), grades: sometimes(fc.subarray(['92', '95', '0']), 1) }),
  fc.record({ kind: fc.constant('goods' as const), categories: sometimes(fc.subarray(['drinks', 'snacks']), 1), skus: sometimes(fc.subarray(['S1', 'S2', 'S3']), 1) }),
);

const lineArb = fc.oneof(
  { weight: 4, arbitrary: fc.record({ type: fc.constant('fuel' as const), grade: fc.constantFrom('92', '95', '0'), volumeMl: fc.integer({ min: 0, max: 60_000 }), amount: fen(0, 40_000) }) },
  { weight: 4, arbitrary: fc.record({ type: fc.constant('goods' as const), sku: fc.constantFrom('S1', 'S2', 'S3', 'S4'), category: fc.constantFrom('drinks', 'snacks', 'oil'), amount: fen(0, 6_000) }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('stored_value' as const), amount: fen(0, 120_000) }) },
);

const linesArb: fc.Arbitrary<QuoteLine[]> = fc.array(lineArb, { minLength: 1, maxLength: 4 }).map((specs) =>
  specs.map((s, i): QuoteLine => {
    const lineNo = i + 1;
    if (s.type === 'fuel') return { lineNo, type: 'fuel', nozzleNo: lineNo, grade: s.grade, unitPrice: 750, volumeMl: s.volumeMl, amount: s.amount };
    if (s.type === 'goods') return { lineNo, type: 'goods', sku: s.sku, name: s.sku, category: s.category, unitPrice: s.amount, quantity: 1, amount: s.amount };
    return { lineNo, type: 'stored_value', cardNo: 'C1', amount: s.amount };
  }),
);

const benefitArb: fc.Arbitrary<Benefit> = fc.oneof(
  fc.record({ type: fc.constant('perLiter' as const), valueFen: fc.integer({ min: 1, max: 100 }) }),
  fc.record({ type: fc.constant('percent' as const), bp: fc.integer({ min: 1, max: 3000 }), maxDiscountFen: sometimes(fen(0, 3000), 1) }),
  fc.record({ type: fc.constant('amountOff' as const), valueFen: fen(1, 5000) }),
  fc.record({ type: fc.constant('thresholdOff' as const), thresholdFen: fen(1, 20_000), valueFen: fen(1, 3000), repeat: fc.boolean() }),
  fc.record({ type: fc.constant('topUpBonus' as const), thresholdFen: fen(1, 50_000), bonusFen: fen(1, 5000), repeat: fc.boolean() }),
);

/** Validity instants around the quote's time: mostly valid, sometimes not yet or no longer. */
const aroundArb = (atMs: number, side: 'from' | 'to') =>
  fc.constantFrom(...(side === 'from' ? [-DAY, -DAY, -DAY, -HOUR, HOUR] : [DAY, DAY, 2 * DAY, 2 * DAY, -HOUR])).map((offset) => new Date(atMs + offset).toISOString());

const promotionsArb = (atMs: number): fc.Arbitrary<Promotion[]> =>
  fc
    .array(
      fc.record({
        priority: fc.integer({ min: 0, max: 2 }),
        scope: scopeArb,
        timeWindows: sometimes(fc.subarray([{ start: '22:00', end: '06:00' }, { start: '06:00', end: '22:00' }, { start: '11:00', end: '14:00' }], { minLength: 1 })),
        weekdays: sometimes(fc.subarray([1, 2, 3, 4, 5, 6, 7])),
        memberLevels: sometimes(fc.subarray(['gold', 'silver'])),
        paymentMethods: sometimes(fc.subarray(METHODS, { minLength: 1 }), 2),
        minAmountFen: sometimes(fen(0, 30_000), 2),
        benefit: benefitArb,
        exclusiveGroup: sometimes(fc.constantFrom('g1', 'g2'), 1),
        stackableWithCoupons: fc.boolean(),
        validFrom: sometimes(aroundArb(atMs, 'from')),
        validTo: sometimes(aroundArb(atMs, 'to')),
      }),
      { maxLength: 6 },
    )
    .map((specs) =>
      specs.map(({ priority, scope, benefit, exclusiveGroup, stackableWithCoupons, validFrom, validTo, ...conditions }, i): Promotion => ({
        id: `P${i}`,
        name: `promotion ${i}`,
        priority,
        scope,
        conditions,
        benefit,
        stackableWithCoupons,
        ...(exclusiveGroup === undefined ? {} : { exclusiveGroup }),
        ...(validFrom === undefined ? {} : { validFrom }),
        ...(validTo === undefined ? {} : { validTo }),
      })),
    );

const couponBenefitArb: fc.Arbitrary<CouponBenefit> = fc.oneof(
  fc.record({ type: fc.constant('cash' as const), valueFen: fen(1, 5000), thresholdFen: sometimes(fen(0, 30_000), 1) }),
  fc.record({ type: fc.constant('percent' as const), bp: fc.integer({ min: 1, max: 3000 }), maxDiscountFen: sometimes(fen(0, 3000), 1), thresholdFen: sometimes(fen(0, 30_000), 1) }),
  fc.record({ type: fc.constant('perLiter' as const), valueFen: fc.integer({ min: 1, max: 100 }), thresholdFen: sometimes(fen(0, 30_000), 1) }),
);

const couponsArb = (atMs: number): fc.Arbitrary<Coupon[]> =>
  fc
    .array(
      fc.record({
        benefit: couponBenefitArb,
        scope: scopeArb,
        validFrom: fc.oneof({ weight: 5, arbitrary: aroundArb(atMs, 'from') }, { weight: 1, arbitrary: fc.constant(new Date(atMs).toISOString()) }),
        validTo: fc.oneof({ weight: 5, arbitrary: aroundArb(atMs, 'to') }, { weight: 1, arbitrary: fc.constant(new Date(atMs).toISOString()) }),
        stackableWithPromotions: fc.boolean(),
        status: fc.constantFrom<Coupon['status']>('available', 'available', 'available', 'available', 'locked', 'used'),
      }),
      { maxLength: 6 },
    )
    // Input order is not id order: the optimizer must sort.
    .map((specs) => specs.map((s, i): Coupon => ({ couponId: `C${(i * 7) % 10}`, userId: 'U1', name: `coupon ${i}`, ...s })));

// Minutes of the week (UTC) where a time window starts or ends in Shanghai, and the minute before.
const windowEdges = [22, 14, 3, 6].flatMap((utcHour) => [utcHour * 60, utcHour * 60 - 1]);
const minuteOfWeekArb = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 7 * 24 * 60 - 1 }) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: 6 }), fc.constantFrom(...windowEdges)).map(([day, minute]) => day * 24 * 60 + minute) },
);

const inputArb: fc.Arbitrary<PricingInput> = minuteOfWeekArb.chain((minute) => {
  const atMs = WEEK_START + minute * 60_000;
  return fc.record({
    lines: linesArb,
    promotions: promotionsArb(atMs),
    coupons: couponsArb(atMs),
    maxCouponsPerOrder: fc.integer({ min: 1, max: 3 }),
    points: fc.option(
      fc.record({
        balance: fen(0, 3000),
        rule: fc.record({ pointsPerYuan: fc.constantFrom(100, 50, 300, 1000), step: fc.constantFrom(1, 10, 30, 100), maxRatioBp: fc.constantFrom(0, 1000, 5000, 10000) }),
      }),
      { nil: null },
    ),
    memberLevel: fc.constantFrom('gold', 'silver', 'normal'),
    paymentMethods: fc.shuffledSubarray(METHODS),
    atMs: fc.constant(atMs),
    timeZone: fc.constant('Asia/Shanghai'),
  });
});

function assertAddsUp(result: PricingResult, input: PricingInput): void {
  const original = input.lines.reduce((a, l) => a + l.amount, 0);
  for (const combo of result.combos) {
    for (const d of combo.discounts) deepStrictEqual(total(d.byLine), d.amount, 'a discount is its allocation');
    deepStrictEqual(total(combo.lineNets), combo.payableAmount, 'payable is the sum of the line nets');
    deepStrictEqual(combo.discountAmount, combo.discounts.reduce((a, d) => a + d.amount, 0), 'discount is the sum of the discounts');
    deepStrictEqual(combo.payableAmount + combo.discountAmount, original, 'payable and discount add up to the original amount');
    deepStrictEqual(Object.values(combo.lineNets).filter((n) => n < 0), [], 'no line net is negative');
  }
}

t.test('optimize equals an exhaustive search on every small instance, tie-breaks included, and its allocations add up', async (t) => {
  const started = performance.now();
  let runs = 0;
  fc.assert(
    fc.property(inputArb, (input) => {
      runs++;
      const result = optimize(input);
      assertAddsUp(result, input);
      deepStrictEqual(result, exhaustive(input));
    }),
    { numRuns: NUM_RUNS },
  );
  t.equal(runs, NUM_RUNS);
  t.comment(`${runs} instances in ${Math.round(performance.now() - started)} ms`);
});
