import { chinaDay } from '../archive/china-day.ts';
import { orderFilterConditions, type SqlDialect } from '../archive/filter-sql.ts';
import { channelTradeNoByPayment, methodShares, newestPerTxn } from '../archive/entries.ts';
import { mapRows, mergeByAt, movement, paged, type PaymentMovementRow, type RefundMovementRow } from '../archive/movements.ts';
import { decodeOrderCursor, encodeOrderCursor } from '../archive/order-cursor.ts';
import type {
  ArchiveCounts,
  ArchiveEntry,
  ArchivePutResult,
  OrderArchive,
  OrderFilter,
  OrderGroupKey,
  OrderLeg,
  OrderMovement,
  OrderPage,
  OrderRefund,
  OrderRow,
  OrderSummaryRow,
  StoredJournalEntry,
  TaskRecord,
  TransactionRecord,
} from '../types.ts';
import { arrayLiteral } from './array-literal.ts';
import { PostgresHandle, type PostgresOptions } from './handle.ts';
import { MonthPartitions } from './partitions.ts';

/** An `archive_orders` row as pg reads it (int8 as numbers, see handle.ts). */
interface OrderDbRow {
  txn_no: string;
  order_no: string | null;
  origin: OrderRow['origin'];
  os_order_no: string | null;
  merchant_id: string;
  station_id: string;
  scene: string;
  user_id: string | null;
  state: OrderRow['state'];
  original_fen: number;
  discount_fen: number;
  payable_fen: number;
  paid_fen: number;
  refunded_fen: number;
  created_at: number;
  paid_at: number | null;
  finished_at: number;
  legs: string;
  refunds: string;
}

const ORDER_COLUMNS = `o.txn_no, o.order_no, o.origin, o.os_order_no, o.merchant_id, o.station_id, o.scene, o.user_id, o.state,
  o.original_fen, o.discount_fen, o.payable_fen, o.paid_fen, o.refunded_fen, o.created_at, o.paid_at, o.finished_at, o.legs, o.refunds`;

function toOrderRow(r: OrderDbRow): OrderRow {
  return {
    txnNo: r.txn_no,
    orderNo: r.order_no,
    origin: r.origin,
    osOrderNo: r.os_order_no,
    merchantId: r.merchant_id,
    stationId: r.station_id,
    scene: r.scene,
    userId: r.user_id,
    state: r.state,
    originalAmountFen: r.original_fen,
    discountAmountFen: r.discount_fen,
    payableAmountFen: r.payable_fen,
    paidAmountFen: r.paid_fen,
    refundedAmountFen: r.refunded_fen,
    legs: JSON.parse(r.legs) as OrderLeg[],
    refunds: JSON.parse(r.refunds) as OrderRefund[],
    createdAt: r.created_at,
    paidAt: r.paid_at,
    finishedAt: r.finished_at,
  };
}

/**
 * The element type of a column of JSON texts (snapshots, journals, legs): sent as the texts joined
 * by U+001E, which JSON.stringify never leaves unescaped, and split by the server. Quoting each
 * into an array literal cost about half of a put's CPU in this process for imports of thousands
 * of records (issue 20).
 */
const JSON_TEXT = 'json-text';
const SEPARATOR = '\u001e';

/** Columns of a batch, one parameter per column: one `unnest` insert writes the whole batch. */
function columns<T, K extends string>(items: T[], pick: (item: T) => Record<K, unknown>, keys: readonly K[], typesOf: readonly string[]): string[] {
  const out = keys.map(() => [] as unknown[]);
  for (const item of items) {
    const values = pick(item);
    keys.forEach((k, i) => out[i]!.push(values[k]));
  }
  return out.map((values, i) => (typesOf[i] === JSON_TEXT ? values.join(SEPARATOR) : arrayLiteral(values)));
}

