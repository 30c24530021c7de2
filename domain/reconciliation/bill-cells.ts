/**
 * Reading a bill line's cells in place: the bounds of its fields, and yuan amounts and China times
 * read straight from within the line. A bill has a million rows and each row a dozen cells the
 * reconciliation needs; splitting each line into arrays of strings, matching regexes and making
 * `Date`s per cell is what made parsing slow (issue 19: ≥ 100,000 rows/s). Here a line costs one
 * scan for its separators and a slice per text field kept; amounts and times allocate nothing but
 * their result. Pure; nothing here reads the clock.
 */

/** Whether a UTF-16 code unit is whitespace as `String.prototype.trim` removes it. */
function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || (c >= 0x1680 && (c === 0x1680 || (c >= 0x2000 && c <= 0x200a)
    || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff));
}

/** Fen above this are not read: 10¹³ yuan is beyond any bill, and integers stay exact below 2⁵³. */
const MAX_INTEGER_DIGITS = 13;

/**
 * The yuan amount in `text[start, end)` (whitespace around it ignored) as integer fen, exactly (no
 * floating point): `-?digits(.d{1,2})?`; null when it is not one.
 */
export function fenIn(text: string, start: number, end: number): number | null {
  while (start < end && isSpace(text.charCodeAt(start))) start++;
  while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
  let i = start;
  const negative = i < end && text.charCodeAt(i) === 45;
  if (negative) i++;
  let whole = 0;
  const digitsFrom = i;
  for (let c = text.charCodeAt(i); i < end && c >= 48 && c <= 57; c = text.charCodeAt(++i)) whole = whole * 10 + (c - 48);
  const digits = i - digitsFrom;
  if (digits === 0 || digits > MAX_INTEGER_DIGITS) return null;
  let fen = whole * 100;
  if (i < end) {
    const decimals = end - i - 1;
    if (text.charCodeAt(i) !== 46 || decimals < 1 || decimals > 2) return null;
    const d1 = text.charCodeAt(i + 1) - 48;
    const d2 = decimals === 2 ? text.charCodeAt(i + 2) - 48 : 0;
    if (d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return null;
    fen += d1 * 10 + d2;
  }
  // 0 - fen: "-0.00" is zero, not negative zero.
  return negative ? 0 - fen : fen;
}

const TWO_DIGITS = Array.from({ length: 24 }, (_, h) => String(h).padStart(2, '0'));

/** The last China date read, and the UTC date prefixes of its two halves: one `Date` per day of the bill, not per row. */
let dateMemo: { date: string; sameDay: string; dayBefore: string } | null = null;

function datePrefixes(date: string): { sameDay: string; dayBefore: string } | null {
  if (dateMemo?.date === date) return dateMemo;
  const ms = Date.parse(`${date}T00:00:00Z`);
  // Date.parse takes 2026-02-30 for 2 March: only a calendar day is a bill's day.
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== date) return null;
  dateMemo = { date, sameDay: `${date}T`, dayBefore: new Date(ms - 86_400_000).toISOString().slice(0, 11) };
  return dateMemo;
}

/** Where the digits of `YYYY-MM-DD` are. */
const DATE_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9];

function digitAt(text: string, i: number): number {
  const d = text.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : -100;
}

/**
 * The China time `YYYY-MM-DD HH:MM:SS` (or with `T`) in `text[start, end)`, whitespace around it
 * ignored, as an ISO instant (UTC, `…T…Z`), or null when it is not a time of a calendar day.
 * China time is UTC+8 all year: 00:00–07:59 China time falls on the UTC day before.
 */
export function instantIn(text: string, start: number, end: number): string | null {
  while (start < end && isSpace(text.charCodeAt(start))) start++;
  while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
  if (end - start !== 19) return null;
  if (text.charCodeAt(start + 4) !== 45 || text.charCodeAt(start + 7) !== 45 || text.charCodeAt(start + 13) !== 58 || text.charCodeAt(start + 16) !== 58) return null;
  const t = text.charCodeAt(start + 10);
  if (t !== 32 && t !== 84) return null;
  for (let k = 0; k < DATE_DIGITS.length; k++) if (digitAt(text, start + DATE_DIGITS[k]!) < 0) return null;
  const hour = digitAt(text, start + 11) * 10 + digitAt(text, start + 12);
  const minute = digitAt(text, start + 14) * 10 + digitAt(text, start + 15);
  const second = digitAt(text, start + 17) * 10 + digitAt(text, start + 18);
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return null;
  const prefixes = datePrefixes(dateMemo !== null && text.startsWith(dateMemo.date, start) ? dateMemo.date : text.slice(start, start + 10));
  if (prefixes === null) return null;
  return hour >= 8
    ? `${prefixes.sameDay}${TWO_DIGITS[hour - 8]}${text.slice(start + 13, start + 19)}.000Z`
    : `${prefixes.dayBefore}${TWO_DIGITS[hour + 16]}${text.slice(start + 13, start + 19)}.000Z`;
}

/**
 * The fields of one line at a time, by their bounds: `split` finds every separator of a line and
 * keeps where each field starts and ends, in arrays reused for every line; the accessors read a
 * field as text (trimmed or not), fen or an instant. Fields past `capacity` are counted, not kept.
 */
export class LineCells {
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;
  private line = '';
  /** The number of fields of the last line split. */
  count = 0;

  constructor(private readonly capacity: number) {
    this.starts = new Int32Array(capacity);
    this.ends = new Int32Array(capacity);
  }

  /** Splits `line` from `from` at every `separator`; answers the number of fields. */
  split(line: string, separator: string, from = 0): number {
    this.line = line;
    let count = 0;
    let start = from;
    for (let at = line.indexOf(separator, start); ; at = line.indexOf(separator, start)) {
      const end = at === -1 ? line.length : at;
      if (count < this.capacity) {
        this.starts[count] = start;
        this.ends[count] = end;
      }
      count++;
      if (at === -1) break;
      start = at + separator.length;
    }
    this.count = count;
    return count;
  }

  /** Field `i` as it stands. */
  text(i: number): string {
    return this.line.slice(this.starts[i], this.ends[i]);
  }

  /** Field `i` without the whitespace around it (Alipay ends every value in a tab). */
  trimmed(i: number): string {
    let start = this.starts[i]!;
    let end = this.ends[i]!;
    while (start < end && isSpace(this.line.charCodeAt(start))) start++;
    while (end > start && isSpace(this.line.charCodeAt(end - 1))) end--;
    return this.line.slice(start, end);
  }

  /** Field `i` as integer fen ({@link fenIn}). */
  fen(i: number): number | null {
    return fenIn(this.line, this.starts[i]!, this.ends[i]!);
  }

  /** Field `i` as an ISO instant ({@link instantIn}). */
  instant(i: number): string | null {
    return instantIn(this.line, this.starts[i]!, this.ends[i]!);
  }
}
