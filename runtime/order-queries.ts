import { TradeError } from '../domain/errors.ts';
import { chinaDay } from '../storage/archive/china-day.ts';
import { decodeOrderCursor, encodeOrderCursor, type OrderCursorPosition } from '../storage/archive/order-cursor.ts';
import type { AdminQueries, Journal, OrderArchive, OrderFilter, OrderGroupKey, OrderRow, OrderState, OrderSummaryRow, QuoteRecords, SnapshotStore } from '../storage/types.ts';
import { hotRecord } from './transaction-reads.ts';
import { orderListingOf, type OrderListing } from './order-row.ts';

/** At most this many hot-store transactions are read per query: the hot store holds what is in flight and the quiet period's. */
export const HOT_SCAN_LIMIT = 50_000;

/**
 * What `GET /admin/orders` filters by: the archive's filter, with any API state (an in-flight
 * transaction is `paying`, say; only final states are in the archive).
 */
export type OrderQuery = Omit<OrderFilter, 'state'> & { state?: string };

const FINAL: readonly OrderState[] = ['completed', 'cancelled', 'failed'];

function isOrderState(state: string): state is OrderState {
  return (FINAL as readonly string[]).includes(state);
}

/** The archive's part of a query, or null when no archived order can match (an in-flight state). */
function archiveFilter(query: OrderQuery): OrderFilter | null {
  const { state, ...rest } = query;
  if (state === undefined) return rest;
  return isOrderState(state) ? { ...rest, state } : null;
}

/** A page of {@link OrderQueries.search}: archived rows and in-flight ones, newest first. */
export interface OrderListingPage {
  rows: OrderListing[];
  nextCursor: string | null;
}

/**
 * `GET /admin/orders` and its summary over the hot store and the archive together (issue 18). An
 * in-flight transaction's row is derived like an archived one ({@link orderListingOf}); a
 * transaction in both (rehydrated for a refund, or caught between the archive write and its
 * removal) counts once, as the hot store has it. Both sides are ordered newest first by
 * (createdAt, txnNo), so one position is the cursor of both.
 */
export class OrderQueries {
  constructor(
    private readonly hot: { snapshots: SnapshotStore; quotes: QuoteRecords; journal: Journal; admin: AdminQueries },
    /** The bundle's archive; a disabled one (Redis without `TRADE_ARCHIVE_URL`) holds nothing. */
    private readonly archive: OrderArchive,
  ) {}

  async search(filter: OrderQuery, limit: number, cursor: string | null): Promise<OrderListingPage> {
    const position = cursor === null ? null : decodeOrderCursor(cursor);
    const hot = (await this.hotRows(filter)).filter((r) => position === null || before(r, position));
    const hotTxnNos = new Set(hot.map((r) => r.txnNo));
    const archived: OrderRow[] = [];
    const inArchive = archiveFilter(filter);
    if (inArchive) {
      // Archived rows shadowed by a hot one are skipped: read enough to fill the page anyway.
      const page = await this.archive.search(inArchive, limit + hotTxnNos.size, position === null ? null : encodeOrderCursor(position));
      archived.push(...page.rows.filter((r) => !hotTxnNos.has(r.txnNo)));
    }
    const merged = [...hot, ...archived].sort(newestFirst);
    const rows = merged.slice(0, limit);
    const last = rows.at(-1);
    const more = merged.length > limit || (await this.moreAfter(filter, last, hotTxnNos));
    return { rows, nextCursor: more && last ? encodeOrderCursor({ createdAt: last.createdAt, txnNo: last.txnNo }) : null };
  }

