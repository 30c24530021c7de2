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
import type { SqliteHandle } from './handle.ts';

/**
 * The archive's tables, in the hot store's file. `archive_orders` holds the flat rows (legs and
 * refunds as JSON, for reading back), `archive_legs` / `archive_refund_legs` the legs again as
 * rows for the method filter, the by-method summary and reconciliation's movements, and
 * `archive_order_methods` each order's share per method (the by-method summary), and
 * `archive_records` the final snapshot, journal and tasks (kept out of the rows the summary scans).
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS archive_orders (
  txn_no       TEXT PRIMARY KEY,
  version      INTEGER NOT NULL,
  order_no     TEXT,
  origin       TEXT NOT NULL,
  os_order_no  TEXT,
  merchant_id  TEXT NOT NULL,
  station_id   TEXT NOT NULL,
  scene        TEXT NOT NULL,
  user_id      TEXT,
  state        TEXT NOT NULL,
  original_fen INTEGER NOT NULL,
  discount_fen INTEGER NOT NULL,
  payable_fen  INTEGER NOT NULL,
  paid_fen     INTEGER NOT NULL,
  refunded_fen INTEGER NOT NULL,
  created_at   INTEGER NOT NULL,
  paid_at      INTEGER,
  finished_at  INTEGER NOT NULL,
  day          TEXT NOT NULL,
  legs         TEXT NOT NULL,
  refunds      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS archive_orders_created ON archive_orders(created_at, txn_no);
CREATE INDEX IF NOT EXISTS archive_orders_merchant ON archive_orders(merchant_id, created_at, txn_no);
CREATE INDEX IF NOT EXISTS archive_orders_station ON archive_orders(station_id, created_at, txn_no);
CREATE INDEX IF NOT EXISTS archive_orders_order_no ON archive_orders(order_no) WHERE order_no IS NOT NULL;
CREATE INDEX IF NOT EXISTS archive_orders_os ON archive_orders(station_id, os_order_no) WHERE os_order_no IS NOT NULL;
-- Covers the summary: a scan of it reads a third of the pages a scan of the rows (legs and refunds
-- JSON) does, and is already in (day, station) order. About 8 % of a put.
CREATE INDEX IF NOT EXISTS archive_orders_summary ON archive_orders(day, station_id, merchant_id, scene, state, origin, created_at,
  original_fen, discount_fen, payable_fen, paid_fen, refunded_fen);
CREATE TABLE IF NOT EXISTS archive_legs (
  txn_no           TEXT NOT NULL,
  leg_no           INTEGER NOT NULL,
  method           TEXT NOT NULL,
  amount_fen       INTEGER NOT NULL,
  captured_at      INTEGER,
  payment_no       TEXT NOT NULL,
  channel_trade_no TEXT,
  PRIMARY KEY (txn_no, leg_no)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS archive_legs_method ON archive_legs(method, txn_no);
CREATE INDEX IF NOT EXISTS archive_legs_captured ON archive_legs(method, captured_at, txn_no, leg_no) WHERE captured_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS archive_refund_legs (
  txn_no           TEXT NOT NULL,
  refund_leg_no    TEXT NOT NULL,
  payment_no       TEXT NOT NULL,
  method           TEXT NOT NULL,
  amount_fen       INTEGER NOT NULL,
  refunded_at      INTEGER,
  channel_trade_no TEXT,
  PRIMARY KEY (txn_no, refund_leg_no)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS archive_refund_legs_refunded ON archive_refund_legs(method, refunded_at, txn_no, refund_leg_no) WHERE refunded_at IS NOT NULL;
-- One row per (order, method it has a leg of), with the order's filter columns as archive_orders
-- names them: the by-method summary scans this alone instead of grouping the legs per order.
CREATE TABLE IF NOT EXISTS archive_order_methods (
  txn_no       TEXT NOT NULL,
  method       TEXT NOT NULL,
  merchant_id  TEXT NOT NULL,
  station_id   TEXT NOT NULL,
  scene        TEXT NOT NULL,
  state        TEXT NOT NULL,
  origin       TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  day          TEXT NOT NULL,
  original_fen INTEGER NOT NULL,
  discount_fen INTEGER NOT NULL,
  payable_fen  INTEGER NOT NULL,
  paid_fen     INTEGER NOT NULL,
  refunded_fen INTEGER NOT NULL,
  PRIMARY KEY (txn_no, method)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS archive_records (
  txn_no        TEXT PRIMARY KEY,
  version       INTEGER NOT NULL,
  record        TEXT NOT NULL,
  journal       TEXT NOT NULL,
  journal_count INTEGER NOT NULL,
  tasks         TEXT NOT NULL DEFAULT '[]'
);
`;

/** An `archive_orders` row. */
interface OrderDbRow {
  txn_no: string;
  version: number;
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
  day: string;
  legs: string;
  refunds: string;
}

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

