/**
 * Refund arithmetic (DOMAIN.md "Refund"), pure and in integer fen: how a refund is spread over
 * the payment legs, what a refund by lines is worth, and how many used points go back. Each rule
 * works on cumulative amounts, so a series of partial refunds adds up to exactly what one full
 * refund gives.
 */
import type { ErrorCode } from './errors.ts';
import { allocateLargestRemainder, assertFen } from './money.ts';

/** A captured money leg, as far as refunds are concerned. */
export interface RefundableLeg {
  legNo: number;
  /** What the leg captured, fen. */
  paidFen: number;
  /** What earlier refunds already took from the leg, fen. */
  refundedFen: number;
}

/**
 * How a refund is spread over the legs: DOMAIN.md's default, or a configured order of payment
 * methods (`order[0]` is refunded first).
 */
export type RefundPolicy = { kind: 'proportional' } | { kind: 'priority'; order: string[] };

/** One leg's part of a refund, fen; 0 means the leg is not touched. */
export interface LegRefund {
  legNo: number;
  amountFen: number;
}

/**
 * Splits a refund of `amountFen` over the legs; one entry per leg, in `legNo` order, adding up to
 * `amountFen` exactly, each within `[0, paidFen − refundedFen]`.
 *
 * - `proportional`: the cumulative refunded amount (earlier refunds plus this one) is split in
 *   proportion to `paidFen` by largest remainder (`allocateLargestRemainder`: floor each share,
 *   leftover fen to the largest fractional parts, ties to the lower `legNo`); this refund is that
 *   split minus what each leg already got. Repeated partial refunds therefore add up exactly.
 *   Largest remainder is not monotone in the total (the Alabama paradox: paid 100/300/300 fen,
 *   cumulative 3 → 1/1/1 but 4 → 0/2/2), and earlier refunds may have followed the priority
 *   policy, so the split can ask a leg to give money back. Then the cumulative split is instead
 *   the one closest to the exact shares (least sum of squared deviations, ties to the lower
 *   `legNo`) among those that take nothing back. With only proportional refunds before, that
 *   keeps every leg under its exact share plus one fen, and above its exact share minus one fen
 *   whenever any split that takes nothing back can.
 * - `priority`: legs are filled to their remaining amount in the order of their method in
 *   `order` (`methods` maps `legNo` to method), legs of unlisted methods last, ties by `legNo`.
 *
 * @throws RangeError when `amountFen` is not a positive integer at most the total still
 *   refundable, or when a leg is malformed (the caller checks refundability first).
 */
export function allocateRefund(input: {
  legs: readonly RefundableLeg[];
  amountFen: number;
  policy: RefundPolicy;
  methods?: Readonly<Record<number, string>>;
}): LegRefund[] {
  const legs = [...input.legs].sort((a, b) => a.legNo - b.legNo);
  for (const [i, leg] of legs.entries()) {
    assertFen(leg.paidFen, `leg ${leg.legNo} paidFen`);
    assertFen(leg.refundedFen, `leg ${leg.legNo} refundedFen`);
    if (leg.refundedFen < 0 || leg.refundedFen > leg.paidFen) throw new RangeError(`leg ${leg.legNo} must have 0 ≤ refundedFen ≤ paidFen`);
    if (legs[i - 1]?.legNo === leg.legNo) throw new RangeError(`leg ${leg.legNo} appears twice`);
  }
  assertFen(input.amountFen, 'amountFen');
  const refundable = sum(legs.map((leg) => leg.paidFen - leg.refundedFen));
  if (input.amountFen <= 0 || input.amountFen > refundable) {
    throw new RangeError(`a refund must be between 1 and ${refundable} fen, got ${input.amountFen}`);
  }
  const shares =
    input.policy.kind === 'proportional'
      ? proportionalShares(legs, input.amountFen)
      : priorityShares(legs, input.amountFen, input.policy.order, input.methods ?? {});
  return legs.map((leg, i) => ({ legNo: leg.legNo, amountFen: shares[i] ?? 0 }));
}

