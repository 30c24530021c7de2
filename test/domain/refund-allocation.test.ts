import fc from 'fast-check';
import t from 'tap';
import { allocateLargestRemainder } from '../../domain/money.ts';
import {
  allocateRefund,
  pointsToReturn,
  refundableByLines,
  topUpDebitFen,
  type RefundableLeg,
  type RefundableLine,
  type RefundPolicy,
} from '../../domain/refund-allocation.ts';

const RUNS = 1000;
const PROPORTIONAL: RefundPolicy = { kind: 'proportional' };
const METHODS = ['card', 'wechat', 'alipay', 'cash'];

const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);
/** Leg `i + 1` pays with `methods[i]`. */
const methodsOf = (methods: readonly string[]): Record<number, string> => Object.fromEntries(methods.map((method, i) => [i + 1, method]));
const legsOf = (paid: readonly number[], refunded: readonly number[]): RefundableLeg[] =>
  paid.map((paidFen, i) => ({ legNo: i + 1, paidFen, refundedFen: refunded[i] ?? 0 }));

/** Refunds `amounts` one after another; the cumulative per leg before and after each refund. */
function refundSeries(paid: readonly number[], amounts: readonly number[], policies: readonly RefundPolicy[] = []) {
  let refunded = paid.map(() => 0);
  return amounts.map((amountFen, k) => {
    const before = refunded;
    const shares = allocateRefund({ legs: legsOf(paid, before), amountFen, policy: policies[k] ?? PROPORTIONAL }).map((s) => s.amountFen);
    refunded = before.map((fen, i) => fen + (shares[i] ?? 0));
    return { before, shares, after: refunded };
  });
}

// Small amounts make the rounding cases (and the Alabama paradox) common; large ones are realistic.
const paidAmounts = fc
  .oneof(
    fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 5 }),
    fc.array(fc.integer({ min: 0, max: 5_000_000 }), { minLength: 1, maxLength: 5 }),
  )
  .filter((paid) => sum(paid) > 0);

/** Positive amounts adding up to `total`: a few large cuts, or many small steps and the rest. */
function seriesTo(total: number): fc.Arbitrary<number[]> {
  const cuts =
    total === 1
      ? fc.constant<number[]>([1])
      : fc.uniqueArray(fc.integer({ min: 1, max: total - 1 }), { maxLength: 12 }).map((points) => {
          const sorted = [...points.sort((a, b) => a - b), total];
          return sorted.map((p, i) => p - (sorted[i - 1] ?? 0));
        });
  const smallSteps = fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 150 }).map((steps) => {
    const series: number[] = [];
    for (const step of steps) if (sum(series) + step < total) series.push(step);
    return [...series, total - sum(series)];
  });
  return fc.oneof(cuts, smallSteps);
}

/** Legs with any history (not necessarily proportional) and a refund that fits. */
const legsAndRefund = paidAmounts
  .chain((paid) => fc.tuple(fc.constant(paid), fc.tuple(...paid.map((p) => fc.integer({ min: 0, max: p })))))
  .filter(([paid, refunded]) => sum(paid) > sum(refunded))
  .chain(([paid, refunded]) => fc.tuple(fc.constant(legsOf(paid, refunded)), fc.integer({ min: 1, max: sum(paid) - sum(refunded) })));

