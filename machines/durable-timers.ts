import type { AnyEventObject } from 'xstate';

/**
 * Durable timers anywhere in the actor tree. Every machine keeps its deadlines in
 * `context.timers`; the runtime stores those of the whole tree, naming a child's timers by its
 * path (`refund-R…/rleg-1/query`), and fires TIMER events at the root. A parent forwards a
 * timer whose name starts with a child's id to that child, without the prefix.
 */
export function childTimer(event: AnyEventObject): { childId: string; name: string } | null {
  if (event.type !== 'TIMER' || typeof event.name !== 'string') return null;
  const slash = event.name.indexOf('/');
  return slash < 0 ? null : { childId: event.name.slice(0, slash), name: event.name.slice(slash + 1) };
}

/**
 * The one backoff table of retried steps (ms), by attempt: seconds at first, hours at the end
 * (about 7.7 h in all), so a fault of a few seconds costs seconds and an outage of an afternoon is
 * still ridden out.
 */
export const BACKOFF_MS = [1_000, 5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000];

/**
 * A step retried for ever (a core step past the watershed, a call nobody answered) waits at most
 * this long: the end of an outage is found within minutes, not hours.
 */
const FOREVER_CAP_MS = 600_000;

/** The wait before the next try of a step that is retried for ever, after `attempt` tries. */
export function backoff(attempt: number): number {
  return Math.min(BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)] ?? FOREVER_CAP_MS, FOREVER_CAP_MS);
}

/**
 * The wait before the next try of a step that gives up and waits for a person (a refund the
 * channel keeps failing), after `attempt` failed tries; null once the table is spent.
 */
export function backoffOrGiveUp(attempt: number): number | null {
  return BACKOFF_MS[attempt] ?? null;
}
