import type { BillChannel, BillRow } from './bill-row.ts';

/** China time is UTC+8 all year: a channel's day runs from 16:00 UTC to 16:00 UTC. */
const CHINA_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;

/** How close to midnight a row may be and still be counted by the neighbouring day (DOMAIN.md). */
export const CARRY_WINDOW_MS = 10 * 60_000;

/** The instants `[fromMs, toMs)` of a China-time day `YYYY-MM-DD`. */
export function chinaDayWindow(day: string): { fromMs: number; toMs: number } {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new RangeError(`not a day (YYYY-MM-DD): ${day}`);
  const fromMs = Date.parse(`${day}T00:00:00Z`) - CHINA_OFFSET_MS;
  if (!Number.isFinite(fromMs)) throw new RangeError(`not a day (YYYY-MM-DD): ${day}`);
  return { fromMs, toMs: fromMs + DAY_MS };
}

/** Our status of a leg or refund leg as the matcher compares it with the channel's. */
export type PlatformRowStatus = 'succeeded' | 'pending' | 'closed' | 'failed' | 'refunded' | 'locked' | 'attention';

/**
 * The platform's side of one channel movement: a payment leg or a refund leg of an async channel,
 * read from the hot store or the order archive.
 */
export interface PlatformRow {
  kind: 'payment' | 'refund';
  channel: BillChannel;
  txnNo: string;
  merchantId: string;
  /** The payment leg number (of a refund: the leg refunded). */
  paymentNo: string;
  /** The refund leg number of a refund; null for a payment. */
  refundLegNo: string | null;
  amountFen: number;
  /**
   * Our status: a payment leg `refunded` later still captured its money (it counts as paid); a
   * refund leg counts when `succeeded`.
   */
  status: PlatformRowStatus;
  /** The channel's transaction id we hold for the payment leg, if any. */
  channelTradeNo: string | null;
  /** When we counted it (capture / refund confirmed), epoch ms; null when we never did. */
  at: number | null;
  /** The transaction's API state (`cancelled` decides a give-back). */
  txnState: string;
}

/** The reference both sides share: the payment leg number, or the refund leg number. */
export function platformRef(row: Pick<PlatformRow, 'kind' | 'paymentNo' | 'refundLegNo'>): string {
  return row.kind === 'payment' ? row.paymentNo : (row.refundLegNo ?? '');
}

/** Whether we count the row as money moved (a captured payment, a refund paid back). */
export function platformCounts(row: Pick<PlatformRow, 'kind' | 'status' | 'at'>): boolean {
  if (row.at === null) return false;
  return row.kind === 'payment' ? row.status === 'succeeded' || row.status === 'refunded' : row.status === 'succeeded';
}

/** The kinds of DOMAIN.md "Reconciliation". */
export type DiscrepancyKind =
  | 'channel_missing'
  | 'platform_missing'
  | 'platform_short_status'
  | 'platform_short_amount'
  | 'platform_over_amount'
  | 'platform_over_status'
  | 'fee_mismatch';

export const DISCREPANCY_KINDS: readonly DiscrepancyKind[] = [
  'channel_missing', 'platform_missing', 'platform_short_status', 'platform_short_amount', 'platform_over_amount', 'platform_over_status', 'fee_mismatch',
];

/** One difference between the bill and our records, with both sides' evidence (null: that side has none). */
export interface Discrepancy {
  kind: DiscrepancyKind;
  channel: BillChannel;
  /** The shared reference (payment leg or refund leg number): the key of its actions. */
  ref: string;
  /** The transaction concerned, when known (always for ours; derived from the payment number for the channel's). */
  txnNo: string | null;
  bill: BillRow | null;
  platform: PlatformRow | null;
  /** For a fee_mismatch: the fee the configured rate gives. */
  expectedFeeFen?: number;
}

/**
 * What one day's run hands the next one: our rows of the last minutes the bill did not have yet
 * (the next bill may count them), and the references of the next day's first minutes this bill
 * already matched (the next bill will not have them).
 */