function proportionalShares(legs: readonly RefundableLeg[], amountFen: number): number[] {
  const paid = legs.map((leg) => leg.paidFen);
  const already = legs.map((leg) => leg.refundedFen);
  const cumulative = sum(already) + amountFen;
  // A target never exceeds what its leg paid (it is at most ceil(cumulative × paid / Σpaid)), so
  // only what a leg already got can be out of reach.
  const target = allocateLargestRemainder(cumulative, paid);
  const split = target.every((fen, i) => fen >= (already[i] ?? 0)) ? target : closestNotBelow(cumulative, paid, already);
  return split.map((fen, i) => fen - (already[i] ?? 0));
}

/**
 * Splits `total` fen in proportion to `weights`, closest to the exact shares (least sum of squared
 * deviations, ties to the lower index) among the splits that give index `i` at least `floors[i]`.
 * Needs `Σfloors ≤ total ≤ Σweights` and `floors[i] ≤ weights[i]`. Where largest remainder
 * respects the floors it is this split, being the closest one of all.
 */
function closestNotBelow(total: number, weights: readonly number[], floors: readonly number[]): number[] {
  const T = BigInt(total);
  const S = BigInt(sum(weights));
  const parts = weights.map((weight, i) => {
    const floor = floors[i] ?? 0;
    return { i, floor, exact: T * BigInt(weight), fen: Math.max(Number((T * BigInt(weight)) / S), floor) };
  });
  // How far a part is below its exact share, in units of 1/S fen.
  const shortfall = (part: (typeof parts)[number]): bigint => part.exact - BigInt(part.fen) * S;
  let gap = total - sum(parts.map((part) => part.fen));
  if (gap > 0) {
    // Each part below its share misses less than a fen, so more parts are short than fen are
    // missing, and (as in largest remainder) the `gap` parts short by the most get one each.
    const neediest = [...parts].sort((a, b) => compare(shortfall(b), shortfall(a)) || a.i - b.i);
    for (const part of neediest.slice(0, gap)) part.fen += 1;
  }
  // The sum overshoots only because floors lifted some parts. The others sit at their floored
  // share, less than a fen under it, so a second fen taken from one costs more than a first from
  // any other: take a fen from each in turn, the one closest to its share first.
  while (gap < 0) {
    const giving = parts.filter((part) => part.fen > part.floor).sort((a, b) => compare(shortfall(a), shortfall(b)) || a.i - b.i);
    const rounds = Math.min(Math.floor(-gap / giving.length), ...giving.map((part) => part.fen - part.floor));
    if (rounds === 0) {
      for (const part of giving.slice(0, -gap)) part.fen -= 1;
      break;
    }
    for (const part of giving) part.fen -= rounds;
    gap += rounds * giving.length;
  }
  return parts.map((part) => part.fen);
}

function priorityShares(
  legs: readonly RefundableLeg[],
  amountFen: number,
  order: readonly string[],
  methods: Readonly<Record<number, string>>,
): number[] {
  const rank = (leg: RefundableLeg): number => {
    const method = methods[leg.legNo];
    const position = method === undefined ? -1 : order.indexOf(method);
    return position < 0 ? order.length : position;
  };
  // `legs` is in legNo order and the sort is stable, so ties stay by legNo.
  const filling = [...legs.entries()].sort(([, a], [, b]) => rank(a) - rank(b));
  const shares = legs.map(() => 0);
  let left = amountFen;
  for (const [i, leg] of filling) {
    const take = Math.min(left, leg.paidFen - leg.refundedFen);
    shares[i] = take;
    left -= take;
  }
  return shares;
}

