import { BrokenCircuitError, CircuitState, circuitBreaker, ConsecutiveBreaker, handleWhen, type CircuitBreakerPolicy } from 'cockatiel';
import { Subject } from 'rxjs';
import { DownstreamUnavailableError, isDownstreamUnavailable, type SystemName } from '../systems/contract.ts';
import { realAfter, type After } from './clock.ts';

/**
 * One downstream call with a deadline. A call that outlives its deadline is reported as a
 * transport fault: its outcome at the callee is unknown, which the callee contract makes safe to
 * retry with the same key or to undo.
 */
export async function withTimeout<T>(system: SystemName, ms: number, call: () => Promise<T>, after: After = realAfter): Promise<T> {
  let cancel: (() => void) | undefined;
  const deadline = new Promise<never>((_, reject) => {
    cancel = after(ms, () => reject(new DownstreamUnavailableError(system, `no answer within ${ms} ms`)));
  });
  try {
    return await Promise.race([call(), deadline]);
  } finally {
    cancel?.();
  }
}

export interface DownstreamOptions {
  /** Deadline of one call, ms, by system; `default` for the rest. */
  timeoutsMs: Partial<Record<SystemName, number>> & { default: number };
  /** The circuit opens after this many transport faults in a row… */
  breakAfterFailures: number;
  /** …and lets one call through to test the system again after this long. */
  halfOpenAfterMs: number;
  /** What measures the deadline: real timers, or the simulation's virtual time. */
  after?: After;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

/** One downstream call as the metrics see it. */
export interface DownstreamCall {
  system: SystemName;
  outcome: 'ok' | 'fault' | 'circuit-open';
  seconds: number;
}

/**
 * The one wrapper every downstream call goes through (DESIGN.md "Sentinel, retries"): a
 * deadline per system and a circuit breaker per system (cockatiel). Only transport faults count
 * against a system; a refusal is an answer. While a circuit is open, calls fail at once with
 * a DownstreamUnavailableError instead of piling onto a system that is down.
 */
export class Downstream {
  private readonly breakers = new Map<SystemName, CircuitBreakerPolicy>();
  /** Every finished call, for metrics: a refusal is an answer (`ok`); only transport faults are `fault`. */
  readonly calls = new Subject<DownstreamCall>();

  constructor(private readonly options: DownstreamOptions) {}

  call<T>(system: SystemName, run: () => Promise<T>): Promise<T> {
    const ms = this.options.timeoutsMs[system] ?? this.options.timeoutsMs.default;
    const started = performance.now();
    const report = (outcome: DownstreamCall['outcome']) => this.calls.next({ system, outcome, seconds: (performance.now() - started) / 1000 });
    return this.breaker(system)
      .execute(() => withTimeout(system, ms, run, this.options.after))
      .then(
        (value) => {
          report('ok');
          return value;
        },
        (err: unknown) => {
          if (err instanceof BrokenCircuitError) {
            report('circuit-open');
            throw new DownstreamUnavailableError(system, 'circuit open');
          }
          report('fault');
          throw err;
        },
      );
  }

  /** The breaker state of every system called so far. */
  breakerStates(): Partial<Record<SystemName, BreakerState>> {
    return Object.fromEntries([...this.breakers.keys()].map((system) => [system, this.state(system)]));
  }

  state(system: SystemName): BreakerState {
    const state = this.breakers.get(system)?.state ?? CircuitState.Closed;
    return state === CircuitState.Open || state === CircuitState.Isolated ? 'open' : state === CircuitState.HalfOpen ? 'half-open' : 'closed';
  }

  private breaker(system: SystemName): CircuitBreakerPolicy {
    let breaker = this.breakers.get(system);
    if (!breaker) {
      breaker = circuitBreaker(handleWhen(isDownstreamUnavailable), {
        halfOpenAfter: this.options.halfOpenAfterMs,
        breaker: new ConsecutiveBreaker(this.options.breakAfterFailures),
      });
      this.breakers.set(system, breaker);
    }
    return breaker;
  }
}