export interface CarryOver {
  platform: PlatformRow[];
  matchedAhead: string[];
}

export const EMPTY_CARRY: CarryOver = { platform: [], matchedAhead: [] };

/** A day's counts of both sides, for the run's record and the inspector. */
export interface MatchTotals {
  billRows: number;
  billPaymentsFen: number;
  billRefundsFen: number;
  billFeesFen: number;
  platformRows: number;
  platformPaymentsFen: number;
  platformRefundsFen: number;
  matched: number;
}

/** The result of {@link matchDay}. */
export interface MatchResult {
  discrepancies: Discrepancy[];
  totals: MatchTotals;
  carry: CarryOver;
}

/** What the matcher needs besides the bill. */
export interface MatchInput {
  channel: BillChannel;
  /** The China-time day of the bill. */
  day: string;
  /**
   * Our counted rows (see {@link platformCounts}) of this channel from 10 minutes before the day
   * to 10 minutes after it; rows outside that window or not counted are ignored.
   */
  platform: Iterable<PlatformRow>;
  /** What the previous day's run carried over ({@link MatchResult.carry}). */
  carryIn: CarryOver;
  /**
   * Our row of a reference the day's rows lack (a leg still pending, closed or failed, or one
   * counted on another day), or null when we have no record of it.
   */
  lookup(row: BillRow): Promise<PlatformRow | null>;
  /** The fee the configured rate gives for a row; null when no rate is configured (no check). */
  expectedFee?(row: BillRow): number | null;
}

/** The transaction number inside a payment number `txnNo-P<n>`, or null. */
export function txnNoOfPaymentNo(paymentNo: string): string | null {
  const m = /^(.+)-P\d+$/.exec(paymentNo);
  return m ? m[1]! : null;
}

/**
 * Matches one channel day (DOMAIN.md "Reconciliation"), streaming the bill: our side is indexed
 * by reference and the channel's transaction id, each bill row is classified as it arrives, and
 * what remains of ours at the end is missing from the channel, unless it lies in the last 10
 * minutes of the day (carried to the next day's run) or the previous day's bill already had it.
 * Pure: no clock, no storage besides `lookup`.
 */
