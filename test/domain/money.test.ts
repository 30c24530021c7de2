import fc from 'fast-check';
import t from 'tap';
import { allocateLargestRemainder, amountFromVolume, divRoundHalfUp, formatYuan, volumeFromAmount } from '../../domain/money.ts';

t.test('round half up divides exactly, halves going up', async (t) => {
  t.equal(divRoundHalfUp(5, 2), 3);
  t.equal(divRoundHalfUp(4, 2), 2);
  t.equal(divRoundHalfUp(14, 10), 1);
  t.equal(divRoundHalfUp(15, 10), 2);
  t.equal(divRoundHalfUp(0, 7), 0);
  t.throws(() => divRoundHalfUp(1, 0));
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 1, max: 2 ** 20 }), (n, d) => {
      // q = floor(n/d + 1/2)  ⟺  2qd ≤ 2n + d < 2qd + 2d
      const q = BigInt(divRoundHalfUp(n, d));
      const [N, D] = [BigInt(n), BigInt(d)];
      return 2n * q * D <= 2n * N + D && 2n * N + D < 2n * q * D + 2n * D;
    }),
    { numRuns: 2000 },
  );
});

t.test('fuel amounts and volumes convert with round half up', async (t) => {
  t.equal(amountFromVolume(750, 40000), 30000, '40 L of 92# at 7.50');
  t.equal(amountFromVolume(750, 33333), 25000, '24999.75 fen rounds up');
  t.equal(amountFromVolume(798, 1), 1, '0.798 fen rounds to 1');
  t.equal(volumeFromAmount(30000, 750), 40000);
  t.equal(volumeFromAmount(10000, 798), 12531, '12531.33 ml rounds down');
  t.equal(formatYuan(29100), '291.00');
  t.equal(formatYuan(5), '0.05');
});

t.test('largest-remainder allocation adds up exactly and stays within a fen of each exact share', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 10_000_000 }),
      fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 1, maxLength: 8 }).filter((w) => w.some((x) => x > 0)),
      (total, weights) => {
        const shares = allocateLargestRemainder(total, weights);
        const sum = weights.reduce((a, w) => a + w, 0);
        if (shares.reduce((a, s) => a + s, 0) !== total) return false;
        return shares.every((s, i) => {
          const exact = (total * (weights[i] ?? 0)) / sum;
          return s >= Math.floor(exact) && s <= Math.ceil(exact) && (weights[i] !== 0 || s === 0);
        });
      },
    ),
    { numRuns: 2000 },
  );
});

t.test('leftover fen go to the largest remainders, ties to the lower index', async (t) => {
  t.same(allocateLargestRemainder(100, [1, 1, 1]), [34, 33, 33]);
  t.same(allocateLargestRemainder(2, [1, 1, 1]), [1, 1, 0]);
  t.same(allocateLargestRemainder(10, [1, 2]), [3, 7], '3.33 / 6.67: the larger remainder wins');
  t.same(allocateLargestRemainder(0, [0, 0]), [0, 0]);
  t.throws(() => allocateLargestRemainder(5, [0, 0]), RangeError);
  t.throws(() => allocateLargestRemainder(1.5, [1]), RangeError);
});
