import type { OrderFilter } from '../types.ts';

/** How a dialect binds a value and tests membership in a list (SQLite `IN (?, …)`, PostgreSQL `= ANY($n)`). */
export interface SqlDialect {
  /** Binds `value`, returning its placeholder. */
  bind(value: unknown): string;
  /** `column` is one of `values` (never called with an empty list). */
  inList(column: string, values: string[]): string;
}

/**
 * The WHERE conditions of an {@link OrderFilter} over `archive_orders` aliased `o`, shared by the
 * archive backends so that both read a filter alike. The method filter is an EXISTS over the legs'
 * (txn_no, method) index. `table` is the one aliased `o`: archive_orders, or the by-method summary's
 * archive_order_methods (the same filter columns, but no OS number).
 */
export function orderFilterConditions(filter: OrderFilter, sql: SqlDialect, table: 'archive_orders' | 'archive_order_methods' = 'archive_orders'): string[] {
  const where: string[] = [];
  if (filter.merchantIds !== undefined) where.push(filter.merchantIds.length ? sql.inList('o.merchant_id', filter.merchantIds) : '1 = 0');
  if (filter.stationId !== undefined) where.push(`o.station_id = ${sql.bind(filter.stationId)}`);
  if (filter.scene !== undefined) where.push(`o.scene = ${sql.bind(filter.scene)}`);
  if (filter.state !== undefined) where.push(`o.state = ${sql.bind(filter.state)}`);
  if (filter.origin !== undefined) where.push(`o.origin = ${sql.bind(filter.origin)}`);
  if (filter.osOrderNo !== undefined) {
    if (table === 'archive_orders') where.push(`o.os_order_no = ${sql.bind(filter.osOrderNo)}`);
    else {
      // archive_order_methods has no OS number: the orders of it, found by archive_orders' (station_id, os_order_no) index.
      const station = filter.stationId !== undefined ? ` AND x.station_id = ${sql.bind(filter.stationId)}` : '';
      where.push(`o.txn_no IN (SELECT x.txn_no FROM archive_orders x WHERE x.os_order_no = ${sql.bind(filter.osOrderNo)}${station})`);
    }
  }
  if (filter.fromMs !== undefined) where.push(`o.created_at >= ${sql.bind(filter.fromMs)}`);
  if (filter.toMs !== undefined) where.push(`o.created_at < ${sql.bind(filter.toMs)}`);
  if (filter.method !== undefined) where.push(`EXISTS (SELECT 1 FROM archive_legs l WHERE l.txn_no = o.txn_no AND l.method = ${sql.bind(filter.method)})`);
  return where;
}