/** `unnest($1::text[], $2::bigint[], …)` over the given element types, from parameter `first` on. */
function unnest(typesOf: readonly string[], first = 1): string {
  return `unnest(${typesOf.map((type, i) => (type === JSON_TEXT ? `string_to_array($${first + i}, chr(30))` : `$${first + i}::${type}[]`)).join(', ')})`;
}

const ORDER_KEYS = ['txn_no', 'version', 'order_no', 'origin', 'os_order_no', 'merchant_id', 'station_id', 'scene', 'user_id', 'state', 'original_fen', 'discount_fen', 'payable_fen', 'paid_fen', 'refunded_fen', 'created_at', 'paid_at', 'finished_at', 'day', 'legs', 'refunds'] as const;
const ORDER_TYPES = ['text', 'bigint', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'bigint', 'bigint', 'bigint', 'bigint', 'bigint', 'bigint', 'bigint', 'bigint', 'date', JSON_TEXT, JSON_TEXT] as const;
const RECORD_KEYS = ['txn_no', 'version', 'created_at', 'record', 'journal', 'journal_count', 'tasks'] as const;
const RECORD_TYPES = ['text', 'bigint', 'bigint', JSON_TEXT, JSON_TEXT, 'integer', JSON_TEXT] as const;
const LEG_KEYS = ['txn_no', 'leg_no', 'method', 'amount_fen', 'captured_at', 'payment_no', 'channel_trade_no', 'merchant_id', 'station_id'] as const;
const LEG_TYPES = ['text', 'integer', 'text', 'bigint', 'bigint', 'text', 'text', 'text', 'text'] as const;
const REFUND_LEG_KEYS = ['txn_no', 'refund_leg_no', 'payment_no', 'method', 'amount_fen', 'refunded_at', 'channel_trade_no', 'merchant_id', 'station_id'] as const;
const REFUND_LEG_TYPES = ['text', 'text', 'text', 'text', 'bigint', 'bigint', 'text', 'text', 'text'] as const;

const METHOD_KEYS = ['txn_no', 'method', 'merchant_id', 'station_id', 'scene', 'state', 'origin', 'created_at', 'day', 'original_fen', 'discount_fen', 'payable_fen', 'paid_fen', 'refunded_fen'] as const;
const METHOD_TYPES = ['text', 'text', 'text', 'text', 'text', 'text', 'text', 'bigint', 'date', 'bigint', 'bigint', 'bigint', 'bigint', 'bigint'] as const;

const GROUP_COLUMN: Record<OrderGroupKey, string> = { day: 'o.day', station: 'o.station_id', method: 'o.method' };

const PAGE = 1000;

/** Options of {@link PostgresOrderArchive}. */
export type PostgresArchiveOptions = PostgresOptions;

/**
 * The order archive in scale-out: PostgreSQL (`TRADE_ARCHIVE_URL`), rows partitioned by month,
 * each put one transaction of a few `unnest` inserts whatever its size.
 */
export class PostgresOrderArchive implements OrderArchive {
  readonly enabled = true;
  readonly handle: PostgresHandle;
  private readonly partitions: MonthPartitions;

  constructor(options: PostgresArchiveOptions) {
    this.handle = new PostgresHandle(options);
    this.partitions = new MonthPartitions(this.handle);
  }

