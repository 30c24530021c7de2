import type { BillChannel, BillRow } from '../domain/reconciliation/bill-row.ts';
import { CARRY_WINDOW_MS, chinaDayWindow, platformCounts, platformRef, txnNoOfPaymentNo, type PlatformRow, type PlatformRowStatus } from '../domain/reconciliation/match.ts';
import type { TxnContext } from '../machines/types.ts';
import type { AdminQueries, Journal, JournalEntry, OrderArchive, SnapshotStore, TransactionRecord } from '../storage/types.ts';
import { HOT_SCAN_LIMIT } from './order-queries.ts';
import { orderListingOf, type OrderListing } from './order-row.ts';

const STATUSES: readonly PlatformRowStatus[] = ['succeeded', 'pending', 'closed', 'failed', 'refunded', 'locked', 'attention'];

function statusOf(raw: string): PlatformRowStatus {
  // An unknown status counts as not settled: the matcher then asks, rather than assumes money moved.
  return (STATUSES as readonly string[]).includes(raw) ? (raw as PlatformRowStatus) : 'pending';
}

/**
 * Every payment leg and refund leg of `channel` in one order, whatever their status, as the
 * matcher compares them (a leg never captured has `at` null).
 */
export function platformRowsOf(listing: Pick<OrderListing, 'txnNo' | 'merchantId' | 'state' | 'legs' | 'refunds'>, channel: BillChannel): PlatformRow[] {
  const out: PlatformRow[] = [];
  const tradeNoOf = new Map(listing.legs.map((l) => [l.paymentNo, l.channelTradeNo]));
  for (const leg of listing.legs) {
    if (leg.method !== channel) continue;
    out.push({
      kind: 'payment', channel, txnNo: listing.txnNo, merchantId: listing.merchantId, paymentNo: leg.paymentNo, refundLegNo: null,
      amountFen: leg.amountFen, status: statusOf(leg.status), channelTradeNo: leg.channelTradeNo, at: leg.capturedAt, txnState: listing.state,
    });
  }
  for (const refund of listing.refunds) {
    for (const leg of refund.legs) {
      if (leg.method !== channel) continue;
      out.push({
        kind: 'refund', channel, txnNo: listing.txnNo, merchantId: listing.merchantId, paymentNo: leg.paymentNo, refundLegNo: leg.refundLegNo,
        amountFen: leg.amountFen, status: statusOf(leg.status), channelTradeNo: tradeNoOf.get(leg.paymentNo) ?? null, at: leg.refundedAt, txnState: listing.state,
      });
    }
  }
  return out;
}

type Listing = Pick<OrderListing, 'txnNo' | 'merchantId' | 'state' | 'legs' | 'refunds'>;

/**
 * A hot transaction's listing with the money of its give-backs (issue 19): a leg the channel
 * captured after we closed it has no LEG_SUCCEEDED, yet the money came in (when the late payment
 * was confirmed) and, given back, went out again under the give-back's refund number, which the
 * channel's bill lists as a refund row. Both are movements the bills count.
 */
export function withGiveBacks(listing: OrderListing, record: TransactionRecord, journal: readonly JournalEntry[]): OrderListing {
  const context = (record.snapshot as { context: TxnContext }).context;
  const confirmedAt = new Map<string, number>();
  const refundedAt = new Map<string, number>();
  for (const j of journal) {
    if (j.event === 'LATE_PAYMENT_CONFIRMED' && typeof j.data.legId === 'string' && !confirmedAt.has(j.data.legId)) confirmedAt.set(j.data.legId, j.at);
    if (j.event === 'RLEG_DONE' && j.data.status === 'succeeded' && typeof j.data.refundLegNo === 'string' && !refundedAt.has(j.data.refundLegNo)) refundedAt.set(j.data.refundLegNo, j.at);
  }
  const given = context.legs.filter((l) => l.giveBack);
  if (!given.length) return listing;
  const byLegNo = new Map(given.map((l) => [l.legNo, l]));
  const legs = listing.legs.map((leg) => {
    const l = byLegNo.get(leg.legNo);
    if (!l || leg.capturedAt !== null) return leg;
    const at = confirmedAt.get(l.legId) ?? null;
    // Captured late: counted as money in from its confirmation, whatever the leg's API status says.
    return at === null ? leg : { ...leg, capturedAt: at, status: l.giveBack!.status === 'succeeded' ? 'refunded' : 'succeeded' };
  });
  const refunds = [
    ...listing.refunds,
    ...given.map((l) => ({
      refundNo: l.giveBack!.refundNo,
      amountFen: l.amount,
      status: l.giveBack!.status,
      requestedAt: confirmedAt.get(l.legId) ?? 0,
      legs: [{ refundLegNo: l.giveBack!.refundNo, paymentNo: l.paymentNo, method: l.method, amountFen: l.amount, status: l.giveBack!.status, refundedAt: refundedAt.get(l.giveBack!.refundNo) ?? null }],
    })),
  ];
  return { ...listing, legs, refunds };
}

/** The instants a channel day's rows of ours are read from and to: the day and 10 minutes either side. */
function marginsOf(day: string): { lo: number; hi: number } {
  const { fromMs, toMs } = chinaDayWindow(day);
  return { lo: fromMs - CARRY_WINDOW_MS, hi: toMs + CARRY_WINDOW_MS };
}

