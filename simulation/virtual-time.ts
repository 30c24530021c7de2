import { ManualClock } from '../runtime/clock.ts';

interface Due {
  at: number;
  seq: number;
  fire: () => void;
  /** Aborted before it was due (a deadline whose call answered): skipped, costs no step. */
  cancelled: boolean;
}

/**
 * Real I/O the run waits on (the Redis backend's connection): its replies are held back and
 * handed to the platform only at a quiet point of a turn, all of them, in the order the commands
 * were sent, so when a reply arrives in real time never decides what runs next.
 */
export interface IoGate {
  /** True while a command is out or a reply is held back. */
  pending(): boolean;
  /** Waits (real time) for every command out to answer, then hands their replies over, in send order. */
  flush(): Promise<void>;
}

/** The simulated day starts here (China time), whatever the seed. */
export const SIM_EPOCH_MS = Date.parse('2026-11-25T06:00:00+08:00');

/**
 * Virtual time for the whole platform in one process: one clock for the host, the task runner,
 * the sentinel, the simulators and the gateway's outbox. Nothing waits for real time: the run
 * lets every piece of ready work finish ({@link settle}), then jumps the clock to the next thing
 * due and wakes it ({@link step}). Sleepers due at the same instant wake in the order they slept,
 * so a seed replays.
 */
export class VirtualTime {
  readonly clock = new ManualClock(SIM_EPOCH_MS);
  private heap: Due[] = [];
  private seq = 0;
  /** Macrotask hops spent settling: the cost of "let everything ready run" (reported). */
  hops = 0;
  /** The run's real I/O (Redis), when it has any: a turn is quiet only once it has answered. */
  io: IoGate | null = null;

  now(): number {
    return this.clock.now();
  }

  /** Resolves once virtual time has moved `ms` on. */
  sleep = (ms: number): Promise<void> => new Promise((resolve) => this.at(this.now() + Math.max(0, ms), resolve));

  /** A deadline on virtual time: `fire` after `ms` unless cancelled first. */
  after = (ms: number, fire: () => void): (() => void) => {
    const due = this.at(this.now() + Math.max(0, ms), fire);
    return () => (due.cancelled = true);
  };

  /** Runs `fire` when virtual time reaches `at` (at once on the next step if that is past). */
  at(at: number, fire: () => void): Due {
    const due: Due = { at, seq: this.seq++, fire, cancelled: false };
    this.push(due);
    return due;
  }

  /** When the next thing is due, or null when nothing is. */
  nextDue(): number | null {
    this.dropCancelled();
    return this.heap[0]?.at ?? null;
  }

  private dropCancelled(): void {
    while (this.heap.length && this.heap[0]!.cancelled) this.pop();
  }

  get pending(): number {
    return this.heap.length;
  }

  /**
   * A clock jump (NTP stepping the clock forward): everything due before the new time wakes on
   * the next step, late, as it would on a real host whose clock jumped.
   */
  jump(ms: number): void {
    this.clock.advance(ms);
  }

  /**
   * Lets every piece of work that is ready run to the point where it waits on virtual time (or
   * ends): macrotask hops until no immediate is pending. Real I/O never happens in the
   * simulation on SQLite (on Redis, {@link io} holds its replies until such a quiet point), and
   * real timers only guard deadlines that virtual time makes moot, so "no immediate pending"
   * means nothing can move until the clock does. `maxHops` bounds a turn that
   * never settles (a busy loop would be a bug in itself); `onHop` lets a crash land mid-turn, at
   * the seeded hop or, if the turn goes quiet before it, at its end.
   */
  async settle(onHop?: (hop: number, quiet: boolean) => boolean, maxHops = 100_000): Promise<void> {
    for (let hop = 0; hop < maxHops; hop++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.hops++;
      // Immediates of others (a test runner's own) may keep this going after the run's work is
      // quiet: `quiet` is then already true for a caller that must act at the same logical point.
      let quiet = !process.getActiveResourcesInfo().includes('Immediate');
      // Quiet but for real I/O under way: its answers are what moves next, handed over here at
      // the same logical point whatever their real latency (the hop is not quiet: they run now).
      if (quiet && this.io?.pending()) {
        await this.io.flush();
        quiet = false;
      }
      if (onHop?.(hop, quiet) || quiet) return;
    }
    throw new Error(`the simulation did not settle within ${maxHops} macrotask hops`);
  }

  /** Moves the clock to the next due time (never backwards) and wakes everything due by then; false when nothing is due. */
  wake(): boolean {
    this.dropCancelled();
    const head = this.heap[0];
    if (!head) return false;
    if (head.at > this.now()) this.clock.set(head.at);
    const now = this.now();
    while (this.heap.length && this.heap[0]!.at <= now) {
      const due = this.pop();
      if (!due.cancelled) due.fire();
    }
    return true;
  }

  private push(item: Due): void {
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): Due {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Due, b: Due): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
