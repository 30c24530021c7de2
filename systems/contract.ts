/**
 * Shared vocabulary of the callee contract (DOMAIN.md "What every callee must guarantee").
 *
 * Every mutating call carries a {@link CallKey}: the transaction number plus a step key that is
 * derived deterministically from the transaction's state (`txnNo:step[:leg]`), never random. A
 * callee that sees the same key again returns the first result and has no second effect.
 */
export interface CallKey {
  /** The transaction this call belongs to. */
  txnNo: string;
  /** The step within the transaction, e.g. `order:create`, `leg-1:lock`. */
  step: string;
}

/** The idempotency key a callee stores: `txnNo:step`. */
export function idempotencyKey(key: CallKey): string {
  return `${key.txnNo}:${key.step}`;
}

/** A business refusal from a downstream system: a value, not an exception. */
export interface Refused<C extends string = string> {
  ok: false;
  code: C;
  message: string;
}

/** The outcome of a mutating call: the result, or a refusal the caller must handle. */
export type Outcome<T, C extends string = string> = ({ ok: true } & T) | Refused<C>;

/** The names of the downstream systems (DOMAIN.md table); used for tiers, faults and metrics. */
export type SystemName =
  | 'user'
  | 'fuelCatalog'
  | 'order'
  | 'paymentGateway'
  | 'storedValue'
  | 'promotion'
  | 'goods'
  | 'coupon'
  | 'points'
  | 'level'
  | 'marketing'
  | 'campaign'
  | 'settlement'
  | 'push'
  | 'invoice'
  | 'notify'
  | 'os';

/**
 * A transport fault or outage: the call may or may not have happened at the callee. Callers
 * retry it with the same key (safe by the contract) or, before the payment watershed, give up
 * with CORE_SYSTEM_UNAVAILABLE / degrade.
 */
export class DownstreamUnavailableError extends Error {
  readonly system: SystemName;
  readonly retryable = true;
  constructor(system: SystemName, message: string) {
    super(`${system}: ${message}`);
    this.name = 'DownstreamUnavailableError';
    this.system = system;
  }
}

export function isDownstreamUnavailable(err: unknown): err is DownstreamUnavailableError {
  return err instanceof Error && err.name === 'DownstreamUnavailableError';
}
