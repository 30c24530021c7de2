import { fenIn, instantIn } from './bill-cells.ts';
import type { BillChannel, BillRow, BillTotals } from './bill-row.ts';

/**
 * What the bill formats share, for the gateway simulator that writes them and the parsers that
 * read them: yuan strings ⇄ integer fen, China time, the channels' configured fee rates, and the
 * check of a bill's stated totals against its rows. Pure; nothing here reads the clock.
 */

/** China time is UTC+8 all year (no daylight saving). */
export const CHINA_OFFSET_MS = 8 * 3600_000;
const DAY_MS = 86_400_000;

/** The configured fee rate per channel in hundredths of a percent (60 = 0.60 %). */
export const FEE_RATE_BP: Record<BillChannel, number> = { wechat: 60, alipay: 60, unionpay: 50, senseless: 30 };

/**
 * The channel's fee on an amount, in fen: `amount × rate`, rounded half up to the fen
 * (0.6 % of 12.50 yuan = 7.5 fen → 8 fen). A refund gives back the fee of the refunded amount,
 * rounded the same way, as a negative fee.
 */
export function channelFeeFen(channel: BillChannel, kind: BillRow['kind'], amountFen: number): number {
  const fee = Math.floor((amountFen * FEE_RATE_BP[channel] + 5000) / 10000);
  return kind === 'refund' ? -fee : fee;
}

/** The rate as the WeChat bill prints it: `0.60%`. */
export function feeRateText(channel: BillChannel): string {
  return `${(FEE_RATE_BP[channel] / 100).toFixed(2)}%`;
}

/** Integer fen as yuan with two decimals: 1234 → `12.34`, -6 → `-0.06`. */
export function yuan(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** Yuan text as integer fen, exactly (no floating point), or null when it is not an amount. */
export function fenOf(text: string): number | null {
  return fenIn(text, 0, text.length);
}

/** The China-time day `YYYY-MM-DD` as its UTC instant bounds [start, end). */
export function chinaDayBounds(day: string): { startMs: number; endMs: number } {
  const startMs = Date.parse(`${day}T00:00:00Z`) - CHINA_OFFSET_MS;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(startMs)) throw new RangeError(`not a day: ${day}`);
  return { startMs, endMs: startMs + DAY_MS };
}

/** The China-time day an instant falls on. */
export function chinaDayOf(ms: number): string {
  return new Date(ms + CHINA_OFFSET_MS).toISOString().slice(0, 10);
}

/** The day after (or, with -1, before) a day. */
export function shiftDay(day: string, days: number): string {
  return chinaDayOf(chinaDayBounds(day).startMs + days * DAY_MS);
}

/** An instant as the bills print it, China time: `2026-12-01 08:05:09`. */
export function chinaTime(ms: number): string {
  return new Date(ms + CHINA_OFFSET_MS).toISOString().slice(0, 19).replace('T', ' ');
}

/** A bill's China time as an ISO instant (UTC), or null when it is not one. */
export function instantOfChinaTime(text: string): string | null {
  return instantIn(text, 0, text.length);
}

/** Running totals of a bill's rows, the way its summary states them. */
export class TotalsCounter {
  readonly totals: BillTotals = { rows: 0, paymentsFen: 0, refundsFen: 0, feesFen: 0 };

  add(row: Pick<BillRow, 'kind' | 'amountFen' | 'feeFen'>): void {
    this.totals.rows++;
    if (row.kind === 'payment') this.totals.paymentsFen += row.amountFen;
    else this.totals.refundsFen += row.amountFen;
    this.totals.feesFen += row.feeFen;
  }
}

/**
 * What a parser says about a bill once its rows are read: the totals the rows add up to, the
 * totals the bill states (null when it states none), and every way the two, or the file, disagree.
 * A mismatch is a value, never a throw: the reconciliation keeps it as evidence.
 */
export interface BillCheck {
  channel: BillChannel;
  counted: BillTotals;
  stated: BillTotals | null;
  /** True when the file was well formed and the stated totals equal the counted ones. */
  ok: boolean;
  /** Each problem in words, with its line: a malformed row, a missing summary, a total that differs. */
  problems: string[];
}

/** Compares the counted totals with the stated ones and adds what differs to `problems`. */
export function checkTotals(channel: BillChannel, counted: BillTotals, stated: BillTotals | null, problems: string[]): BillCheck {
  if (stated === null) problems.push('the bill states no totals (summary lines missing)');
  else {
    for (const field of ['rows', 'paymentsFen', 'refundsFen', 'feesFen'] as const) {
      if (stated[field] !== counted[field]) problems.push(`the bill states ${field} ${stated[field]}, its rows add up to ${counted[field]}`);
    }
  }
  return { channel, counted: { ...counted }, stated, ok: problems.length === 0, problems };
}

/**
 * What every parser yields: the rows, one by one, then exactly one `end` with the check of the
 * whole bill. A consumer that only wants rows skips the `end`; nothing is held back in memory.
 */
export type BillEvent = { type: 'row'; row: BillRow } | { type: 'end'; check: BillCheck };
