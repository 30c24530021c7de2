import type { Coupon } from '../../systems/coupon/port.ts';
import type { Promotion, Scope } from '../../systems/promotion/port.ts';
import type { QuoteLine } from './types.ts';

/**
 * Static eligibility of promotions and coupons (DOMAIN.md "Quote"): which ones may take part in a
 * quote at all, before any arithmetic. Amount conditions (minimum amount, coupon threshold) are not
 * here: they are judged on current nets when the step applies.
 */

/** The station's local clock at the quote's time: minutes since local midnight and ISO weekday. */
export interface LocalTime {
  minutes: number;
  /** 1 = Monday … 7 = Sunday. */
  isoWeekday: number;
}

/** What a promotion's static conditions are judged against, shared by every candidate method. */
export interface EligibilityContext {
  atMs: number;
  local: LocalTime;
  memberLevel: string;
}

// Building a formatter loads ICU time-zone data (milliseconds); formatting with one is microseconds.
const formatters = new Map<string, Intl.DateTimeFormat>();
const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

/**
 * The last answer per time zone, by UTC minute. Zone offsets have been whole minutes everywhere
 * since the 1970s, so one UTC minute is one local minute: quotes of the same minute (most of them,
 * under load) skip the formatting, which costs more than the rest of eligibility together.
 */
const lastMinute = new Map<string, { minute: number; local: LocalTime }>();

/** Local time in `timeZone` (an IANA name, e.g. `Asia/Shanghai`) at `atMs`. */
export function localTime(atMs: number, timeZone: string): LocalTime {
  const minute = Math.floor(atMs / 60_000);
  const last = lastMinute.get(timeZone);
  if (last?.minute === minute) return { ...last.local };
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', weekday: 'short', hourCycle: 'h23' });
    formatters.set(timeZone, formatter);
  }
  const parts = formatter.formatToParts(new Date(atMs));
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  const local = { minutes: Number(get('hour')) * 60 + Number(get('minute')), isoWeekday: WEEKDAYS.indexOf(get('weekday')) + 1 };
  lastMinute.set(timeZone, { minute, local });
  return { ...local };
}

function toMinutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

/** True when `minutes` lies in [start, end); a window may wrap midnight (22:00-06:00). */
function inWindow(minutes: number, start: string, end: string): boolean {
  const s = toMinutes(start);
  const e = toMinutes(end);
  return s <= e ? minutes >= s && minutes < e : minutes >= s || minutes < e;
}

/** An absent or empty list restricts nothing, as for promotion conditions. */
function listed<T>(list: readonly T[] | undefined, value: T): boolean {
  return !list?.length || list.includes(value);
}

/**
 * Whether a line is in a promotion's or coupon's scope. Top-up lines never are: they are outside
 * every discount. `fuel` matches fuel lines of the listed grades; `goods` matches a goods line whose
 * category or SKU is listed; an absent or empty list restricts nothing.
 */
export function inScope(scope: Scope, line: QuoteLine): boolean {
  if (line.type === 'stored_value') return false;
  if (scope.kind === 'all') return true;
  if (scope.kind === 'fuel') return line.type === 'fuel' && listed(scope.grades, line.grade);
  if (line.type !== 'goods') return false;
  const byCategory = scope.categories?.length ? scope.categories.includes(line.category) : null;
  const bySku = scope.skus?.length ? scope.skus.includes(line.sku) : null;
  if (byCategory === null && bySku === null) return true;
  return byCategory === true || bySku === true;
}

/** Inclusive [from, to]; an unparsable instant fails closed rather than offering a benefit forever. */
function within(atMs: number, from: string | undefined, to: string | undefined): boolean {
  return (from === undefined || Date.parse(from) <= atMs) && (to === undefined || atMs <= Date.parse(to));
}

/**
 * A promotion's static conditions for one candidate payment method (`null`: no method given, so a
 * promotion naming methods is not eligible): validity (inclusive), time windows in station local
 * time, ISO weekdays, member levels, payment methods. Applies to every benefit type, `topUpBonus`
 * included.
 */
export function isPromotionEligible(p: Promotion, at: EligibilityContext, method: string | null): boolean {
  if (!within(at.atMs, p.validFrom, p.validTo)) return false;
  const c = p.conditions;
  if (c.timeWindows?.length && !c.timeWindows.some((w) => inWindow(at.local.minutes, w.start, w.end))) return false;
  if (!listed(c.weekdays, at.local.isoWeekday)) return false;
  if (!listed(c.memberLevels, at.memberLevel)) return false;
  if (c.paymentMethods?.length && (method === null || !c.paymentMethods.includes(method))) return false;
  return true;
}

/** A coupon may be chosen only while `available` and inside [validFrom, validTo] at the quote's time. */
export function isCouponCandidate(c: Coupon, atMs: number): boolean {
  return c.status === 'available' && within(atMs, c.validFrom, c.validTo);
}
