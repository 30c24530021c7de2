import type { Clock } from './store.ts';

/**
 * The clock of a `trade sim --clock follow`: the time the caller last sent in `x-tc-now`, the
 * real time before any. A seeded simulation drives the platform with a manual clock; for the
 * simulators to judge coupon validity, payment expiry and callback due times at that same
 * instant, their clock must follow it rather than the wall clock. Never for production.
 */
export class FollowClock implements Clock {
  private followed: number | null = null;

  now(): number {
    return this.followed ?? Date.now();
  }

  /** Takes the caller's time (epoch ms); ignores anything that is not one. */
  follow(value: string | string[] | undefined): void {
    const ms = Number(Array.isArray(value) ? value[0] : value);
    if (value !== undefined && Number.isSafeInteger(ms) && ms > 0) this.followed = ms;
  }
}
