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
   * to 10 minutes after it; rows outside that window or not counted are ignored. Streamed, and
   * best in ascending `at` (as the store's movements come): the matcher then holds only the rows
   * within {@link MatchInput.windowMs} of the bill's progress, and those still unmatched. Any
   * order gives the same result (a bill row ahead of its row of ours is matched through
   * {@link MatchInput.dayRow}); only the memory differs.
   */
  platform: Iterable<PlatformRow> | AsyncIterable<PlatformRow>;
  /** What the previous day's run carried over ({@link MatchResult.carry}). */
  carryIn: CarryOver;
  /**
   * Our row of a reference the day's rows lack (a leg still pending, closed or failed, or one
   * counted on another day), or null when we have no record of it.
   */
  lookup(row: BillRow): Promise<PlatformRow | null>;
  /**
   * Our row of the reference a bill row names exactly as `platform` yields it, when `platform`
   * has one (counted, within the day's 10-minute margins), else null: asked only for a bill row
   * whose row of ours is not held (not streamed yet, or let go as matched). Absent: `lookup`'s
   * answer when it is such a row.
   */
  dayRow?(row: BillRow): Promise<PlatformRow | null>;
  /** The fee the configured rate gives for a row; null when no rate is configured (no check). */
  expectedFee?(row: BillRow): number | null;
  /**
   * How far from the bill's latest time (ms) rows of ours are held before the bill reaches them
   * and after it has passed them; default {@link MATCH_WINDOW_MS}. Only memory and speed depend
   * on it, and the one thing a held row gives over `dayRow`: a payment whose echoed number the
   * channel garbled is found by its transaction id only among the rows held.
   */
  windowMs?: number;
}

/**
 * The default of {@link MatchInput.windowMs}: a bill row and our row of it are seconds apart (the
 * channel's time against our capture's); a leg a query recovered hours later is found by `dayRow`.
 */
export const MATCH_WINDOW_MS = 15 * 60_000;

/** The transaction number inside a payment number `txnNo-P<n>`, or null. */
export function txnNoOfPaymentNo(paymentNo: string): string | null {
  const m = /^(.+)-P\d+$/.exec(paymentNo);
  return m ? m[1]! : null;
}

/** One reference of ours as the matcher holds it. */
interface Slot {
  row: PlatformRow;
  /** The bill must still list it (in the day, not matched ahead by the previous day's bill). */
  required: boolean;
  /** A bill row named it: a row of the same reference streamed later does not make it required again. */
  matched: boolean;
  /** Order of first sight, for the order of what is missing at the end. */
  seq: number;
  /** Still in the time window's queue (false once let go or kept only as unmatched). */
  queued: boolean;
}

/**
 * Matches one channel day (DOMAIN.md "Reconciliation"), streaming both sides: the bill in its
 * order, ours in time order, merge-joined on time. Our rows are held by reference (and by the
 * channel's transaction id) while they lie within `windowMs` of the bill's latest time; behind
 * that they are let go once matched or not required, and kept while the bill must still list them.
 * Each bill row is classified as it arrives; one whose row of ours is not held is asked of
 * `dayRow`, then `lookup`. What remains of ours at the end is missing from the channel, unless it
 * lies in the last 10 minutes of the day (carried to the next day's run) or the previous day's
 * bill already had it. Memory is bounded by the rows of one window plus the unmatched ones,
 * whatever the size of the day. Pure: no clock, no storage besides `lookup` and `dayRow`.
 */
