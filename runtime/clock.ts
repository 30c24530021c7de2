/** The runtime's only source of time (DESIGN.md rule 5): tests inject a {@link ManualClock}. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * Waits `ms` on the clock the runtime runs on: a real timer by default; the deterministic
 * simulation passes one that resolves when its virtual time gets there, so a backoff costs no wall time.
 */
export type Sleep = (ms: number) => Promise<void>;

export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Calls `fire` after `ms` unless the returned cancel is called first (a deadline). */
export type After = (ms: number, fire: () => void) => () => void;

export const realAfter: After = (ms, fire) => {
  const timer = setTimeout(fire, ms);
  return () => clearTimeout(timer);
};

/** A clock that moves only when told to, for timer tests without real waiting. */
export class ManualClock implements Clock {
  constructor(private ms: number = Date.parse('2026-11-25T10:00:00+08:00')) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
}