  /** Counts and sums by `groupBy` (API.md `GET /admin/orders/summary`), the same groups as the archive's. */
  async summary(filter: OrderQuery, groupBy: OrderGroupKey[]): Promise<OrderSummaryRow[]> {
    const inArchive = archiveFilter(filter);
    const groups = new Map<string, OrderSummaryRow>();
    const add = (row: OrderSummaryRow, sign: 1 | -1) => {
      const key = JSON.stringify([row.day, row.stationId, row.method]);
      const into = groups.get(key) ?? { day: row.day, stationId: row.stationId, method: row.method, count: 0, originalAmountFen: 0, discountAmountFen: 0, payableAmountFen: 0, paidAmountFen: 0, refundedAmountFen: 0 };
      into.count += sign * row.count;
      into.originalAmountFen += sign * row.originalAmountFen;
      into.discountAmountFen += sign * row.discountAmountFen;
      into.payableAmountFen += sign * row.payableAmountFen;
      into.paidAmountFen += sign * row.paidAmountFen;
      into.refundedAmountFen += sign * row.refundedAmountFen;
      groups.set(key, into);
    };
    if (inArchive) for (const row of await this.archive.summary(inArchive, groupBy)) add(row, 1);
    for (const row of await this.hotRows(filter)) {
      // Counted in the archive at an older version: that copy gives way to this one.
      const stale = await this.archive.get(row.txnNo);
      if (stale && matches(stale.row, filter)) for (const g of summaryRowsOf(stale.row, groupBy)) add(g, -1);
      for (const g of summaryRowsOf(row, groupBy)) add(g, 1);
    }
    const out = [...groups.values()].filter((g) => g.count !== 0).sort(byGroup);
    // Totals over nothing are one row of zeros, as the archive answers.
    return out.length || groupBy.length ? out : [{ day: null, stationId: null, method: null, count: 0, originalAmountFen: 0, discountAmountFen: 0, payableAmountFen: 0, paidAmountFen: 0, refundedAmountFen: 0 }];
  }

  /** Whether rows after `last` remain on either side once this page is taken. */
  private async moreAfter(filter: OrderQuery, last: OrderListing | undefined, hotTxnNos: Set<string>): Promise<boolean> {
    const inArchive = archiveFilter(filter);
    if (!last || !inArchive) return false;
    const next = await this.archive.search(inArchive, hotTxnNos.size + 1, encodeOrderCursor({ createdAt: last.createdAt, txnNo: last.txnNo }));
    return next.rows.some((r) => !hotTxnNos.has(r.txnNo));
  }

  /** The hot store's transactions matching `filter`, as rows. */
  private async hotRows(filter: OrderQuery): Promise<OrderListing[]> {
    const out: OrderListing[] = [];
    let cursor: string | undefined;
    let scanned = 0;
    while (scanned < HOT_SCAN_LIMIT) {
      const page = await this.hot.admin.listTransactions({ limit: 500, ...(filter.merchantIds ? { merchantIds: filter.merchantIds } : {}), ...(cursor ? { before: cursor } : {}) });
      if (!page.length) break;
      scanned += page.length;
      cursor = page.at(-1)!.txnNo;
      const records = await Promise.all(page.map((p) => hotRecord(this.hot, p.txnNo)));
      for (const record of records) {
        if (!record) continue;
        const row = orderListingOf(record, await this.hot.journal.entries(record.txnNo));
        if (matches(row, filter)) out.push(row);
      }
      if (page.length < 500) break;
    }
    return out;
  }
}

/** The filter of API.md on one row, as the archive applies it. */
export function matches(row: OrderListing, filter: OrderQuery): boolean {
  if (filter.merchantIds && !filter.merchantIds.includes(row.merchantId)) return false;
  if (filter.stationId !== undefined && row.stationId !== filter.stationId) return false;
  if (filter.scene !== undefined && row.scene !== filter.scene) return false;
  if (filter.state !== undefined && row.state !== filter.state) return false;
  if (filter.method !== undefined && !row.legs.some((l) => l.method === filter.method)) return false;
  if (filter.origin !== undefined && row.origin !== filter.origin) return false;
  if (filter.osOrderNo !== undefined && row.osOrderNo !== filter.osOrderNo) return false;
  if (filter.fromMs !== undefined && row.createdAt < filter.fromMs) return false;
  if (filter.toMs !== undefined && row.createdAt >= filter.toMs) return false;
  return true;
}

/**
 * One row's part in the summary's groups (see OrderSummaryRow): grouped by method, it counts in each
 * method it has a leg of, with that method's own captured and refunded money.
 */
export function summaryRowsOf(row: OrderListing, groupBy: OrderGroupKey[]): OrderSummaryRow[] {
  const base = {
    day: groupBy.includes('day') ? chinaDay(row.createdAt) : null,
    stationId: groupBy.includes('station') ? row.stationId : null,
    count: 1,
    originalAmountFen: row.originalAmountFen,
    discountAmountFen: row.discountAmountFen,
    payableAmountFen: row.payableAmountFen,
  };
  if (!groupBy.includes('method')) return [{ ...base, method: null, paidAmountFen: row.paidAmountFen, refundedAmountFen: row.refundedAmountFen }];
  const methods = [...new Set(row.legs.map((l) => l.method))];
  return methods.map((method) => ({
    ...base,
    method,
    paidAmountFen: row.legs.filter((l) => l.method === method && l.capturedAt !== null).reduce((a, l) => a + l.amountFen, 0),
    refundedAmountFen: row.refunds.flatMap((r) => r.legs).filter((l) => l.method === method && l.refundedAt !== null).reduce((a, l) => a + l.amountFen, 0),
  }));
}

