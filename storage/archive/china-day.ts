/** China time is UTC+8 all year (no daylight saving). */
const CHINA_OFFSET_MS = 8 * 3_600_000;

/** The China-time (UTC+8) date of an instant, `YYYY-MM-DD`: the day the archive's summary groups by. */
export function chinaDay(epochMs: number): string {
  return new Date(epochMs + CHINA_OFFSET_MS).toISOString().slice(0, 10);
}
