/**
 * The quote optimizer on a large real-world quote: a user with 100 coupons, 20 promotions (some
 * sharing exclusive groups, some bound to a payment method), 10 lines, points on, three candidate
 * methods. The instance is generated from a fixed seed, so every run prices the same quote.
 *
 *   npx tsx bench/optimizer.ts
 */
import { pathToFileURL } from 'node:url';
import { optimize } from '../domain/pricing/optimizer.ts';
import type { PricingInput, QuoteLine } from '../domain/pricing/types.ts';
import type { Coupon, CouponBenefit } from '../systems/coupon/port.ts';
import type { Promotion, Scope } from '../systems/promotion/port.ts';

const WARM_UP_RUNS = 300;
const RUNS = 3000;

/** mulberry32: a tiny seeded generator, so the instance is the same on every machine. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** A user at a station at 19:30 on a Friday, with a full basket and a wallet of coupons. */
function largeQuote(maxCouponsPerOrder: number): PricingInput {
  const random = seeded(20261127);
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)] as T;

  const shelf = [
    { sku: 'W-550', category: 'drinks', price: 300 },
    { sku: 'C-330', category: 'drinks', price: 450 },
    { sku: 'T-500', category: 'drinks', price: 600 },
    { sku: 'K-070', category: 'snacks', price: 850 },
    { sku: 'B-120', category: 'snacks', price: 1200 },
    { sku: 'O-4L', category: 'lubricants', price: 16800 },
    { sku: 'G-600', category: 'car_care', price: 2500 },
    { sku: 'N-100', category: 'snacks', price: 650 },
  ];
  const lines: QuoteLine[] = [
    { lineNo: 1, type: 'fuel', nozzleNo: 3, grade: '92', unitPrice: 752, volumeMl: 39894, amount: 30000 },
    { lineNo: 2, type: 'fuel', nozzleNo: 7, grade: '95', unitPrice: 801, volumeMl: 12484, amount: 10000 },
    ...shelf.map((g, i): QuoteLine => {
      const quantity = int(1, 3);
      return { lineNo: i + 3, type: 'goods', sku: g.sku, name: g.sku, category: g.category, unitPrice: g.price, quantity, amount: g.price * quantity };
    }),
  ];

  const scopes: Scope[] = [
    { kind: 'all' },
    { kind: 'fuel' },
    { kind: 'fuel', grades: ['92'] },
    { kind: 'fuel', grades: ['95', '98'] },
    { kind: 'goods' },
    { kind: 'goods', categories: ['drinks'] },
    { kind: 'goods', categories: ['snacks', 'drinks'] },
    { kind: 'goods', skus: ['O-4L', 'G-600'] },
  ];
  const promotions: Promotion[] = Array.from({ length: 20 }, (_, i): Promotion => {
    const benefit = pick<Promotion['benefit']>([
      { type: 'perLiter', valueFen: int(5, 40) },
      { type: 'percent', bp: int(100, 800), maxDiscountFen: int(5, 30) * 100 },
      { type: 'amountOff', valueFen: int(1, 20) * 100 },
      { type: 'thresholdOff', thresholdFen: int(5, 30) * 1000, valueFen: int(2, 15) * 100, repeat: random() < 0.5 },
    ]);
    return {
      id: `PR-${String(i + 1).padStart(3, '0')}`,
      name: `promotion ${i + 1}`,
      priority: int(1, 5) * 10,
      scope: benefit.type === 'perLiter' ? pick(scopes.slice(1, 4)) : pick(scopes),
      conditions: {
        ...(i % 5 === 0 ? { timeWindows: [{ start: '17:00', end: '22:00' }] } : {}),
        ...(i % 7 === 0 ? { weekdays: [5, 6, 7] } : {}),
        ...(i % 4 === 1 ? { memberLevels: ['gold', 'platinum'] } : {}),
        ...(i === 3 ? { paymentMethods: ['stored_value'] } : i === 8 ? { paymentMethods: ['wechat'] } : {}),
        ...(i % 3 === 2 ? { minAmountFen: int(1, 20) * 1000 } : {}),
      },
      benefit,
      // Two groups of three and one of two: "a few share exclusive groups".
      ...(i < 3 ? { exclusiveGroup: 'fuel-day' } : i < 6 ? { exclusiveGroup: 'member-week' } : i < 8 ? { exclusiveGroup: 'shop' } : {}),
      stackableWithCoupons: random() < 0.7,
    };
  });

  const coupons: Coupon[] = Array.from({ length: 100 }, (_, i): Coupon => {
    const threshold = random() < 0.6 ? { thresholdFen: int(1, 50) * 1000 } : {};
    const benefit = pick<CouponBenefit>([
      { type: 'cash', valueFen: int(1, 30) * 100, ...threshold },
      { type: 'percent', bp: int(200, 1500), maxDiscountFen: int(5, 50) * 100, ...threshold },
      { type: 'perLiter', valueFen: int(5, 50), ...threshold },
    ]);
    return {
      couponId: `CP-${String(int(0, 999_999)).padStart(6, '0')}-${i}`,
      userId: 'U1',
      name: `coupon ${i + 1}`,
      benefit,
      scope: benefit.type === 'perLiter' ? pick(scopes.slice(0, 4)) : pick(scopes),
      validFrom: '2026-11-01T00:00:00+08:00',
      validTo: `2026-12-${String(int(1, 31)).padStart(2, '0')}T23:59:59+08:00`,
      stackableWithPromotions: random() < 0.75,
      status: random() < 0.9 ? 'available' : 'locked',
    };
  });

  return {
    lines,
    promotions,
    coupons,
    maxCouponsPerOrder,
    points: { balance: 35_000, rule: { pointsPerYuan: 100, step: 100, maxRatioBp: 2000 } },
    memberLevel: 'gold',
    paymentMethods: ['stored_value', 'wechat', 'alipay'],
    atMs: Date.parse('2026-11-27T19:30:00+08:00'),
    timeZone: 'Asia/Shanghai',
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function time(input: PricingInput): { p50: number; p99: number; max: number } {
  for (let i = 0; i < WARM_UP_RUNS; i++) optimize(input);
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    optimize(input);
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), max: samples[samples.length - 1] ?? 0 };
}

/** Printable lines: p50/p99 (ms) of `optimize` on the large quote, for 1, 2 and 3 coupons per order. */
export async function benchOptimizer(): Promise<string[]> {
  const out = [`optimizer: 100 coupons, 20 promotions (3 exclusive groups), 10 lines, points, 3 candidate methods; ${RUNS} runs after ${WARM_UP_RUNS} warm-up`];
  for (const maxCoupons of [1, 2, 3]) {
    const input = largeQuote(maxCoupons);
    const { p50, p99, max } = time(input);
    const best = optimize(input).combos.map((c) => `${c.comboId} ${c.discountAmount} fen off (${c.couponIds.length} coupons, ${c.points} points)`);
    out.push(`  maxCouponsPerOrder ${maxCoupons}: p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms, max ${max.toFixed(3)} ms; ${best.join('; ')}`);
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const line of await benchOptimizer()) console.log(line);
}