/** An order line as a refund by lines sees it; money in fen. */
export interface RefundableLine {
  lineNo: number;
  type: 'fuel' | 'goods' | 'stored_value' | 'virtual';
  /** Units, for goods. */
  quantity?: number;
  /** Original amount, fen. */
  amount: number;
  /** Amount after the discounts allocated to the line, fen: what the line is refundable for. */
  netAmount: number;
  /** Fen of `netAmount` already refunded. */
  refundedFen: number;
  /** Units already refunded, for goods. */
  refundedQuantity?: number;
}

/** What to refund of one line: goods by `quantity` (units), every other type by `amountFen`. */
export interface LineRefundRequest {
  lineNo: number;
  quantity?: number;
  amountFen?: number;
}

/** What a line's refund is worth, fen, and for goods how many units go back. */
export interface LineRefund {
  lineNo: number;
  amountFen: number;
  quantity?: number;
}

/** A refund by lines that cannot be made, as a value (a business refusal, not a fault). */
export interface LineRefundRefusal {
  ok: false;
  code: Extract<ErrorCode, 'REFUND_EXCEEDS_PAID' | 'INVALID_REQUEST'>;
  message: string;
}

/**
 * Prices a refund by lines on each line's net amount after its allocated discounts, one entry
 * per request in request order.
 *
 * - goods, by quantity: the net is spread over the line's units once by largest remainder (equal
 *   weights, so the first `net mod units` units carry one fen more); refunding k more units after
 *   r refunds the shares of units r … r+k−1, so units refunded one at a time or all at once add
 *   up to the net exactly. The last units take whatever is left of the net, so the line still
 *   ends exactly refunded if it was partly refunded otherwise, and no refund exceeds what is left.
 * - fuel, stored_value, virtual, by amount: any whole fen up to what is left of the net. A
 *   stored-value top-up also needs the card to still hold the credit; that check needs the card
 *   system and belongs to the refund flow.
 *
 * Refuses with `REFUND_EXCEEDS_PAID` when a request asks for more than is left of a line, and with
 * `INVALID_REQUEST` when it names no line, an unknown or repeated line, or a measure that does
 * not fit the line (units for an amount line, fen for goods, anything not a positive integer).
 */
export function refundableByLines(
  lines: readonly RefundableLine[],
  request: readonly LineRefundRequest[],
): { ok: true; lines: LineRefund[] } | LineRefundRefusal {
  if (request.length === 0) return invalid('a refund by lines names at least one line');
  const byNo = new Map(lines.map((line) => [line.lineNo, line]));
  const seen = new Set<number>();
  const priced: LineRefund[] = [];
  for (const req of request) {
    const line = byNo.get(req.lineNo);
    if (line === undefined) return invalid(`line ${req.lineNo} is not part of the order`);
    if (seen.has(req.lineNo)) return invalid(`line ${req.lineNo} is named twice`);
    seen.add(req.lineNo);
    const result = line.type === 'goods' ? priceGoods(line, req) : priceByAmount(line, req);
    if (!result.ok) return result;
    priced.push(result.line);
  }
  return { ok: true, lines: priced };
}

type Priced = { ok: true; line: LineRefund } | LineRefundRefusal;

function priceGoods(line: RefundableLine, req: LineRefundRequest): Priced {
  if (req.amountFen !== undefined || !isPositiveInteger(req.quantity)) {
    return invalid(`goods line ${line.lineNo} is refunded by a positive whole number of units`);
  }
  if (line.quantity === undefined) throw new RangeError(`goods line ${line.lineNo} has no quantity`);
  const units = line.quantity;
  const done = line.refundedQuantity ?? 0;
  if (req.quantity > units - done) {
    return exceeds(`line ${line.lineNo}: ${req.quantity} units asked, ${units - done} left to refund`);
  }
  const left = line.netAmount - line.refundedFen;
  const unitShares = allocateLargestRemainder(line.netAmount, new Array<number>(units).fill(1));
  const amountFen = done + req.quantity === units ? left : Math.min(left, sum(unitShares.slice(done, done + req.quantity)));
  return { ok: true, line: { lineNo: line.lineNo, amountFen, quantity: req.quantity } };
}

