import type { BillChannel, BillRow } from '../domain/reconciliation/bill-row.ts';
import { CARRY_WINDOW_MS, chinaDayWindow, platformCounts, txnNoOfPaymentNo, type PlatformRow, type PlatformRowStatus } from '../domain/reconciliation/match.ts';
import type { AdminQueries, Journal, OrderArchive, SnapshotStore } from '../storage/types.ts';
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

/**
 * The platform's side of a channel day (issue 19): the legs captured and refund legs refunded, by
 * journal time, in the hot store and the order archive together (a transaction in both counts as
 * the hot store has it), and the lookup of any one reference the bill names.
 */
export class PlatformSide {
  constructor(
    private readonly hot: { snapshots: SnapshotStore; journal: Journal; admin: AdminQueries },
    private readonly archive: OrderArchive | null,
  ) {}

  /** Our counted rows of `channel` from 10 minutes before the China-time `day` to 10 minutes after it. */
  async dayRows(channel: BillChannel, day: string): Promise<PlatformRow[]> {
    const { fromMs, toMs } = chinaDayWindow(day);
    const lo = fromMs - CARRY_WINDOW_MS;
    const hi = toMs + CARRY_WINDOW_MS;
    const out: PlatformRow[] = [];
    const hotTxnNos = new Set<string>();
    for await (const listing of this.hotListings()) {
      hotTxnNos.add(listing.txnNo);
      for (const row of platformRowsOf(listing, channel)) if (platformCounts(row) && row.at !== null && row.at >= lo && row.at < hi) out.push(row);
    }
    if (this.archive?.enabled) {
      for await (const m of this.archive.movements(channel, lo, hi)) {
        if (hotTxnNos.has(m.txnNo)) continue;
        out.push({
          kind: m.kind, channel, txnNo: m.txnNo, merchantId: m.merchantId, paymentNo: m.paymentNo, refundLegNo: m.refundLegNo,
          // A movement is money that moved: a captured leg or a refund leg paid back. Archived transactions are final.
          amountFen: m.amountFen, status: 'succeeded', channelTradeNo: m.channelTradeNo, at: m.at, txnState: 'final',
        });
      }
    }
    return out;
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
  async listing(txnNo: string): Promise<Pick<OrderListing, 'txnNo' | 'merchantId' | 'state' | 'legs' | 'refunds'> | null> {
    const record = await this.hot.snapshots.load(txnNo);
    if (record) return orderListingOf(record, await this.hot.journal.entries(txnNo));
    const archived = this.archive?.enabled ? await this.archive.get(txnNo) : null;
    return archived ? archived.row : null;
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
        if (record) yield orderListingOf(record, await this.hot.journal.entries(record.txnNo));
      }
      if (page.length < 500) return;
    }
  }
}