/** An archived movement as the matcher compares it: money that moved (a captured leg or a refund leg paid back) of a final transaction. */
function archivedRow(m: Pick<PlatformRow, 'kind' | 'txnNo' | 'merchantId' | 'paymentNo' | 'refundLegNo' | 'amountFen' | 'channelTradeNo'> & { at: number }, channel: BillChannel): PlatformRow {
  return {
    kind: m.kind, channel, txnNo: m.txnNo, merchantId: m.merchantId, paymentNo: m.paymentNo, refundLegNo: m.refundLegNo,
    amountFen: m.amountFen, status: 'succeeded', channelTradeNo: m.channelTradeNo, at: m.at, txnState: 'final',
  };
}

/**
 * The platform's side of a channel day (issue 19): the legs captured and refund legs refunded, by
 * journal time, in the hot store and the order archive together (a transaction in both counts as
 * the hot store has it), and the lookup of any one reference the bill names.
 */
export class PlatformSide {
  constructor(
    private readonly hot: { snapshots: SnapshotStore; journal: Journal; admin: AdminQueries },
    private readonly archive: OrderArchive,
  ) {}

  /**
   * Our counted rows of `channel` from 10 minutes before the China-time `day` to 10 minutes after
   * it, streamed in ascending `at` (the matcher holds only a window of them): the hot store's,
   * sorted (the hot store is scanned whole, at most HOT_SCAN_LIMIT transactions), merged with the
   * archive's movements, which its index hands over in time order.
   */
  async *dayRows(channel: BillChannel, day: string): AsyncGenerator<PlatformRow> {
    const { lo, hi } = marginsOf(day);
    const hot: PlatformRow[] = [];
    const hotTxnNos = new Set<string>();
    for await (const listing of this.hotListings()) {
      hotTxnNos.add(listing.txnNo);
      for (const row of platformRowsOf(listing, channel)) if (platformCounts(row) && row.at !== null && row.at >= lo && row.at < hi) hot.push(row);
    }
    hot.sort((a, b) => a.at! - b.at!);
    let h = 0;
    if (this.archive.enabled) {
      for await (const m of this.archive.movements(channel, lo, hi)) {
        if (hotTxnNos.has(m.txnNo)) continue;
        while (h < hot.length && hot[h]!.at! <= m.at) yield hot[h++]!;
        yield archivedRow(m, channel);
      }
    }
    while (h < hot.length) yield hot[h++]!;
  }

  /**
   * Our row of the reference a bill row names as {@link dayRows} would yield it (counted, of the
   * channel, within the day's margins), else null: the matcher's `dayRow` for a bill row whose
   * row of ours it no longer (or not yet) holds.
   */
  async dayRow(row: BillRow, day: string): Promise<PlatformRow | null> {
    const { lo, hi } = marginsOf(day);
    const txnNo = txnNoOfPaymentNo(row.paymentNo);
    if (txnNo === null) return null;
    const inMargins = (r: PlatformRow) => platformCounts(r) && r.at !== null && r.at >= lo && r.at < hi && platformRef(r) === row.merchantRef;
    const record = await this.hot.snapshots.load(txnNo);
    if (record) return platformRowsOf(await this.hotListing(record), row.channel).find(inMargins) ?? null;
    const archived = this.archive.enabled ? await this.archive.get(txnNo) : null;
    if (!archived) return null;
    const ours = platformRowsOf(archived.row, row.channel).find(inMargins);
    return ours ? archivedRow({ ...ours, at: ours.at! }, row.channel) : null;
  }

  /** Our row of the reference a bill row names, from the transaction its payment number belongs to; null when we have none. */
  async lookup(row: BillRow): Promise<PlatformRow | null> {
    const txnNo = txnNoOfPaymentNo(row.paymentNo);
    if (txnNo === null) return null;
    const listing = await this.listing(txnNo);
    if (!listing) return null;
    return platformRowsOf(listing, row.channel).find((r) => (r.kind === 'payment' ? r.paymentNo : r.refundLegNo) === row.merchantRef && r.kind === row.kind) ?? null;
  }

  /** A transaction as a listing: the hot store's if it is there, else the archive's row. */
  async listing(txnNo: string): Promise<Listing | null> {
    const record = await this.hot.snapshots.load(txnNo);
    if (record) return this.hotListing(record);
    const archived = this.archive.enabled ? await this.archive.get(txnNo) : null;
    return archived ? archived.row : null;
  }

  private async hotListing(record: TransactionRecord): Promise<OrderListing> {
    const journal = await this.hot.journal.entries(record.txnNo);
    return withGiveBacks(orderListingOf(record, journal), record, journal);
  }

  private async *hotListings(): AsyncIterable<OrderListing> {
    let cursor: string | undefined;
    let scanned = 0;
    while (scanned < HOT_SCAN_LIMIT) {
      const page = await this.hot.admin.listTransactions({ limit: 500, ...(cursor ? { before: cursor } : {}) });
      if (!page.length) return;
      scanned += page.length;
      cursor = page.at(-1)!.txnNo;
      for (const p of page) {
        const record = await this.hot.snapshots.load(p.txnNo);
        if (record) yield this.hotListing(record);
      }
      if (page.length < 500) return;
    }
  }
}
