import type { ShadowFilter } from '../types.ts';

/**
 * The shadow report's cursor: where an oldest-first listing of differences (quotedAtMs, then
 * shadowId) stands. Opaque to callers; both backends issue and read this one form.
 */
export interface ShadowCursorPosition {
  quotedAtMs: number;
  shadowId: string;
}

const PREFIX = 'sq1.';

/** The cursor after `position` (the last record of a page). */
export function encodeShadowCursor(position: ShadowCursorPosition): string {
  return PREFIX + Buffer.from(`${position.quotedAtMs}:${position.shadowId}`, 'utf8').toString('base64url');
}

/** The position a cursor stands at; a RangeError for anything no shadow store issued. */
export function decodeShadowCursor(cursor: string): ShadowCursorPosition {
  if (!cursor.startsWith(PREFIX)) throw new RangeError('not a shadow report cursor');
  const match = /^(\d{1,16}):(.+)$/.exec(Buffer.from(cursor.slice(PREFIX.length), 'base64url').toString('utf8'));
  if (!match) throw new RangeError('not a shadow report cursor');
  return { quotedAtMs: Number(match[1]), shadowId: match[2]! };
}

/** The indexed fields of a record, as a filter reads them. */
export interface ShadowIndexed {
  merchantId: string;
  stationId: string;
  scene: string;
  quotedAtMs: number;
}

/** Whether a record's indexed fields match `filter` (a backend that filters in code, not in a query). */
export function matchesShadowFilter(filter: ShadowFilter, r: ShadowIndexed): boolean {
  return (filter.merchantIds === null || filter.merchantIds.includes(r.merchantId))
    && (filter.stationId === null || filter.stationId === r.stationId)
    && (filter.scene === null || filter.scene === r.scene)
    && (filter.fromMs === null || r.quotedAtMs >= filter.fromMs)
    && (filter.toMs === null || r.quotedAtMs < filter.toMs);
}
