/**
 * The archive's search cursor: where a newest-first listing (createdAt, then txnNo, descending)
 * stands. Opaque to callers; both archive backends issue and read this one form, so a listing can
 * move between processes of one deployment.
 */
export interface OrderCursorPosition {
  createdAt: number;
  txnNo: string;
}

const PREFIX = 'oa1.';

/** The cursor after `position` (the last row of a page). */
export function encodeOrderCursor(position: OrderCursorPosition): string {
  return PREFIX + Buffer.from(`${position.createdAt}:${position.txnNo}`, 'utf8').toString('base64url');
}

/** The position a cursor stands at; a RangeError for anything no archive issued. */
export function decodeOrderCursor(cursor: string): OrderCursorPosition {
  if (!cursor.startsWith(PREFIX)) throw new RangeError('not an order archive cursor');
  const text = Buffer.from(cursor.slice(PREFIX.length), 'base64url').toString('utf8');
  const match = /^(\d{1,16}):(.+)$/.exec(text);
  if (!match) throw new RangeError('not an order archive cursor');
  return { createdAt: Number(match[1]), txnNo: match[2]! };
}