function priceByAmount(line: RefundableLine, req: LineRefundRequest): Priced {
  if (req.quantity !== undefined || !isPositiveInteger(req.amountFen)) {
    return invalid(`${line.type} line ${line.lineNo} is refunded by a positive amount in fen`);
  }
  const left = line.netAmount - line.refundedFen;
  if (req.amountFen > left) return exceeds(`line ${line.lineNo}: ${req.amountFen} fen asked, ${left} left to refund`);
  return { ok: true, line: { lineNo: line.lineNo, amountFen: req.amountFen } };
}

/**
 * Points (used as a discount) to give back now: `floor(pointsUsed × refundedFenCumulative /
 * paidFenTotal) − pointsReturnedBefore`, where the cumulative amount includes this refund.
 * Flooring the cumulative proportion means a series of partial refunds never returns more than
 * one full refund, and refunding the whole paid amount returns every point used. Points already
 * returned are never clawed back: if earlier returns were above this rule's, the result is 0.
 *
 * @throws RangeError on negative or non-integer inputs, `paidFenTotal` of 0 (nothing was paid, so
 *   there is no proportion), a cumulative refund above the paid total, or more points returned
 *   than were used.
 */
export function pointsToReturn(
  pointsUsed: number,
  refundedFenCumulative: number,
  paidFenTotal: number,
  pointsReturnedBefore: number,
): number {
  for (const [what, value] of Object.entries({ pointsUsed, refundedFenCumulative, paidFenTotal, pointsReturnedBefore })) {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what} must be a non-negative integer, got ${value}`);
  }
  if (paidFenTotal === 0) throw new RangeError('points follow the paid amount, and nothing was paid');
  if (refundedFenCumulative > paidFenTotal) throw new RangeError('cannot refund more than was paid');
  if (pointsReturnedBefore > pointsUsed) throw new RangeError('cannot have returned more points than were used');
  // BigInt: points × fen can pass 2^53.
  const due = Number((BigInt(pointsUsed) * BigInt(refundedFenCumulative)) / BigInt(paidFenTotal));
  return Math.max(0, due - pointsReturnedBefore);
}

/**
 * What a refund of part of a stored-value top-up line takes back from the card, fen: the part
 * itself, plus the bonus credited with the line in proportion to the cumulative refunded amount
 * (`floor(bonusFen × cumulative / lineFen) − floor(bonusFen × before / lineFen)`), so refunds in
 * parts take the bonus back once and add up to exactly what the card was credited.
 *
 * @throws RangeError on negative or non-integer inputs, a line of 0 fen, or a cumulative refund
 *   above the line.
 */
export function topUpDebitFen(lineFen: number, bonusFen: number, refundedBeforeFen: number, refundFen: number): number {
  for (const [what, value] of Object.entries({ lineFen, bonusFen, refundedBeforeFen, refundFen })) {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what} must be a non-negative integer, got ${value}`);
  }
  if (lineFen === 0) throw new RangeError('a top-up line of 0 fen has nothing to refund');
  if (refundedBeforeFen + refundFen > lineFen) throw new RangeError('cannot refund more of a top-up than it was');
  // BigInt: bonus × fen can pass 2^53.
  const share = (refunded: number) => (BigInt(bonusFen) * BigInt(refunded)) / BigInt(lineFen);
  return refundFen + Number(share(refundedBeforeFen + refundFen) - share(refundedBeforeFen));
}

function invalid(message: string): LineRefundRefusal {
  return { ok: false, code: 'INVALID_REQUEST', message };
}

function exceeds(message: string): LineRefundRefusal {
  return { ok: false, code: 'REFUND_EXCEEDS_PAID', message };
}

function isPositiveInteger(value: number | undefined): value is number {
  return value !== undefined && Number.isSafeInteger(value) && value > 0;
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function compare(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
