import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { IdempotencyLease, IdempotencyRecords } from '../storage/types.ts';
import type { Clock } from './clock.ts';

/**
 * The Idempotency-Key claims this process holds, under one owner id per process. While a keyed
 * request runs, its claim's lease is renewed every third of `leaseMs`; a process that dies stops
 * renewing, its leases run out, and a retry of its requests takes them over instead of answering
 * 409 `REQUEST_IN_PROGRESS` for ever.
 */
export class IdempotencyLeases {
  /** This process, as the owner of its claims. */
  readonly owner: string;
  private readonly held = new Set<string>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly store: IdempotencyRecords,
    readonly clock: Clock,
    readonly options: {
      /** See {@link IdempotencyConfig.leaseMs}. */
      leaseMs: number;
      /** The longest a keyed request waits for a claim another process may hold (its own deadline), ms. */
      waitMs: number;
    },
    private readonly log: Logger,
    /** Owner and run ids; the simulation passes its seeded source so that a seed replays exactly. */
    private readonly newId: () => string = randomUUID,
  ) {
    this.owner = newId();
  }

  /** A lease for a claim made now, under a fresh run id. */
  lease(): IdempotencyLease {
    return { owner: this.owner, leaseUntil: this.clock.now() + this.options.leaseMs, runId: this.newId() };
  }

  /** Keeps renewing `key` until {@link drop}. */
  hold(key: string): void {
    this.held.add(key);
    if (this.timer) return;
    this.timer = setInterval(() => void this.renew(), Math.max(1, Math.floor(this.options.leaseMs / 3)));
    this.timer.unref();
  }

  drop(key: string): void {
    this.held.delete(key);
    if (this.held.size === 0) this.stop();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async renew(): Promise<void> {
    const leaseUntil = this.clock.now() + this.options.leaseMs;
    await Promise.all(
      [...this.held].map(async (key) => {
        const ours = await this.store.renewIdempotencyKey(key, this.owner, leaseUntil).catch((err: unknown) => {
          // A store away for a moment: the next renewal tries again before the lease runs out.
          this.log.warn({ err, key }, 'could not renew an Idempotency-Key lease');
          return true;
        });
        // Stalled past the lease (a long pause) and taken over: the other run answers the key.
        if (!ours) {
          this.held.delete(key);
          this.log.warn({ key }, 'an Idempotency-Key this process was running was taken over');
        }
      }),
    );
  }
}
