import { setTimeout as pause } from 'node:timers/promises';
import type { ManualClock } from '../../runtime/clock.ts';
import type { Harness } from './harness.ts';

/**
 * Runs the platform's durable timers on a manual clock until `check` holds: the clock moves to the
 * earliest armed timer (never back), due timers fire, and the probe is read again, so a backoff of
 * hours plays out in moments with the machines' own deadlines deciding every step. Callbacks
 * crossing real HTTP get their turn between passes. Fails after `ms` of real time.
 */
export async function runTimersUntil<T>(h: Harness, clock: ManualClock, probe: () => Promise<T>, check: (value: T) => boolean, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    await h.tc.host.settle();
    const value = await probe();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms (clock at ${new Date(clock.now()).toISOString()}); last value: ${JSON.stringify(value)}`);
    const armed = await h.tc.storage.snapshots.dueTimers(Number.MAX_SAFE_INTEGER, 1_000);
    const next = Math.min(...armed.map((timer) => timer.dueAt));
    if (Number.isFinite(next) && next > clock.now()) clock.set(next);
    await h.tc.host.fireDueTimers();
    await pause(10);
  }
}