export async function matchDay(bill: AsyncIterable<BillRow> | Iterable<BillRow>, input: MatchInput): Promise<MatchResult> {
  const { fromMs, toMs } = chinaDayWindow(input.day);
  const lo = fromMs - CARRY_WINDOW_MS;
  const hi = toMs + CARRY_WINDOW_MS;
  const windowMs = input.windowMs ?? MATCH_WINDOW_MS;
  const held = new Map<string, Slot>();
  const byTradeNo = new Map<string, Slot>();
  // Slots in the order they were taken in, for letting go of those the bill has passed.
  let queue: Slot[] = [];
  let queueHead = 0;
  let seq = 0;
  // References a bill row matched through dayRow before their row of ours came in (out of order).
  const matchedEarly = new Set<string>();
  const totals: MatchTotals = { billRows: 0, billPaymentsFen: 0, billRefundsFen: 0, billFeesFen: 0, platformRows: 0, platformPaymentsFen: 0, platformRefundsFen: 0, matched: 0 };
  const alreadyMatched = new Set(input.carryIn.matchedAhead);

  const hold = (row: PlatformRow, mustMatch: boolean) => {
    const ref = platformRef(row);
    let slot = held.get(ref);
    if (slot === undefined) {
      const early = matchedEarly.delete(ref);
      slot = { row, required: mustMatch && !early, matched: early, seq: seq++, queued: true };
      held.set(ref, slot);
      queue.push(slot);
    } else {
      slot.row = row;
      if (mustMatch && !slot.matched) slot.required = true;
    }
    if (row.kind === 'payment' && row.channelTradeNo) byTradeNo.set(row.channelTradeNo, slot);
  };
  const letGo = (slot: Slot) => {
    const ref = platformRef(slot.row);
    if (held.get(ref) === slot) held.delete(ref);
    const tradeNo = slot.row.kind === 'payment' ? slot.row.channelTradeNo : null;
    if (tradeNo && byTradeNo.get(tradeNo) === slot) byTradeNo.delete(tradeNo);
  };
  /** Lets go of the held rows the bill has passed by more than the window, unless still required. */
  const passed = (watermark: number) => {
    while (queueHead < queue.length) {
      const slot = queue[queueHead]!;
      if (!(slot.row.at! < watermark - windowMs)) break;
      queueHead += 1;
      slot.queued = false;
      if (!slot.required) letGo(slot);
    }
    if (queueHead > 4096 && queueHead * 2 > queue.length) {
      queue = queue.slice(queueHead);
      queueHead = 0;
    }
  };

  for (const row of input.carryIn.platform) hold(row, true);

  const source = Symbol.asyncIterator in input.platform
    ? (input.platform as AsyncIterable<PlatformRow>)[Symbol.asyncIterator]()
    : (input.platform as Iterable<PlatformRow>)[Symbol.iterator]();
  let next: PlatformRow | null = null;
  let sourceDone = false;
  /** The next row of ours the matcher takes (counted, of the channel, within the margins), or null at the end. */
  const peek = async (): Promise<PlatformRow | null> => {
    while (next === null && !sourceDone) {
      const r = await source.next();
      if (r.done) {
        sourceDone = true;
        break;
      }
      const row = r.value;
      if (row.channel !== input.channel || !platformCounts(row) || row.at === null || row.at < lo || row.at >= hi) continue;
      next = row;
    }
    return next;
  };
  /** Takes in our rows up to `watermark` plus the window, letting go of those passed as it goes. */
  const advance = async (watermark: number) => {
    for (let row = await peek(); row !== null && row.at! <= watermark + windowMs; row = await peek()) {
      next = null;
      const inDay = row.at! >= fromMs && row.at! < toMs;
      if (inDay) {
        totals.platformRows += 1;
        if (row.kind === 'payment') totals.platformPaymentsFen += row.amountFen;
        else totals.platformRefundsFen += row.amountFen;
      }
      hold(row, inDay && !alreadyMatched.has(platformRef(row)));
      passed(watermark);
    }
    passed(watermark);
  };

  const discrepancies: Discrepancy[] = [];
  const matchedAhead: string[] = [];
  const found = (kind: DiscrepancyKind, ref: string, bill: BillRow | null, platform: PlatformRow | null, extra: Partial<Discrepancy> = {}) =>
    discrepancies.push({ kind, channel: input.channel, ref, txnNo: platform?.txnNo ?? (bill ? txnNoOfPaymentNo(bill.paymentNo) : null), bill, platform, ...extra });
  const dayRow = input.dayRow ?? (async (row: BillRow): Promise<PlatformRow | null> => {
    const ours = await input.lookup(row);
    return ours && ours.channel === input.channel && platformCounts(ours) && ours.at !== null && ours.at >= lo && ours.at < hi ? ours : null;
  });

  let watermark = -Infinity;
  for await (const row of bill) {
    if (row.channel !== input.channel) continue;
    const at = Date.parse(row.at);
    if (at > watermark) watermark = at;
    // Most rows need nothing of ours read: no promise for them, only the rows passed let go.
    const ahead = next as PlatformRow | null;
    if ((ahead === null && sourceDone) || (ahead !== null && ahead.at! > watermark + windowMs)) passed(watermark);
    else await advance(watermark);
    totals.billRows += 1;
    totals.billFeesFen += row.feeFen;
    if (row.status === 'succeeded') {
      if (row.kind === 'payment') totals.billPaymentsFen += row.amountFen;
      else totals.billRefundsFen += row.amountFen;
    }
    const ref = row.merchantRef;
    // A payment whose echoed number was garbled is still found by the channel's transaction id.
    const slot = held.get(ref) ?? (row.kind === 'payment' ? byTradeNo.get(row.channelRef) : undefined);
    let ours: PlatformRow | null = null;
    if (slot !== undefined) {
      ours = slot.row;
      slot.matched = true;
      slot.required = false;
      if (!slot.queued) letGo(slot);
    } else {
      // Not held: not reached yet (ours came later than the window), or let go after a match.
      ours = await dayRow(row);
      if (ours !== null) matchedEarly.add(platformRef(ours));
    }
    if (ours !== null) {
      const oursRef = platformRef(ours);
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
  // The rest of ours, after the bill's last row: what is still required is missing (or carried).
  await advance(Infinity);

  function checkFee(row: BillRow, ours: PlatformRow): void {
    const expected = input.expectedFee?.(row) ?? null;
    if (expected !== null && expected !== row.feeFen) found('fee_mismatch', platformRef(ours), row, ours, { expectedFeeFen: expected });
  }

  const carried: PlatformRow[] = [];
  const unmatched = [...held.values()].filter((s) => s.required).sort((a, b) => a.seq - b.seq);
  for (const { row: ours } of unmatched) {
    const ref = platformRef(ours);
    if (ours.at !== null && ours.at >= toMs - CARRY_WINDOW_MS && ours.at < toMs) carried.push(ours);
    else found('channel_missing', ref, null, ours);
  }
  return { discrepancies, totals, carry: { platform: carried, matchedAhead } };
}
