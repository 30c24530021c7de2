import type { ShadowQuoteRecord } from '../../domain/shadow-quote.ts';
import { decodeShadowCursor, encodeShadowCursor } from '../shadow/cursor.ts';
import type { ShadowAgreementRow, ShadowDifferencePage, ShadowFilter, ShadowQuotes } from '../types.ts';
import type { SqliteHandle } from './handle.ts';

/**
 * One row per shadow quote: the columns a report filters and counts by, and the record as JSON.
 * Differences (agrees = 0) have an index of their own in listing order, so a day of mostly
 * agreeing quotes pages through its few differences without reading the rest.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS shadow_quotes (
  shadow_id   TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL,
  station_id  TEXT NOT NULL,
  scene       TEXT NOT NULL,
  quoted_at   INTEGER NOT NULL,
  agrees      INTEGER NOT NULL,
  record      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS shadow_quotes_time ON shadow_quotes(quoted_at, station_id, scene, agrees);
CREATE INDEX IF NOT EXISTS shadow_quotes_differences ON shadow_quotes(quoted_at, shadow_id) WHERE agrees = 0;
`;

/** The WHERE conditions of `filter` and their parameters. */
function conditions(filter: ShadowFilter): { sql: string[]; params: (string | number)[] } {
  const sql: string[] = [];
  const params: (string | number)[] = [];
  if (filter.merchantIds !== null) {
    // An empty list matches nothing: the callers answer it without a query.
    sql.push(`merchant_id IN (${filter.merchantIds.map(() => '?').join(', ')})`);
    params.push(...filter.merchantIds);
  }
  if (filter.stationId !== null) {
    sql.push('station_id = ?');
    params.push(filter.stationId);
  }
  if (filter.scene !== null) {
    sql.push('scene = ?');
    params.push(filter.scene);
  }
  if (filter.fromMs !== null) {
    sql.push('quoted_at >= ?');
    params.push(filter.fromMs);
  }
  if (filter.toMs !== null) {
    sql.push('quoted_at < ?');
    params.push(filter.toMs);
  }
  return { sql, params };
}

/** Shadow quotes in the platform's SQLite file, written through the handle's group commit (durable before the answer). */
export class SqliteShadowQuotes implements ShadowQuotes {
  private readonly stmt;

  constructor(private readonly handle: SqliteHandle) {
    handle.db.exec(SCHEMA);
    this.stmt = {
      insert: handle.db.prepare('INSERT INTO shadow_quotes (shadow_id, merchant_id, station_id, scene, quoted_at, agrees, record) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (shadow_id) DO NOTHING'),
      get: handle.db.prepare<[string], { record: string }>('SELECT record FROM shadow_quotes WHERE shadow_id = ?'),
      // The time index gives the oldest first; a batch is bounded so other writes get their turn.
      purge: handle.db.prepare<[number, number]>('DELETE FROM shadow_quotes WHERE shadow_id IN (SELECT shadow_id FROM shadow_quotes WHERE quoted_at < ? ORDER BY quoted_at LIMIT ?)'),
    };
  }

  put(r: ShadowQuoteRecord): Promise<boolean> {
    return this.handle.write(() => this.stmt.insert.run(r.shadowId, r.merchantId, r.stationId, r.scene, r.quotedAtMs, r.agrees ? 1 : 0, JSON.stringify(r)).changes === 1);
  }

  async get(shadowId: string): Promise<ShadowQuoteRecord | null> {
    const row = this.stmt.get.get(shadowId);
    return row ? (JSON.parse(row.record) as ShadowQuoteRecord) : null;
  }

  async agreement(filter: ShadowFilter): Promise<ShadowAgreementRow[]> {
    if (filter.merchantIds?.length === 0) return [];
    const { sql, params } = conditions(filter);
    const where = sql.length ? ` WHERE ${sql.join(' AND ')}` : '';
    return this.handle.db
      .prepare<(string | number)[], ShadowAgreementRow>(`SELECT station_id AS stationId, scene, COUNT(*) AS total, SUM(agrees) AS agreeing FROM shadow_quotes${where} GROUP BY station_id, scene ORDER BY station_id, scene`)
      .all(...params);
  }

  async differences(filter: ShadowFilter, limit: number, cursor: string | null): Promise<ShadowDifferencePage> {
    const after = cursor === null ? null : decodeShadowCursor(cursor);
    if (filter.merchantIds?.length === 0) return { records: [], nextCursor: null };
    const { sql, params } = conditions(filter);
    sql.unshift('agrees = 0');
    if (after !== null) {
      sql.push('(quoted_at > ? OR (quoted_at = ? AND shadow_id > ?))');
      params.push(after.quotedAtMs, after.quotedAtMs, after.shadowId);
    }
    const rows = this.handle.db
      .prepare<(string | number)[], { record: string }>(`SELECT record FROM shadow_quotes WHERE ${sql.join(' AND ')} ORDER BY quoted_at, shadow_id LIMIT ?`)
      .all(...params, limit + 1);
    const records = rows.slice(0, limit).map((r) => JSON.parse(r.record) as ShadowQuoteRecord);
    const last = records[records.length - 1];
    return { records, nextCursor: rows.length > limit && last ? encodeShadowCursor(last) : null };
  }

  purgeOlderThan(olderThanMs: number, limit: number): Promise<number> {
    return this.handle.write(() => this.stmt.purge.run(olderThanMs, limit).changes);
  }
}