t.test('a refund adds up to its amount and takes from no leg less than nothing or more than it has left', async (t) => {
  const policy = fc.oneof(
    fc.constant(PROPORTIONAL),
    fc.shuffledSubarray(METHODS).map((order): RefundPolicy => ({ kind: 'priority', order })),
  );
  fc.assert(
    fc.property(legsAndRefund, policy, fc.array(fc.constantFrom(...METHODS), { minLength: 5, maxLength: 5 }), ([legs, amountFen], p, m) => {
      const shares = allocateRefund({ legs, amountFen, policy: p, methods: methodsOf(m) });
      return (
        sum(shares.map((s) => s.amountFen)) === amountFen &&
        shares.every((s, i) => s.amountFen >= 0 && s.amountFen <= (legs[i]?.paidFen ?? 0) - (legs[i]?.refundedFen ?? 0))
      );
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

t.test('partial refunds that add up to the paid total refund every leg exactly in full, whatever policy each used', async (t) => {
  const policies = fc.array(
    fc.oneof(fc.constant(PROPORTIONAL), fc.constant<RefundPolicy>({ kind: 'priority', order: [] })),
    { maxLength: 200 },
  );
  fc.assert(
    fc.property(
      paidAmounts.chain((paid) => fc.tuple(fc.constant(paid), seriesTo(sum(paid)), policies)),
      ([paid, amounts, p]) => {
        const steps = refundSeries(paid, amounts, p);
        return steps.at(-1)?.after.every((fen, i) => fen === paid[i]) === true;
      },
    ),
    { numRuns: RUNS },
  );
  t.pass();
});

t.test('a proportional refund is largest remainder on the cumulative amount whenever that takes nothing back', async (t) => {
  fc.assert(
    fc.property(legsAndRefund, ([legs, amountFen]) => {
      const paid = legs.map((leg) => leg.paidFen);
      const target = allocateLargestRemainder(sum(legs.map((leg) => leg.refundedFen)) + amountFen, paid);
      fc.pre(target.every((fen, i) => fen >= (legs[i]?.refundedFen ?? 0)));
      const shares = allocateRefund({ legs, amountFen, policy: PROPORTIONAL });
      return shares.every((s, i) => s.amountFen === (target[i] ?? 0) - (legs[i]?.refundedFen ?? 0));
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

t.test('each leg stays within a fen of its exact share of the cumulative refund whenever the fen already refunded allow it', async (t) => {
  fc.assert(
    fc.property(paidAmounts.chain((paid) => fc.tuple(fc.constant(paid), seriesTo(sum(paid)))), ([paid, amounts]) => {
      const S = BigInt(sum(paid));
      for (const { before, after } of refundSeries(paid, amounts)) {
        const C = BigInt(sum(after));
        const exact = paid.map((p) => C * BigInt(p)); // in units of 1/S fen
        // Within a fen below is possible only if lifting each leg to its floored share or to what
        // it already has does not overshoot.
        const possible = sum(exact.map((e, i) => Math.max(Number(e / S), before[i] ?? 0))) <= sum(after);
        for (const [i, fen] of after.entries()) {
          const scaled = BigInt(fen) * S;
          const e = exact[i] ?? 0n;
          if (scaled >= e + S) return false;
          if (possible && scaled <= e - S) return false;
        }
      }
      return true;
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

t.test('when a leg cannot give back, the cumulative split is the closest to the exact shares of all splits that take nothing back', async (t) => {
  const small = fc
    .tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 12 }))
    .chain((paid) => fc.tuple(fc.constant(paid), fc.tuple(...paid.map((p) => fc.integer({ min: 0, max: p })))))
    .filter(([paid, refunded]) => sum(paid) > sum(refunded))
    .chain(([paid, refunded]) => fc.tuple(fc.constant(paid), fc.constant(refunded), fc.integer({ min: 1, max: sum(paid) - sum(refunded) })));
  fc.assert(
    fc.property(small, ([paid, refunded, amountFen]) => {
      const S = sum(paid);
      const C = sum(refunded) + amountFen;
      const cost = (split: readonly number[]) => sum(split.map((fen, i) => (fen * S - C * (paid[i] ?? 0)) ** 2));
      let best = Infinity;
      const [p0 = 0, p1 = 0, p2 = 0] = paid;
      const [r0 = 0, r1 = 0, r2 = 0] = refunded;
      for (let a = r0; a <= p0; a++) for (let b = r1; b <= p1; b++) if (C - a - b >= r2 && C - a - b <= p2) best = Math.min(best, cost([a, b, C - a - b]));
      const shares = allocateRefund({ legs: legsOf(paid, refunded), amountFen, policy: PROPORTIONAL });
      return cost(shares.map((s, i) => s.amountFen + (refunded[i] ?? 0))) === best;
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

t.test('a priority refund touches no leg while a leg earlier in the method order still has money left', async (t) => {
  fc.assert(
    fc.property(
      legsAndRefund,
      fc.shuffledSubarray(METHODS),
      fc.array(fc.constantFrom(...METHODS), { minLength: 5, maxLength: 5 }),
      ([legs, amountFen], order, m) => {
        const methods = methodsOf(m);
        const rank = (leg: RefundableLeg) => {
          const position = order.indexOf(methods[leg.legNo] ?? '');
          return position < 0 ? order.length : position;
        };
        const fillOrder = [...legs].sort((a, b) => rank(a) - rank(b) || a.legNo - b.legNo);
        const shares = new Map(allocateRefund({ legs, amountFen, policy: { kind: 'priority', order }, methods }).map((s) => [s.legNo, s.amountFen]));
        const leftAfter = (leg: RefundableLeg) => leg.paidFen - leg.refundedFen - (shares.get(leg.legNo) ?? 0);
        return fillOrder.every((leg, k) => (shares.get(leg.legNo) ?? 0) === 0 || fillOrder.slice(0, k).every((earlier) => leftAfter(earlier) === 0));
      },
    ),
    { numRuns: RUNS },
  );
  t.pass();
});

t.test('card 20000 and wechat 8000 refunded 5000, 5000 and 18000 split on the cumulative amount', async (t) => {
  const steps = refundSeries([20000, 8000], [5000, 5000, 18000]);
  // 5000 × 20/28 = 3571.43 and 1428.57: the leftover fen goes to wechat's larger remainder.
  t.same(steps[0]?.shares, [3571, 1429]);
  // Cumulative 10000: 7142.86 and 2857.14 → 7143 / 2857, so not 3571 / 1429 again (that would
  // leave card 7142 and wechat 2858 and drift further with every refund).
  t.same(steps[1]?.shares, [3572, 1428]);
  t.same(steps[2]?.shares, [12857, 5143]);
  t.same(steps[2]?.after, [20000, 8000]);
});

t.test('a leg the cumulative split would take a fen back from keeps it, and the fen goes elsewhere', async (t) => {
  // Largest remainder of 3 over 100/300/300 is 1/1/1 but of 4 is 0/2/2 (the Alabama paradox).
  const steps = refundSeries([100, 300, 300], [3, 1]);
  t.same(steps[0]?.after, [1, 1, 1]);
  t.same(steps[1]?.shares, [0, 1, 0], 'legs 2 and 3 tie at 1.714 exact; the lower leg number gets the fen');
});

t.test('when the fen already refunded leave no split within a fen of every share, the closest one is taken', async (t) => {
  // Reached by the rule alone: 88 lifts leg 5 (0.40 exact) to 1 fen, 12 more would take it back
  // and is repaired. For the last fen, legs 2, 4 and 5 already exceed their shares (4.67, 5.82,
  // 0.46), so one of legs 1 (44.009) and 3 (46.040) must end more than a fen short: leg 1, the
  // one that loses least by it.
  const steps = refundSeries([2383, 253, 2493, 315, 25], [88, 12, 1]);
  t.same(steps[1]?.after, [43, 5, 45, 6, 1]);
  t.same(steps[2]?.shares, [0, 0, 1, 0, 0]);
});

t.test('a priority refund empties legs in method order, unlisted methods last by leg number', async (t) => {
  const legs = legsOf([20000, 8000, 3000, 1000], [0, 0, 0, 0]);
  const methods = { 1: 'card', 2: 'wechat', 3: 'cash', 4: 'alipay' };
  const order = ['wechat', 'card'];
  const shares = (amountFen: number, refunded: RefundableLeg[] = legs) =>
    allocateRefund({ legs: refunded, amountFen, policy: { kind: 'priority', order }, methods }).map((s) => s.amountFen);
  t.same(shares(10000), [2000, 8000, 0, 0]);
  t.same(shares(30000), [20000, 8000, 2000, 0], 'cash (leg 3) and alipay (leg 4) are unlisted: leg 3 first');
  t.same(shares(5000, legsOf([20000, 8000, 3000, 1000], [0, 8000, 0, 0])), [5000, 0, 0, 0]);
});

t.test('a proportional refund after a priority one brings the legs back towards their shares without taking any back', async (t) => {
  // Wechat was refunded first in full; of cumulative 15000 its share is only 4285.71.
  const shares = allocateRefund({ legs: legsOf([20000, 8000], [2000, 8000]), amountFen: 5000, policy: PROPORTIONAL });
  t.same(shares, [
    { legNo: 1, amountFen: 5000 },
    { legNo: 2, amountFen: 0 },
  ]);
});

t.test('a refund of nothing, of a fraction of a fen or of more than is left is a bug and throws', async (t) => {
  const legs = legsOf([20000, 8000], [1000, 0]);
  for (const amountFen of [0, -1, 1.5, 27001]) t.throws(() => allocateRefund({ legs, amountFen, policy: PROPORTIONAL }), RangeError);
  t.throws(() => allocateRefund({ legs: legsOf([100], [101]), amountFen: 1, policy: PROPORTIONAL }), RangeError);
  t.throws(() => allocateRefund({ legs: [...legs, { legNo: 1, paidFen: 5, refundedFen: 0 }], amountFen: 1, policy: PROPORTIONAL }), RangeError);
  t.same(allocateRefund({ legs, amountFen: 27000, policy: PROPORTIONAL }), [
    { legNo: 1, amountFen: 19000 },
    { legNo: 2, amountFen: 8000 },
  ]);
});

const goodsLine = (quantity: number, netAmount: number, refundedQuantity = 0, refundedFen = 0): RefundableLine => ({
  lineNo: 2,
  type: 'goods',
  quantity,
  amount: netAmount + 500,
  netAmount,
  refundedFen,
  refundedQuantity,
});

/** Refunds a goods line in batches of units; the fen each batch refunded. */
function refundGoodsInBatches(units: number, netAmount: number, batches: readonly number[]): number[] {
  let [doneUnits, doneFen] = [0, 0];
  return batches.map((quantity) => {
    const result = refundableByLines([goodsLine(units, netAmount, doneUnits, doneFen)], [{ lineNo: 2, quantity }]);
    if (!result.ok) throw new Error(result.message);
    const fen = result.lines[0]?.amountFen ?? NaN;
    [doneUnits, doneFen] = [doneUnits + quantity, doneFen + fen];
    return fen;
  });
}

t.test('refunding goods one unit at a time or in any batches refunds exactly the line net, each unit its share', async (t) => {
  const line = fc.tuple(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 1_000_000 }));
  fc.assert(
    fc.property(
      line.chain(([units, net]) => fc.tuple(fc.constant(units), fc.constant(net), seriesTo(units))),
      ([units, net, batches]) => {
        const oneByOne = refundGoodsInBatches(units, net, new Array<number>(units).fill(1));
        const unitShare = Math.floor(net / units);
        const inBatches = refundGoodsInBatches(units, net, batches);
        let start = 0;
        const batchesMatchUnits = batches.every((quantity, k) => {
          const expected = sum(oneByOne.slice(start, (start += quantity)));
          return inBatches[k] === expected;
        });
        return sum(oneByOne) === net && oneByOne.every((fen) => fen === unitShare || fen === unitShare + 1) && batchesMatchUnits;
      },
    ),
    { numRuns: RUNS },
  );
  t.pass();
});

t.test('a goods line of 3 units netting 1000 fen refunds 334, then 333 and 333', async (t) => {
  t.same(refundGoodsInBatches(3, 1000, [1, 2]), [334, 666]);
  t.same(refundGoodsInBatches(3, 1000, [1, 1, 1]), [334, 333, 333]);
});

t.test('asking for more units or fen than a line has left is refused with REFUND_EXCEEDS_PAID', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 60 }), fc.nat(60), fc.integer({ min: 1, max: 10 }), (units, doneRaw, extra) => {
      const done = doneRaw % (units + 1);
      const result = refundableByLines([goodsLine(units, 1000, done, 0)], [{ lineNo: 2, quantity: units - done + extra }]);
      return !result.ok && result.code === 'REFUND_EXCEEDS_PAID';
    }),
    { numRuns: RUNS },
  );
  const fuel: RefundableLine = { lineNo: 1, type: 'fuel', amount: 30000, netAmount: 29100, refundedFen: 9100 };
  t.same(refundableByLines([fuel], [{ lineNo: 1, amountFen: 20000 }]), { ok: true, lines: [{ lineNo: 1, amountFen: 20000 }] });
  t.match(refundableByLines([fuel], [{ lineNo: 1, amountFen: 20001 }]), { ok: false, code: 'REFUND_EXCEEDS_PAID' });
});

t.test('a refund by lines that names no line, an unknown or repeated line, or the wrong measure is an invalid request', async (t) => {
  const lines: RefundableLine[] = [{ lineNo: 1, type: 'fuel', amount: 30000, netAmount: 29100, refundedFen: 0 }, goodsLine(3, 1000)];
  const requests = [
    [],
    [{ lineNo: 9, amountFen: 100 }],
    [{ lineNo: 1, amountFen: 100 }, { lineNo: 1, amountFen: 100 }],
    [{ lineNo: 1, quantity: 1 }],
    [{ lineNo: 1, amountFen: 0 }],
    [{ lineNo: 2, amountFen: 100 }],
    [{ lineNo: 2, quantity: 1.5 }],
  ];
  for (const request of requests) t.match(refundableByLines(lines, request), { ok: false, code: 'INVALID_REQUEST' }, JSON.stringify(request));
  t.same(refundableByLines(lines, [{ lineNo: 2, quantity: 1 }, { lineNo: 1, amountFen: 100 }]), {
    ok: true,
    lines: [
      { lineNo: 2, amountFen: 334, quantity: 1 },
      { lineNo: 1, amountFen: 100 },
    ],
  });
});

t.test('used points come back in full over any series of refunds reaching the paid total, never ahead of the share refunded', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 10_000_000 }),
      fc.integer({ min: 1, max: 10_000_000 }).chain((paid) => fc.tuple(fc.constant(paid), seriesTo(paid))),
      (pointsUsed, [paid, amounts]) => {
        let [cumulative, returned] = [0, 0];
        for (const amount of amounts) {
          cumulative += amount;
          const back = pointsToReturn(pointsUsed, cumulative, paid, returned);
          returned += back;
          if (back < 0 || BigInt(returned) * BigInt(paid) > BigInt(pointsUsed) * BigInt(cumulative)) return false;
        }
        return returned === pointsUsed;
      },
    ),
    { numRuns: RUNS },
  );
  t.pass();
});

t.test('500 points used on 28000 paid come back as 89, 89 and 322 over refunds of 5000, 5000 and 18000', async (t) => {
  t.equal(pointsToReturn(500, 5000, 28000, 0), 89, 'floor(89.29)');
  t.equal(pointsToReturn(500, 10000, 28000, 89), 89, 'floor(178.57) − 89');
  t.equal(pointsToReturn(500, 28000, 28000, 178), 322);
  t.equal(pointsToReturn(500, 10000, 28000, 300), 0, 'points returned beyond the rule are not clawed back');
  t.throws(() => pointsToReturn(500, 1, 0, 0), RangeError);
  t.throws(() => pointsToReturn(500, 28001, 28000, 0), RangeError);
});

t.test('a top-up refunded in any series of parts takes back exactly the top-up and its bonus, the bonus never ahead of its share', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 10_000_000 }),
      fc.integer({ min: 1, max: 100_000_000 }).chain((line) => fc.tuple(fc.constant(line), seriesTo(line))),
      (bonus, [line, parts]) => {
        let [refunded, debited] = [0, 0];
        for (const part of parts) {
          debited += topUpDebitFen(line, bonus, refunded, part);
          refunded += part;
          if (BigInt(debited - refunded) * BigInt(line) > BigInt(bonus) * BigInt(refunded)) return false;
        }
        return debited === line + bonus;
      },
    ),
    { numRuns: RUNS },
  );
  t.pass();
});

t.test('a 500-yuan top-up with a 50-yuan bonus refunded as 100, 150 and 250 yuan takes back 110, 165 and 275', async (t) => {
  t.equal(topUpDebitFen(50_000, 5_000, 0, 10_000), 11_000);
  t.equal(topUpDebitFen(50_000, 5_000, 10_000, 15_000), 16_500);
  t.equal(topUpDebitFen(50_000, 5_000, 25_000, 25_000), 27_500);
  t.equal(topUpDebitFen(30_000, 1, 0, 10_000), 10_000, 'floor(0.33): the bonus fen goes with the last part');
  t.throws(() => topUpDebitFen(50_000, 5_000, 40_000, 10_001), RangeError);
  t.throws(() => topUpDebitFen(0, 0, 0, 0), RangeError);
});
