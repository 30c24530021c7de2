/**
 * Money is integer fen everywhere (DOMAIN.md "Units"). These helpers are the only places where
 * rounding happens, and each says how it rounds.
 */

export function assertFen(value: number, what = 'amount'): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${what} must be an integer number of fen, got ${value}`);
}

/**
 * `round_half_up(numerator / denominator)` for non-negative integers, exact (BigInt, so
 * `unitPrice * volumeMl` cannot lose precision however large it grows).
 */
export function divRoundHalfUp(numerator: number, denominator: number): number {
  if (denominator <= 0) throw new RangeError('denominator must be positive');
  if (numerator < 0) throw new RangeError('numerator must be non-negative');
  const n = BigInt(numerator);
  const d = BigInt(denominator);
  return Number((n * 2n + d) / (2n * d));
}

/** Fuel amount in fen from a volume: `round_half_up(unitPrice * volumeMl / 1000)`. */
export function amountFromVolume(unitPriceFenPerLitre: number, volumeMl: number): number {
  return divRoundHalfUp(unitPriceFenPerLitre * volumeMl, 1000);
}

/** Fuel volume in ml from an amount: `round_half_up(amount * 1000 / unitPrice)`. */
export function volumeFromAmount(amountFen: number, unitPriceFenPerLitre: number): number {
  return divRoundHalfUp(amountFen * 1000, unitPriceFenPerLitre);
}

/**
 * Split `total` fen over `weights` in proportion, by largest remainder: each share is floored,
 * then the leftover fen go one each to the largest fractional parts, ties to the lower index.
 * The shares always add up to `total` exactly. All weights zero → everything to index 0 … n-1
 * as evenly as possible is not meaningful for money, so it throws instead.
 */
export function allocateLargestRemainder(total: number, weights: readonly number[]): number[] {
  assertFen(total, 'total');
  if (total < 0) throw new RangeError('total must be non-negative');
  if (weights.length === 0) {
    if (total === 0) return [];
    throw new RangeError('cannot allocate a non-zero amount over no weights');
  }
  const sum = weights.reduce((a, w) => a + w, 0);
  if (weights.some((w) => !Number.isSafeInteger(w) || w < 0)) throw new RangeError('weights must be non-negative integers');
  if (sum === 0) {
    if (total === 0) return weights.map(() => 0);
    throw new RangeError('cannot allocate a non-zero amount over zero weights');
  }
  const T = BigInt(total);
  const S = BigInt(sum);
  const shares = weights.map((w) => (T * BigInt(w)) / S);
  const remainders = weights.map((w, i) => ({ i, r: (T * BigInt(w)) % S }));
  let left = Number(T - shares.reduce((a, s) => a + s, 0n));
  remainders.sort((a, b) => (a.r === b.r ? a.i - b.i : a.r > b.r ? -1 : 1));
  for (const { i } of remainders) {
    if (left === 0) break;
    shares[i] = (shares[i] ?? 0n) + 1n;
    left--;
  }
  return shares.map(Number);
}

/** Formats fen as yuan for people (`12345` → `123.45`). Never used in arithmetic. */
export function formatYuan(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}