/** Makes `entry[key]` a plain property holding `parse()` the first time it is read (or holding what is written first). */
function parsedOnRead<K extends keyof ArchiveEntry>(entry: ArchiveEntry, key: K, parse: () => ArchiveEntry[K]): void {
  const settle = (value: ArchiveEntry[K]) => Object.defineProperty(entry, key, { value, writable: true, enumerable: true, configurable: true });
  Object.defineProperty(entry, key, {
    enumerable: true,
    configurable: true,
    get: () => {
      const value = parse();
      settle(value);
      return value;
    },
    set: settle,
  });
}

const GROUP_COLUMN: Record<OrderGroupKey, string> = { day: 'o.day', station: 'o.station_id', method: 'o.method' };

const PAGE = 1000;

/** The order archive embedded: tables in the SQLite file, written through the handle's group commit. */
export class SqliteOrderArchive implements OrderArchive {
  readonly enabled = true;
  private readonly db;
  private readonly stmt;

  constructor(private readonly handle: SqliteHandle) {
    this.db = handle.db;
    this.db.exec(SCHEMA);
    const db = this.db;
    this.stmt = {
      version: db.prepare<[string], { version: number }>('SELECT version FROM archive_records WHERE txn_no = ?'),
      deleteOrder: db.prepare<[string]>('DELETE FROM archive_orders WHERE txn_no = ?'),
      deleteLegs: db.prepare<[string]>('DELETE FROM archive_legs WHERE txn_no = ?'),
      deleteRefundLegs: db.prepare<[string]>('DELETE FROM archive_refund_legs WHERE txn_no = ?'),
      deleteMethods: db.prepare<[string]>('DELETE FROM archive_order_methods WHERE txn_no = ?'),
      insertMethod: db.prepare('INSERT INTO archive_order_methods VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      insertOrder: db.prepare(`INSERT INTO archive_orders VALUES (${Array.from({ length: 21 }, () => '?').join(', ')})`),
      insertLeg: db.prepare('INSERT INTO archive_legs VALUES (?, ?, ?, ?, ?, ?, ?)'),
      insertRefundLeg: db.prepare('INSERT INTO archive_refund_legs VALUES (?, ?, ?, ?, ?, ?, ?)'),
      upsertRecord: db.prepare(`INSERT INTO archive_records VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT(txn_no) DO UPDATE SET version = excluded.version, record = excluded.record, journal = excluded.journal, journal_count = excluded.journal_count, tasks = excluded.tasks`),
      order: db.prepare<[string], OrderDbRow>('SELECT * FROM archive_orders WHERE txn_no = ?'),
      record: db.prepare<[string], { record: string; journal: string; tasks: string }>('SELECT record, journal, tasks FROM archive_records WHERE txn_no = ?'),
      byOrderNo: db.prepare<[string], { txn_no: string }>('SELECT txn_no FROM archive_orders WHERE order_no = ?'),
      byOsOrderNo: db.prepare<[string, string], { txn_no: string }>('SELECT txn_no FROM archive_orders WHERE station_id = ? AND os_order_no = ?'),
      counts: db.prepare<[], { orders: number; journal: number | null }>('SELECT COUNT(*) AS orders, SUM(journal_count) AS journal FROM archive_records'),
      payments: db.prepare<[string, number, number, string, number], PaymentMovementRow>(`SELECT txn_no, leg_no, payment_no, amount_fen,
        channel_trade_no, captured_at AS at, (SELECT merchant_id FROM archive_orders o WHERE o.txn_no = l.txn_no) AS merchant_id,
        (SELECT station_id FROM archive_orders o WHERE o.txn_no = l.txn_no) AS station_id
        FROM archive_legs l WHERE method = ? AND captured_at IS NOT NULL AND captured_at < ?
        AND (captured_at, txn_no, leg_no) > (?, ?, ?) ORDER BY captured_at, txn_no, leg_no LIMIT ${PAGE}`),
      refunds: db.prepare<[string, number, number, string, string], RefundMovementRow>(`SELECT txn_no, refund_leg_no, payment_no, amount_fen,
        channel_trade_no, refunded_at AS at, (SELECT merchant_id FROM archive_orders o WHERE o.txn_no = r.txn_no) AS merchant_id,
        (SELECT station_id FROM archive_orders o WHERE o.txn_no = r.txn_no) AS station_id
        FROM archive_refund_legs r WHERE method = ? AND refunded_at IS NOT NULL AND refunded_at < ?
        AND (refunded_at, txn_no, refund_leg_no) > (?, ?, ?) ORDER BY refunded_at, txn_no, refund_leg_no LIMIT ${PAGE}`),
    };
  }

  async put(entries: ArchiveEntry[]): Promise<ArchivePutResult> {
    const newest = newestPerTxn(entries);
    // One write of the group commit, in its own savepoint: a failing entry rolls the whole put back.
    return this.handle.write(() => {
      let written = 0;
      for (const e of newest) {
        const archived = this.stmt.version.get(e.row.txnNo);
        if (archived && archived.version >= e.record.version) continue;
        if (archived) {
          this.stmt.deleteOrder.run(e.row.txnNo);
          this.stmt.deleteLegs.run(e.row.txnNo);
          this.stmt.deleteRefundLegs.run(e.row.txnNo);
          this.stmt.deleteMethods.run(e.row.txnNo);
        }
        this.insert(e);
        written++;
      }
      return { written, skipped: entries.length - written };
    });
  }

  private insert({ row, record, journal, tasks }: ArchiveEntry): void {
    const day = chinaDay(row.createdAt);
    // Positional: binding by name cost a few % of a put.
    this.stmt.insertOrder.run(row.txnNo, record.version, row.orderNo, row.origin, row.osOrderNo, row.merchantId, row.stationId, row.scene,
      row.userId, row.state, row.originalAmountFen, row.discountAmountFen, row.payableAmountFen, row.paidAmountFen, row.refundedAmountFen,
      row.createdAt, row.paidAt, row.finishedAt, day, JSON.stringify(row.legs), JSON.stringify(row.refunds));
    for (const l of row.legs) this.stmt.insertLeg.run(row.txnNo, l.legNo, l.method, l.amountFen, l.capturedAt, l.paymentNo, l.channelTradeNo);
    for (const m of methodShares(row)) {
      this.stmt.insertMethod.run(row.txnNo, m.method, row.merchantId, row.stationId, row.scene, row.state, row.origin, row.createdAt, day,
        row.originalAmountFen, row.discountAmountFen, row.payableAmountFen, m.paidFen, m.refundedFen);
    }
    const channelTradeNo = channelTradeNoByPayment(row);
    for (const r of row.refunds) {
      for (const l of r.legs) {
        this.stmt.insertRefundLeg.run(row.txnNo, l.refundLegNo, l.paymentNo, l.method, l.amountFen, l.refundedAt, channelTradeNo.get(l.paymentNo) ?? null);
      }
    }
    this.stmt.upsertRecord.run(row.txnNo, record.version, JSON.stringify(record), JSON.stringify(journal), journal.length, JSON.stringify(tasks));
  }

  async get(txnNo: string): Promise<ArchiveEntry | null> {
    const order = this.stmt.order.get(txnNo);
    const stored = this.stmt.record.get(txnNo);
    if (!order || !stored) return null;
    // Most readers want one part (the record of a view, the tasks of a refund): the others, the
    // journal above all, are parsed only if read.
    const entry = {} as ArchiveEntry;
    parsedOnRead(entry, 'row', () => toOrderRow(order));
    parsedOnRead(entry, 'record', () => JSON.parse(stored.record) as TransactionRecord);
    parsedOnRead(entry, 'journal', () => JSON.parse(stored.journal) as StoredJournalEntry[]);
    parsedOnRead(entry, 'tasks', () => JSON.parse(stored.tasks) as TaskRecord[]);
    return entry;
  }

  async findTxnNoByOrderNo(orderNo: string): Promise<string | null> {
    return this.stmt.byOrderNo.get(orderNo)?.txn_no ?? null;
  }

  async findTxnNoByOsOrderNo(stationId: string, osOrderNo: string): Promise<string | null> {
    return this.stmt.byOsOrderNo.get(stationId, osOrderNo)?.txn_no ?? null;
  }

  async search(filter: OrderFilter, limit: number, cursor: string | null): Promise<OrderPage> {
    const { where, params } = this.conditions(filter);
    if (cursor !== null) {
      const after = decodeOrderCursor(cursor);
      where.push('(o.created_at, o.txn_no) < (?, ?)');
      params.push(after.createdAt, after.txnNo);
    }
    const sql = `SELECT o.* FROM archive_orders o ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY o.created_at DESC, o.txn_no DESC LIMIT ?`;
    const found = this.db.prepare<unknown[], OrderDbRow>(sql).all(...params, limit + 1);
    const rows = found.slice(0, limit).map(toOrderRow);
    const last = rows[rows.length - 1];
    return { rows, nextCursor: found.length > limit && last ? encodeOrderCursor(last) : null };
  }

  async summary(filter: OrderFilter, groupBy: OrderGroupKey[]): Promise<OrderSummaryRow[]> {
    const keys = [...new Set(groupBy)];
    const byMethod = keys.includes('method');
    // Grouped by method, each (order, method) pair is one unit, its row in archive_order_methods.
    const from = byMethod ? 'archive_order_methods o' : 'archive_orders o';
    const { where, params } = this.conditions(filter, byMethod ? 'archive_order_methods' : 'archive_orders');
    const columns = keys.map((k) => GROUP_COLUMN[k]);
    const sql = `SELECT ${keys.includes('day') ? 'o.day' : 'NULL'} AS day, ${keys.includes('station') ? 'o.station_id' : 'NULL'} AS station_id,
      ${byMethod ? 'o.method' : 'NULL'} AS method, COUNT(*) AS count, TOTAL(o.original_fen) AS original, TOTAL(o.discount_fen) AS discount,
      TOTAL(o.payable_fen) AS payable, TOTAL(o.paid_fen) AS paid, TOTAL(o.refunded_fen) AS refunded
      FROM ${from} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ${columns.length ? `GROUP BY ${columns.join(', ')} ORDER BY ${columns.join(', ')}` : ''}`;
    const rows = this.db.prepare<unknown[], SummaryDbRow>(sql).all(...params);
    // Totals over no rows at all are one row of zeros, as a sum over nothing is.
    return rows.map((r) => ({
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
    const payments = paged<PaymentMovementRow>(
      async (after) => this.stmt.payments.all(method, toMs, after?.at ?? fromMs, after?.txn_no ?? '', after?.leg_no ?? -1),
      PAGE,
    );
    const refunds = paged<RefundMovementRow>(
      async (after) => this.stmt.refunds.all(method, toMs, after?.at ?? fromMs, after?.txn_no ?? '', after?.refund_leg_no ?? ''),
      PAGE,
    );
    return mergeByAt(mapRows(payments, (r) => movement('payment', method, r, null)), mapRows(refunds, (r) => movement('refund', method, r, r.refund_leg_no)));
  }

  async counts(): Promise<ArchiveCounts> {
    const c = this.stmt.counts.get()!;
    return { orders: c.orders, journalEntries: c.journal ?? 0 };
  }

  async ping(): Promise<void> {
    this.handle.ping();
  }

  /** The handle is the hot store's: the storage bundle closes it. */
  async close(): Promise<void> {}

  private conditions(filter: OrderFilter, table: 'archive_orders' | 'archive_order_methods' = 'archive_orders'): { where: string[]; params: unknown[] } {
    const params: unknown[] = [];
    const dialect: SqlDialect = {
      bind: (value) => {
        params.push(value);
        return '?';
      },
      inList: (column, values) => {
        params.push(...values);
        return `${column} IN (${values.map(() => '?').join(', ')})`;
      },
    };
    return { where: orderFilterConditions(filter, dialect, table), params };
  }
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
