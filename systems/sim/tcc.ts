import type { Outcome, Refused, SystemName } from '../contract.ts';
import type { SimStore } from './store.ts';

/** A TCC lock's state, the same in every simulated resource's lock table. */
export type LockStatus = 'locked' | 'confirmed' | 'cancelled';

/** What the rules need of a resource's lock row. */
export interface HeldLock {
  status: LockStatus;
}

/** The verb names one resource journals its try, confirm and cancel under (e.g. `reserve`, `deduct`, `release`). */
export interface TccVerbs {
  try: string;
  confirm: string;
  cancel: string;
}

/**
 * The callee contract's TCC rules (DOMAIN.md), written once for every simulated resource (stored
 * value, goods, coupons, points) so that they cannot drift apart. Each method runs inside the
 * resource's {@link SimStore.once}; the resource passes its lock row as read in that same
 * transaction (undefined when there is none) and the state change to make; this decides whether
 * to make it and journals it.
 *
 * - try: refused with LOCK_CANCELLED once the lock was cancelled or rolled back empty (no hanging
 *   lock); a lock that already exists is the first result again, with no second effect;
 * - confirm: LOCK_CANCELLED after a cancel, LOCK_NOT_FOUND with no lock at all, a no-op once confirmed;
 * - cancel: with no lock, an empty rollback (tombstone + effect) that succeeds; ALREADY_CONFIRMED
 *   after a confirm; a no-op once cancelled.
 */
export class TccRules {
  constructor(
    private readonly store: SimStore,
    private readonly system: SystemName,
    private readonly verbs: TccVerbs,
  ) {}

  /** Runs `lock` for a new lock; `lock` returns a refusal (and must then have changed nothing) or nothing. */
  try<C extends string>(
    k: string,
    lockKey: string,
    existing: HeldLock | undefined,
    lock: () => Refused<C> | undefined,
  ): Outcome<{ lockKey: string }, C | 'LOCK_CANCELLED'> {
    if (existing?.status === 'cancelled' || this.store.hasTombstone(this.system, lockKey)) return this.cancelled(lockKey);
    // The same lockKey under another step key: the lock exists, locking again changes nothing.
    if (existing) return { ok: true, lockKey };
    const refused = lock();
    if (refused) return refused;
    this.store.recordEffect(this.system, this.verbs.try, k);
    return { ok: true, lockKey };
  }

  /** Runs `confirm` on the lock when it is held. */
  confirm<L extends HeldLock>(k: string, lockKey: string, existing: L | undefined, confirm: (lock: L) => void): Outcome<{}, 'LOCK_CANCELLED' | 'LOCK_NOT_FOUND'> {
    if (!existing) {
      return this.store.hasTombstone(this.system, lockKey)
        ? this.cancelled(lockKey)
        : { ok: false, code: 'LOCK_NOT_FOUND', message: `no lock ${lockKey}` };
    }
    if (existing.status === 'cancelled') return this.cancelled(lockKey);
    if (existing.status === 'confirmed') return { ok: true };
    confirm(existing);
    this.store.recordEffect(this.system, this.verbs.confirm, k);
    return { ok: true };
  }

  /** Runs `cancel` on the lock when it is held; with no lock, records the empty rollback. */
  cancel<L extends HeldLock>(k: string, lockKey: string, existing: L | undefined, cancel: (lock: L) => void): Outcome<{}, 'ALREADY_CONFIRMED'> {
    if (!existing) {
      // Empty rollback: the try may still be on its way; the tombstone makes it refuse.
      if (!this.store.hasTombstone(this.system, lockKey)) {
        this.store.addTombstone(this.system, lockKey);
        this.store.recordEffect(this.system, this.verbs.cancel, k, 'empty-rollback');
      }
      return { ok: true };
    }
    if (existing.status === 'confirmed') return { ok: false, code: 'ALREADY_CONFIRMED', message: `lock ${lockKey} is already confirmed` };
    if (existing.status === 'cancelled') return { ok: true };
    cancel(existing);
    this.store.recordEffect(this.system, this.verbs.cancel, k);
    return { ok: true };
  }

  private cancelled(lockKey: string): Refused<'LOCK_CANCELLED'> {
    return { ok: false, code: 'LOCK_CANCELLED', message: `lock ${lockKey} was cancelled` };
  }
}
