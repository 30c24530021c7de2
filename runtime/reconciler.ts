import type { BillChannel, BillRow } from '../domain/reconciliation/bill-row.ts';
import { matchDay, type CarryOver, type MatchResult } from '../domain/reconciliation/match.ts';
import type { PlatformSide } from './recon-platform.ts';

/**
 * Where a channel day's bill rows come from: the channel's bill file through its parser, or (until
 * those are plugged in, and in tests) the gateway simulator's own records. Rows are streamed.
 */
export interface BillSource {
  rows(channel: BillChannel, day: string): AsyncIterable<BillRow>;
}

/** What {@link reconcileDay} needs besides the channel and the day. */
export interface ReconcileOptions {
  bills: BillSource;
  platform: PlatformSide;
  /** What the previous day's run carried over. */
  carryIn: CarryOver;
  /** The fee the configured rate gives for a row; absent: fees are not checked. */
  expectedFee?: (row: BillRow) => number | null;
}

/** Matches one channel day: the bill streamed against our side of the day (hot store and archive). */
export async function reconcileDay(channel: BillChannel, day: string, opts: ReconcileOptions): Promise<MatchResult> {
  const platform = await opts.platform.dayRows(channel, day);
  return matchDay(opts.bills.rows(channel, day), {
    channel,
    day,
    platform,
    carryIn: opts.carryIn,
    lookup: (row) => opts.platform.lookup(row),
    ...(opts.expectedFee ? { expectedFee: opts.expectedFee } : {}),
  });
}