  async put(entries: ArchiveEntry[]): Promise<ArchivePutResult> {
    // Sorted, so that two puts sharing transactions lock their records in the same order (no deadlock).
    const newest = newestPerTxn(entries).sort((a, b) => (a.row.txnNo < b.row.txnNo ? -1 : a.row.txnNo > b.row.txnNo ? 1 : 0));
    if (!newest.length) return { written: 0, skipped: entries.length };
    await this.partitions.ensure(newest.map((e) => e.row.createdAt));
    const written = await this.handle.transaction(async (client) => {
      // The version rule, decided row by row by the records' key: only a newer version gets through.
      const records = columns(newest, (e) => ({
        txn_no: e.row.txnNo,
        version: e.record.version,
        created_at: e.row.createdAt,
        record: JSON.stringify(e.record),
        journal: JSON.stringify(e.journal),
        journal_count: e.journal.length,
        tasks: JSON.stringify(e.tasks),
      }), RECORD_KEYS, RECORD_TYPES);
      const upserted = await client.query<{ txn_no: string; inserted: boolean }>(
        `INSERT INTO archive_records (txn_no, version, created_at, record, journal, journal_count, tasks)
         SELECT * FROM ${unnest(RECORD_TYPES)}
         ON CONFLICT (txn_no) DO UPDATE SET version = excluded.version, created_at = excluded.created_at, record = excluded.record,
           journal = excluded.journal, journal_count = excluded.journal_count, tasks = excluded.tasks
         WHERE archive_records.version < excluded.version
         RETURNING txn_no, (xmax = 0) AS inserted`,
        records,
      );
      const replaced = upserted.rows.filter((r) => !r.inserted).map((r) => r.txn_no);
      if (replaced.length) {
        for (const table of ['archive_orders', 'archive_legs', 'archive_refund_legs', 'archive_order_methods']) await client.query(`DELETE FROM ${table} WHERE txn_no = ANY($1::text[])`, [replaced]);
      }
      const through = new Set(upserted.rows.map((r) => r.txn_no));
      const rows = newest.filter((e) => through.has(e.row.txnNo));
      if (!rows.length) return 0;
      await client.query(
        `INSERT INTO archive_orders (${ORDER_KEYS.join(', ')}) SELECT * FROM ${unnest(ORDER_TYPES)}`,
        columns(rows, ({ row, record }) => ({
          txn_no: row.txnNo,
          version: record.version,
          order_no: row.orderNo,
          origin: row.origin,
          os_order_no: row.osOrderNo,
          merchant_id: row.merchantId,
          station_id: row.stationId,
          scene: row.scene,
          user_id: row.userId,
          state: row.state,
          original_fen: row.originalAmountFen,
          discount_fen: row.discountAmountFen,
          payable_fen: row.payableAmountFen,
          paid_fen: row.paidAmountFen,
          refunded_fen: row.refundedAmountFen,
          created_at: row.createdAt,
          paid_at: row.paidAt,
          finished_at: row.finishedAt,
          day: chinaDay(row.createdAt),
          legs: JSON.stringify(row.legs),
          refunds: JSON.stringify(row.refunds),
        }), ORDER_KEYS, ORDER_TYPES),
      );
      const legs = rows.flatMap(({ row }) => row.legs.map((l) => ({ row, l })));
      if (legs.length) {
        await client.query(
          `INSERT INTO archive_legs (${LEG_KEYS.join(', ')}) SELECT * FROM ${unnest(LEG_TYPES)}`,
          columns(legs, ({ row, l }) => ({
            txn_no: row.txnNo,
            leg_no: l.legNo,
            method: l.method,
            amount_fen: l.amountFen,
            captured_at: l.capturedAt,
            payment_no: l.paymentNo,
            channel_trade_no: l.channelTradeNo,
            merchant_id: row.merchantId,
            station_id: row.stationId,
          }), LEG_KEYS, LEG_TYPES),
        );
      }
      const refundLegs = rows.flatMap(({ row }) => {
        const channelTradeNo = channelTradeNoByPayment(row);
        return row.refunds.flatMap((r) => r.legs.map((l) => ({ row, l, channelTradeNo: channelTradeNo.get(l.paymentNo) ?? null })));
      });
      if (refundLegs.length) {
        await client.query(
          `INSERT INTO archive_refund_legs (${REFUND_LEG_KEYS.join(', ')}) SELECT * FROM ${unnest(REFUND_LEG_TYPES)}`,
          columns(refundLegs, ({ row, l, channelTradeNo }) => ({
            txn_no: row.txnNo,
            refund_leg_no: l.refundLegNo,
            payment_no: l.paymentNo,
            method: l.method,
            amount_fen: l.amountFen,
            refunded_at: l.refundedAt,
            channel_trade_no: channelTradeNo,
            merchant_id: row.merchantId,
            station_id: row.stationId,
          }), REFUND_LEG_KEYS, REFUND_LEG_TYPES),
        );
      }
      const shares = rows.flatMap(({ row }) => methodShares(row).map((m) => ({ row, m })));
      await client.query(
        `INSERT INTO archive_order_methods (${METHOD_KEYS.join(', ')}) SELECT * FROM ${unnest(METHOD_TYPES)}`,
        columns(shares, ({ row, m }) => ({
          txn_no: row.txnNo,
          method: m.method,
          merchant_id: row.merchantId,
          station_id: row.stationId,
          scene: row.scene,
          state: row.state,
          origin: row.origin,
          created_at: row.createdAt,
          day: chinaDay(row.createdAt),
          original_fen: row.originalAmountFen,
          discount_fen: row.discountAmountFen,
          payable_fen: row.payableAmountFen,
          paid_fen: m.paidFen,
          refunded_fen: m.refundedFen,
        }), METHOD_KEYS, METHOD_TYPES),
      );
      return rows.length;
    });
    return { written, skipped: entries.length - written };
  }

