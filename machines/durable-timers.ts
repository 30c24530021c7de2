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

/** Backoff of retried and repeated steps (ms), by attempt; the last value repeats. */
export const BACKOFF_MS = [1_000, 5_000, 30_000, 120_000, 600_000];

export function backoff(attempt: number): number {
  return BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)] ?? 600_000;
}