export async function matchDay(bill: AsyncIterable<BillRow> | Iterable<BillRow>, input: MatchInput): Promise<MatchResult> {
  const { fromMs, toMs } = chinaDayWindow(input.day);
  const lo = fromMs - CARRY_WINDOW_MS;
  const hi = toMs + CARRY_WINDOW_MS;
  // Our rows by slot: a reference's slot, and whether the bill must still list it. One map insert
  // per row of ours; the trade-number index is built only if a bill row misses its reference.
  const slotOf = new Map<string, number>();
  const ourRows: PlatformRow[] = [];
  const required: boolean[] = [];
  let byTradeNo: Map<string, number> | null = null;
  const totals: MatchTotals = { billRows: 0, billPaymentsFen: 0, billRefundsFen: 0, billFeesFen: 0, platformRows: 0, platformPaymentsFen: 0, platformRefundsFen: 0, matched: 0 };
  const alreadyMatched = new Set(input.carryIn.matchedAhead);
  const index = (row: PlatformRow, mustMatch: boolean) => {
    const ref = platformRef(row);
    const slot = slotOf.get(ref);
    if (slot === undefined) {
      slotOf.set(ref, ourRows.length);
      ourRows.push(row);
      required.push(mustMatch);
    } else {
      ourRows[slot] = row;
      if (mustMatch) required[slot] = true;
    }
  };
  const slotOfTradeNo = (tradeNo: string): number | undefined => {
    if (byTradeNo === null) {
      byTradeNo = new Map();
      for (let slot = 0; slot < ourRows.length; slot++) {
        const row = ourRows[slot]!;
        if (row.kind === 'payment' && row.channelTradeNo) byTradeNo.set(row.channelTradeNo, slot);
      }
    }
    return byTradeNo.get(tradeNo);
  };
  for (const row of input.carryIn.platform) index(row, true);
  for (const row of input.platform) {
    if (row.channel !== input.channel || !platformCounts(row) || row.at === null || row.at < lo || row.at >= hi) continue;
    const inDay = row.at >= fromMs && row.at < toMs;
    if (inDay) {
      totals.platformRows += 1;
      if (row.kind === 'payment') totals.platformPaymentsFen += row.amountFen;
      else totals.platformRefundsFen += row.amountFen;
    }
    index(row, inDay && !alreadyMatched.has(platformRef(row)));
  }

  const discrepancies: Discrepancy[] = [];
  const matchedAhead: string[] = [];
  const found = (kind: DiscrepancyKind, ref: string, bill: BillRow | null, platform: PlatformRow | null, extra: Partial<Discrepancy> = {}) =>
    discrepancies.push({ kind, channel: input.channel, ref, txnNo: platform?.txnNo ?? (bill ? txnNoOfPaymentNo(bill.paymentNo) : null), bill, platform, ...extra });

  for await (const row of bill) {
    if (row.channel !== input.channel) continue;
    totals.billRows += 1;
    totals.billFeesFen += row.feeFen;
    if (row.status === 'succeeded') {
      if (row.kind === 'payment') totals.billPaymentsFen += row.amountFen;
      else totals.billRefundsFen += row.amountFen;
    }
    const ref = row.merchantRef;
    // A payment whose echoed number was garbled is still found by the channel's transaction id.
    const slot = slotOf.get(ref) ?? (row.kind === 'payment' ? slotOfTradeNo(row.channelRef) : undefined);
    if (slot !== undefined) {
      const ours = ourRows[slot]!;
      const oursRef = platformRef(ours);
      required[slot] = false;
      if (ours.at !== null && ours.at >= toMs) matchedAhead.push(oursRef);
      if (row.status !== 'succeeded') {
        found('platform_over_status', oursRef, row, ours);
        continue;
      }
      totals.matched += 1;
      if (row.amountFen > ours.amountFen) found('platform_short_amount', oursRef, row, ours);
      else if (row.amountFen < ours.amountFen) found('platform_over_amount', oursRef, row, ours);
      else checkFee(row, ours);
      continue;
    }
    // Nothing counted on our side near this day: what do we know of it at all?
    const other = await input.lookup(row);
    if (row.status !== 'succeeded') {
      // Neither side counts it (a failed payment both know of), or only the channel lists a failure: no money moved.
      if (other && platformCounts(other)) found('platform_over_status', ref, row, other);
      else totals.matched += 1;
      continue;
    }
    if (!other) found('platform_missing', ref, row, null);
    else if (!platformCounts(other)) found('platform_short_status', ref, row, other);
    else if (row.amountFen !== other.amountFen) found(row.amountFen > other.amountFen ? 'platform_short_amount' : 'platform_over_amount', ref, row, other);
    else {
      // Counted by us on a day more than 10 minutes away: the same money, a different day. Matched.
      // Counted later (a leg a query recovered after the day): the next day's run must not miss it on its bill.
      if (other.at !== null && other.at >= toMs) matchedAhead.push(ref);
      totals.matched += 1;
      checkFee(row, other);
    }
  }

  function checkFee(row: BillRow, ours: PlatformRow): void {
    const expected = input.expectedFee?.(row) ?? null;
    if (expected !== null && expected !== row.feeFen) found('fee_mismatch', platformRef(ours), row, ours, { expectedFeeFen: expected });
  }

  const carried: PlatformRow[] = [];
  for (let slot = 0; slot < ourRows.length; slot++) {
    if (!required[slot]) continue;
    const ours = ourRows[slot]!;
    const ref = platformRef(ours);
    if (ours.at !== null && ours.at >= toMs - CARRY_WINDOW_MS && ours.at < toMs) carried.push(ours);
    else found('channel_missing', ref, null, ours);
  }
  return { discrepancies, totals, carry: { platform: carried, matchedAhead } };
}