  async get(txnNo: string): Promise<ArchiveEntry | null> {
    const found = await this.handle.query<OrderDbRow & { record: string; journal: string; tasks: string }>(
      `SELECT ${ORDER_COLUMNS}, a.record, a.journal, a.tasks FROM archive_records a
       JOIN archive_orders o ON o.txn_no = a.txn_no AND o.created_at = a.created_at WHERE a.txn_no = $1`,
      [txnNo],
    );
    const r = found.rows[0];
    if (!r) return null;
    return {
      row: toOrderRow(r),
      record: JSON.parse(r.record) as TransactionRecord,
      journal: JSON.parse(r.journal) as StoredJournalEntry[],
      tasks: JSON.parse(r.tasks) as TaskRecord[],
    };
  }

  async findTxnNoByOrderNo(orderNo: string): Promise<string | null> {
    const found = await this.handle.query<{ txn_no: string }>('SELECT txn_no FROM archive_orders WHERE order_no = $1 LIMIT 1', [orderNo]);
    return found.rows[0]?.txn_no ?? null;
  }

  async findTxnNoByOsOrderNo(stationId: string, osOrderNo: string): Promise<string | null> {
    const found = await this.handle.query<{ txn_no: string }>('SELECT txn_no FROM archive_orders WHERE station_id = $1 AND os_order_no = $2 LIMIT 1', [stationId, osOrderNo]);
    return found.rows[0]?.txn_no ?? null;
  }

  async search(filter: OrderFilter, limit: number, cursor: string | null): Promise<OrderPage> {
    const { where, params, bind } = conditions(filter);
    if (cursor !== null) {
      const after = decodeOrderCursor(cursor);
      where.push(`(o.created_at, o.txn_no) < (${bind(after.createdAt)}, ${bind(after.txnNo)})`);
    }
    const found = await this.handle.query<OrderDbRow>(
      `SELECT ${ORDER_COLUMNS} FROM archive_orders o ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY o.created_at DESC, o.txn_no DESC LIMIT ${bind(limit + 1)}`,
      params,
    );
    const rows = found.rows.slice(0, limit).map(toOrderRow);
    const last = rows[rows.length - 1];
    return { rows, nextCursor: found.rows.length > limit && last ? encodeOrderCursor(last) : null };
  }

