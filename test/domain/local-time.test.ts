import t from 'tap';
import { localTime } from '../../domain/pricing/eligibility.ts';

// 2026-03-08: New York leaves EST (UTC-5) for EDT (UTC-4) at 07:00 UTC; 2026-03-08 is a Sunday.
const BEFORE_DST = Date.parse('2026-03-08T06:59:30Z');
const AT_DST = Date.parse('2026-03-08T07:00:00Z');

t.test('reads the local minute and weekday of the station, per time zone, in the same UTC minute', async (t) => {
  const at = Date.parse('2026-11-25T15:30:10Z'); // a Wednesday
  t.same(localTime(at, 'Asia/Shanghai'), { minutes: 23 * 60 + 30, isoWeekday: 3 });
  t.same(localTime(at + 20_000, 'Asia/Kolkata'), { minutes: 21 * 60, isoWeekday: 3 }, 'UTC+5:30 is not the zone asked just before');
  t.same(localTime(at + 40_000, 'Asia/Shanghai'), { minutes: 23 * 60 + 30, isoWeekday: 3 });
  t.same(localTime(Date.parse('2026-11-25T16:00:00Z'), 'Asia/Shanghai'), { minutes: 0, isoWeekday: 4 }, 'midnight starts Thursday');
});

t.test('follows a daylight-saving change from one minute to the next, and back', async (t) => {
  t.same(localTime(BEFORE_DST, 'America/New_York'), { minutes: 1 * 60 + 59, isoWeekday: 7 });
  t.same(localTime(AT_DST, 'America/New_York'), { minutes: 3 * 60, isoWeekday: 7 }, '02:00 EST is 03:00 EDT');
  t.same(localTime(BEFORE_DST + 29_000, 'America/New_York'), { minutes: 1 * 60 + 59, isoWeekday: 7 }, 'an earlier minute asked again');
});

t.test('hands each caller its own answer', async (t) => {
  const at = Date.parse('2026-11-25T04:00:00Z');
  const first = localTime(at, 'Asia/Shanghai');
  first.minutes = -1;
  t.same(localTime(at + 1, 'Asia/Shanghai'), { minutes: 12 * 60, isoWeekday: 3 });
});
