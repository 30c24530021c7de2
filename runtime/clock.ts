/** The runtime's only source of time (DESIGN.md rule 5): tests inject a {@link ManualClock}. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

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