function before(row: OrderListing, position: OrderCursorPosition): boolean {
  return row.createdAt < position.createdAt || (row.createdAt === position.createdAt && row.txnNo < position.txnNo);
}

function newestFirst(a: OrderListing, b: OrderListing): number {
  return b.createdAt - a.createdAt || (a.txnNo < b.txnNo ? 1 : a.txnNo > b.txnNo ? -1 : 0);
}

function byGroup(a: OrderSummaryRow, b: OrderSummaryRow): number {
  return JSON.stringify([a.day, a.stationId, a.method]) < JSON.stringify([b.day, b.stationId, b.method]) ? -1 : 1;
}

/** The filters of `GET /admin/orders` as text (the query string, the CLI's flags). */
export interface OrderQueryParams {
  merchantId?: string;
  stationId?: string;
  scene?: string;
  state?: string;
  method?: string;
  origin?: 'platform' | 'os-import';
  /** An imported order's OS order number; with `stationId`, as OS numbers are unique per station. */
  osOrderNo?: string;
  /** `YYYY-MM-DD` (that China-time day's midnight) or an ISO date-time. */
  from?: string;
  to?: string;
}

const CHINA_OFFSET_MS = 8 * 3_600_000;

/** A filter instant: `YYYY-MM-DD` (that China-time day's midnight) or an ISO date-time, as epoch ms; 400 otherwise. */
export function instant(name: string, raw: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(raw) ? Date.parse(`${raw}T00:00:00Z`) - CHINA_OFFSET_MS : Date.parse(raw);
  if (!Number.isFinite(ms)) throw new TradeError('INVALID_REQUEST', `${name}: not a date (YYYY-MM-DD) or an ISO date-time: ${raw}`);
  return ms;
}

/** The query of `params`, limited to the merchants `scope` allows (null: all); another merchant's orders are as absent as none. */
export function orderQueryOf(params: OrderQueryParams, scope: string[] | null): OrderQuery {
  // OS numbers repeat across stations (each OS counts its own): one alone names no order.
  if (params.osOrderNo !== undefined && params.stationId === undefined) throw new TradeError('INVALID_REQUEST', 'osOrderNo: give stationId too (OS order numbers are unique per station)');
  const merchants = params.merchantId !== undefined ? (scope === null || scope.includes(params.merchantId) ? [params.merchantId] : []) : scope;
  return {
    ...(merchants ? { merchantIds: merchants } : {}),
    ...(params.stationId !== undefined ? { stationId: params.stationId } : {}),
    ...(params.scene !== undefined ? { scene: params.scene } : {}),
    ...(params.state !== undefined ? { state: params.state } : {}),
    ...(params.method !== undefined ? { method: params.method } : {}),
    ...(params.origin !== undefined ? { origin: params.origin } : {}),
    ...(params.osOrderNo !== undefined ? { osOrderNo: params.osOrderNo } : {}),
    ...(params.from !== undefined ? { fromMs: instant('from', params.from) } : {}),
    ...(params.to !== undefined ? { toMs: instant('to', params.to) } : {}),
  };
}

const GROUP_KEYS: readonly OrderGroupKey[] = ['day', 'station', 'method'];

/** `day,station,method` (any of them, any order) → the summary's keys; refuses anything else. */
export function groupByOf(raw: string | undefined): OrderGroupKey[] {
  if (!raw) return [];
  const keys = [...new Set(raw.split(','))];
  const known = keys.filter((k): k is OrderGroupKey => (GROUP_KEYS as readonly string[]).includes(k));
  if (known.length !== keys.length) throw new TradeError('INVALID_REQUEST', `groupBy: any of ${GROUP_KEYS.join(', ')}, not ${raw}`);
  return known;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** An order as the API and the CLI show it: times as ISO-8601. */
export function orderView(r: OrderListing) {
  return {
    ...r,
    legs: r.legs.map((l) => ({ ...l, capturedAt: iso(l.capturedAt) })),
    refunds: r.refunds.map((x) => ({ ...x, requestedAt: new Date(x.requestedAt).toISOString(), legs: x.legs.map((l) => ({ ...l, refundedAt: iso(l.refundedAt) })) })),
    createdAt: new Date(r.createdAt).toISOString(),
    paidAt: iso(r.paidAt),
    finishedAt: iso(r.finishedAt),
  };
}

/** {@link orderView}'s shape. */
export type OrderView = ReturnType<typeof orderView>;
