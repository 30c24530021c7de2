import type { SystemName } from '../systems/contract.ts';
import { SIMULATED_OPERATIONS, type FaultSettings } from '../systems/sim/index.ts';
import type { Prng } from './prng.ts';
import type { World } from './world.ts';

export type FaultLevel = 'none' | 'default' | 'heavy';

const SYSTEMS = Object.keys(SIMULATED_OPERATIONS) as SystemName[];

interface Rates {
  /** Mean virtual time between two changes of the weather, ms. */
  everyMs: number;
  /** How many systems a change touches. */
  systems: [number, number];
  outage: number;
  failAfterEffect: number;
  clockJump: number;
  callbacks: number;
}

const RATES: Record<Exclude<FaultLevel, 'none'>, Rates> = {
  default: { everyMs: 180_000, systems: [0, 2], outage: 0.15, failAfterEffect: 0.3, clockJump: 0.03, callbacks: 0.4 },
  heavy: { everyMs: 60_000, systems: [1, 4], outage: 0.3, failAfterEffect: 0.5, clockJump: 0.06, callbacks: 0.7 },
};

/**
 * The fault "weather" of a run: at seeded moments it changes the simulators' own fault knobs
 * (per-call latency, random refusals, outages of core and non-core systems, failures after the
 * effect) and the gateway's callback behaviour (delayed, duplicated, reordered, dropped; refunds
 * slow or failing), and now and then jumps the clock. {@link calm} clears it all: the end of a
 * run lets time run on without faults until everything is final.
 */
export class FaultWeather {
  private active = false;
  changes = 0;
  clockJumps = 0;

  constructor(private readonly world: World, private readonly rng: Prng, private readonly level: FaultLevel) {}

  start(): void {
    if (this.level === 'none') return;
    this.active = true;
    this.schedule();
  }

  calm(): void {
    this.active = false;
    for (const system of SYSTEMS) this.world.sims.faults[system].clear();
    this.world.sims.gateway.configureCallbacks({ callbackDelayMs: 0, duplicateCallbacks: 1, dropCallbacks: false, reorderCallbacks: false, refundDelayMs: 0, failRefunds: false });
  }

  private schedule(): void {
    if (this.level === 'none') return;
    const rates = RATES[this.level];
    void this.world.time.sleep(this.rng.int(rates.everyMs / 4, rates.everyMs * 2)).then(() => {
      if (!this.active) return;
      this.change(rates);
      this.schedule();
    });
  }

  private change(rates: Rates): void {
    this.changes++;
    const { faults, gateway } = this.world.sims;
    // Yesterday's weather clears: a fault lasts until the next change.
    for (const system of SYSTEMS) faults[system].clear();
    for (let i = 0; i < this.rng.int(...rates.systems); i++) {
      const system = this.rng.pick(SYSTEMS);
      const ops = SIMULATED_OPERATIONS[system];
      const settings: FaultSettings = { '*': { latencyMs: this.rng.int(0, 400) } };
      if (this.rng.chance(0.5)) settings['*']!.failRate = this.rng.int(1, 20) / 100;
      if (this.rng.chance(rates.outage)) settings['*']!.outage = true;
      if (this.rng.chance(0.05)) settings['*']!.hang = true;
      if (this.rng.chance(rates.failAfterEffect)) {
        const op = this.rng.pick(ops);
        settings[op] = { ...settings[op], failAfterEffect: this.rng.int(1, 5) };
      }
      if (this.rng.chance(0.2)) {
        const op = this.rng.pick(ops);
        settings[op] = { ...settings[op], delayAfterEffectMs: this.rng.int(100, 8_000) };
      }
      faults[system].configure(settings);
    }
    if (this.rng.chance(rates.callbacks)) {
      gateway.configureCallbacks({
        callbackDelayMs: this.rng.pick([0, 0, 500, 5_000, 45_000, 180_000]),
        duplicateCallbacks: this.rng.pick([1, 1, 1, 2, 3]),
        dropCallbacks: this.rng.chance(0.2),
        reorderCallbacks: this.rng.chance(0.3),
        refundDelayMs: this.rng.pick([0, 0, 10_000, 120_000]),
        failRefunds: this.rng.chance(0.1),
      });
    } else {
      gateway.configureCallbacks({ callbackDelayMs: 0, duplicateCallbacks: 1, dropCallbacks: false, reorderCallbacks: false, refundDelayMs: 0, failRefunds: false });
    }
    if (this.rng.chance(rates.clockJump)) {
      this.clockJumps++;
      this.world.time.jump(this.rng.int(5_000, 20 * 60_000));
    }
  }
}
