import { idempotencyKey, type CallKey } from '../contract.ts';
import type { FaultInjector } from './faults.ts';
import type { SimStore } from './store.ts';

/**
 * Runs the mutating verbs of one simulated system under the callee contract: through the
 * system's faults, at most once per call key ({@link SimStore.once}) and, when the verb carries a
 * business number (order, refund, award, issue number), at most once per that number whatever
 * key carries it ({@link SimStore.oncePerNo}).
 */
export class SimVerbs {
  constructor(private readonly store: SimStore, private readonly faults: FaultInjector) {}

  /** Runs `effect` (given the idempotency key to journal its effect under) as the verb's one effect. */
  run<T extends { ok: boolean }>(verb: string, key: CallKey, req: object, no: string | null, effect: (k: string) => T): Promise<T> {
    const system = this.faults.system;
    const k = idempotencyKey(key);
    return this.faults.run(verb, () =>
      this.store.once(system, k, verb, req, () =>
        no === null ? effect(k) : this.store.oncePerNo(system, verb, no, req, () => effect(k))));
  }
}

/**
 * Money and counts are integers; a fraction or a negative is a caller bug, thrown (not refused).
 * Call it first in an `async` verb, so the throw becomes a rejection.
 */
export function requireCount(what: string, value: number, opts: { positive?: boolean } = {}): void {
  const min = opts.positive ? 1 : 0;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${what} must be an integer >= ${min}, got ${value}`);
  }
}