  async summary(filter: OrderFilter, groupBy: OrderGroupKey[]): Promise<OrderSummaryRow[]> {
    const keys = [...new Set(groupBy)];
    const byMethod = keys.includes('method');
    // Grouped by method, each (order, method) pair is one unit, its row in archive_order_methods.
    const from = byMethod ? 'archive_order_methods o' : 'archive_orders o';
    const { where, params } = conditions(filter, byMethod ? 'archive_order_methods' : 'archive_orders');
    const grouped = keys.map((k) => GROUP_COLUMN[k]);
    const found = await this.handle.query<SummaryDbRow>(
      `SELECT ${keys.includes('day') ? 'o.day::text' : 'NULL::text'} AS day, ${keys.includes('station') ? 'o.station_id' : 'NULL::text'} AS station_id,
        ${byMethod ? 'o.method' : 'NULL::text'} AS method, COUNT(*) AS count, COALESCE(SUM(o.original_fen), 0) AS original,
        COALESCE(SUM(o.discount_fen), 0) AS discount, COALESCE(SUM(o.payable_fen), 0) AS payable,
        COALESCE(SUM(o.paid_fen), 0) AS paid, COALESCE(SUM(o.refunded_fen), 0) AS refunded
       FROM ${from} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ${grouped.length ? `GROUP BY ${grouped.join(', ')} ORDER BY ${grouped.join(', ')}` : ''}`,
      params,
    );
    return found.rows.map((r) => ({
      day: r.day,
      stationId: r.station_id,
      method: r.method,
      count: r.count,
      originalAmountFen: r.original,
      discountAmountFen: r.discount,
      payableAmountFen: r.payable,
      paidAmountFen: r.paid,
      refundedAmountFen: r.refunded,
    }));
  }

  movements(method: string, fromMs: number, toMs: number): AsyncIterable<OrderMovement> {
    // A first page starts after (fromMs, '', …), which every key at fromMs sorts after.
    const payments = paged<PaymentMovementRow>(async (after) => (await this.handle.query<PaymentMovementRow>(
      `SELECT txn_no, leg_no, payment_no, amount_fen, channel_trade_no, captured_at AS at, merchant_id, station_id FROM archive_legs
       WHERE method = $1 AND captured_at IS NOT NULL AND captured_at < $2 AND (captured_at, txn_no, leg_no) > ($3, $4, $5)
       ORDER BY captured_at, txn_no, leg_no LIMIT ${PAGE}`,
      [method, toMs, after?.at ?? fromMs, after?.txn_no ?? '', after?.leg_no ?? -1],
    )).rows, PAGE);
    const refunds = paged<RefundMovementRow>(async (after) => (await this.handle.query<RefundMovementRow>(
      `SELECT txn_no, refund_leg_no, payment_no, amount_fen, channel_trade_no, refunded_at AS at, merchant_id, station_id FROM archive_refund_legs
       WHERE method = $1 AND refunded_at IS NOT NULL AND refunded_at < $2 AND (refunded_at, txn_no, refund_leg_no) > ($3, $4, $5)
       ORDER BY refunded_at, txn_no, refund_leg_no LIMIT ${PAGE}`,
      [method, toMs, after?.at ?? fromMs, after?.txn_no ?? '', after?.refund_leg_no ?? ''],
    )).rows, PAGE);
    return mergeByAt(mapRows(payments, (r) => movement('payment', method, r, null)), mapRows(refunds, (r) => movement('refund', method, r, r.refund_leg_no)));
  }

  async counts(): Promise<ArchiveCounts> {
    const found = await this.handle.query<{ orders: number; journal: number }>('SELECT COUNT(*) AS orders, COALESCE(SUM(journal_count), 0) AS journal FROM archive_records');
    const c = found.rows[0]!;
    return { orders: c.orders, journalEntries: c.journal };
  }

  async ping(): Promise<void> {
    await this.handle.query('SELECT 1');
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

function conditions(filter: OrderFilter, table: 'archive_orders' | 'archive_order_methods' = 'archive_orders'): { where: string[]; params: unknown[]; bind: (value: unknown) => string } {
  const params: unknown[] = [];
  const bind = (value: unknown) => `$${params.push(value)}`;
  const dialect: SqlDialect = { bind, inList: (column, values) => `${column} = ANY(${bind(values)}::text[])` };
  return { where: orderFilterConditions(filter, dialect, table), params, bind };
}

interface SummaryDbRow {
  day: string | null;
  station_id: string | null;
  method: string | null;
  count: number;
  original: number;
  discount: number;
  payable: number;
  paid: number;
  refunded: number;
}
