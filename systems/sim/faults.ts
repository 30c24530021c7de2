import { setImmediate as nextMacrotask, setTimeout as sleepFor } from 'node:timers/promises';
import { DownstreamUnavailableError, type SystemName } from '../contract.ts';

/** Fault knobs for one operation (or for every operation of a system, under the name `*`). */
export interface OpFaults {
  /** Delay before the effect, in ms. */
  latencyMs?: number;
  /** Probability (0..1) that a call fails before its effect; drawn from a seeded RNG. */
  failRate?: number;
  /** The next N calls fail before their effect. Counts down. */
  failNext?: number;
  /** Every call fails before its effect. */
  outage?: boolean;
  /**
   * The system stops answering: every call waits (10 minutes, or until the caller gives up and
   * hangs up) and then fails before its effect; what the caller's timeout and breaker are for.
   */
  hang?: boolean;
  /**
   * Delay after the effect is committed, before the response, in ms: the window in which a test
   * kills the platform while the call is "in flight".
   */
  delayAfterEffectMs?: number;
  /**
   * The effect is committed, then the call fails (a lost response): `true` for every call, a number
   * for the next N calls (counts down). The retry with the same key must see the first result.
   */
  failAfterEffect?: boolean | number;
}

const HANG_MS = 10 * 60_000;

/** Virtual time for the faults (the deterministic simulation): latency and hangs wait on its clock. */
export interface FaultTiming {
  sleep(ms: number): Promise<void>;
}

/** Fault knobs per operation name; `*` applies to operations without their own entry. */
export type FaultSettings = Record<string, OpFaults>;

/** mulberry32: a tiny seeded PRNG, so a failRate run replays identically. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hashName(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * Injects latency and failures into one simulated system. Every simulator call goes through
 * {@link FaultInjector.run}, which also yields one macrotask first: the platform persists its
 * snapshot synchronously right before calling, and the yield guarantees the effect lands after.
 */
export class FaultInjector {
  private settings: FaultSettings = {};
  private random: () => number;

  /**
   * @param pendingCommit the simulators' store's group commit in progress (SimStore.pendingCommit):
   *   a call whose effect wrote, or read what others wrote in this turn, answers once it is committed.
   */
  /**
   * @param timing the simulation's virtual time for latency and hangs (real timers without it)
   */
  constructor(
    readonly system: SystemName,
    private readonly seed = 1,
    private readonly pendingCommit?: () => Promise<void> | null,
    private readonly timing?: FaultTiming,
  ) {
    this.random = seededRandom(this.seed ^ hashName(system));
  }

  /** Replaces all settings of this system (and restarts the RNG, so a configuration replays). */
  configure(settings: FaultSettings): void {
    this.settings = structuredClone(settings);
    this.random = seededRandom(this.seed ^ hashName(this.system));
  }

  /** The current settings, counters as they stand now. */
  current(): FaultSettings {
    return structuredClone(this.settings);
  }

  clear(): void {
    this.configure({});
  }

  /** Runs one call: yield, latency, pre-effect faults, the effect, post-effect faults. */
  async run<T>(op: string, effect: () => T): Promise<T> {
    await nextMacrotask();
    const latencyMs = this.knob(op, 'latencyMs');
    if (latencyMs) await this.wait(latencyMs);
    if (this.knob(op, 'outage')) throw this.unavailable(op, 'outage');
    if (this.knob(op, 'hang')) {
      await (this.timing ? this.timing.sleep(HANG_MS) : sleepFor(HANG_MS, undefined, { ref: false }));
      throw this.unavailable(op, 'no answer');
    }
    if (this.take(op, 'failNext')) throw this.unavailable(op, 'injected failure');
    const failRate = this.knob(op, 'failRate');
    if (failRate && this.random() < failRate) throw this.unavailable(op, 'injected random failure');
    const result = effect();
    const committed = this.pendingCommit?.();
    if (committed) {
      try {
        await committed;
      } catch {
        throw this.unavailable(op, 'its store could not commit the effect');
      }
    }
    const delayAfterEffectMs = this.knob(op, 'delayAfterEffectMs');
    if (delayAfterEffectMs) await this.wait(delayAfterEffectMs);
    if (this.take(op, 'failAfterEffect')) throw this.unavailable(op, 'response lost after the effect');
    return result;
  }

  private wait(ms: number): Promise<void> {
    return this.timing ? this.timing.sleep(ms) : sleepFor(ms);
  }

  /** The op's own value of a knob, else the `*` value. */
  private knob<K extends keyof OpFaults>(op: string, name: K): OpFaults[K] {
    return this.entryFor(op, name)?.[name];
  }

  private entryFor(op: string, name: keyof OpFaults): OpFaults | undefined {
    const own = this.settings[op];
    if (own?.[name] !== undefined) return own;
    const all = this.settings['*'];
    return all?.[name] !== undefined ? all : undefined;
  }

  /** Consumes one unit of a counting knob; `true` never runs out. */
  private take(op: string, name: 'failNext' | 'failAfterEffect'): boolean {
    const entry = this.entryFor(op, name);
    const value = entry?.[name];
    if (!entry || value === undefined || value === false) return false;
    if (value === true) return true;
    if (value <= 0) return false;
    entry[name] = value - 1;
    return true;
  }

  private unavailable(op: string, why: string): DownstreamUnavailableError {
    return new DownstreamUnavailableError(this.system, `${op}: ${why}`);
  }
}
