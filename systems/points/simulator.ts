import { idempotencyKey, type CallKey, type Outcome } from '../contract.ts';
import type { FaultInjector } from '../sim/faults.ts';
import type { SimStore } from '../sim/store.ts';
import { TccRules, type LockStatus } from '../sim/tcc.ts';
import { requireCount, SimVerbs } from '../sim/verb.ts';
import type { PointsAccount, PointsPort } from './port.ts';

/** A points account as the simulator keeps it: spendable balance and points held by locks. */
export interface HeldPointsAccount extends PointsAccount {
  locked: number;
}

/** One lock (TCC) of a user's points. */
export interface PointsLock {
  lockKey: string;
  points: number;
  status: LockStatus;
  updatedAt: string;
}

type AccountRow = { user_id: string; balance: number; locked: number; points_per_yuan: number; step: number; max_ratio_bp: number };
type LockRow = { user_id: string; points: number; status: LockStatus };

/**
 * The points system, simulated over the {@link SimStore} as a TCC resource: `lock` moves points
 * from the balance to locked, `deduct` consumes the locked points, `release` returns them to the
 * balance. The callee contract (keys, empty rollback, crossings) is {@link TccRules}'. `restore`
 * gives back points a refunded purchase used, straight to the balance; `award` and `reverseAward`
 * add and take back the points a purchase earned.
 */
export class PointsSimulator implements PointsPort {
  private readonly stmts;
  private readonly tcc: TccRules;
  private readonly verbs: SimVerbs;

  constructor(private readonly store: SimStore, private readonly faults: FaultInjector) {
    this.verbs = new SimVerbs(store, faults);
    this.tcc = new TccRules(store, 'points', { try: 'lock', confirm: 'deduct', cancel: 'release' });
    const db = store.db;
    this.stmts = {
      account: db.prepare<[string], AccountRow>(
        'SELECT user_id, balance, locked, points_per_yuan, step, max_ratio_bp FROM points_accounts WHERE user_id = ?'),
      lock: db.prepare<[string], LockRow>('SELECT user_id, points, status FROM points_locks WHERE lock_key = ?'),
      locksOf: db.prepare<[string], PointsLock>(
        'SELECT lock_key AS lockKey, points, status, updated_at AS updatedAt FROM points_locks WHERE user_id = ? ORDER BY rowid'),
      insertLock: db.prepare<[string, string, number, string]>(
        "INSERT INTO points_locks (lock_key, user_id, points, status, updated_at) VALUES (?, ?, ?, 'locked', ?)"),
      setLock: db.prepare<[LockStatus, string, string]>('UPDATE points_locks SET status = ?, updated_at = ? WHERE lock_key = ?'),
      // Signed deltas: lock (-p, +p), deduct (0, -p), release (+p, -p). The CHECKs keep both >= 0.
      move: db.prepare<[number, number, string]>(
        'UPDATE points_accounts SET balance = balance + ?, locked = locked + ? WHERE user_id = ?'),
    };
  }

  getAccount(userId: string): Promise<PointsAccount | null> {
    return this.faults.run('getAccount', () => {
      const held = this.peekPointsAccount(userId);
      if (!held) return null;
      const { locked: _held, ...account } = held;
      return account;
    });
  }

  /** The account with its locked points, bypassing faults (admin API, test assertions). */
  peekPointsAccount(userId: string): HeldPointsAccount | null {
    const row = this.stmts.account.get(userId);
    if (!row) return null;
    return {
      userId: row.user_id,
      balance: row.balance,
      rule: { pointsPerYuan: row.points_per_yuan, step: row.step, maxRatioBp: row.max_ratio_bp },
      locked: row.locked,
    };
  }

  /**
   * Test only: the member's points account is closed (the member left the programme), so every
   * later call for it is refused with ACCOUNT_NOT_FOUND: a refusal, not an outage.
   */
  closeAccount(userId: string): void {
    this.store.db.prepare('DELETE FROM points_accounts WHERE user_id = ?').run(userId);
  }

  /** The user's points locks, oldest first, bypassing faults. */
  peekLocks(userId: string): PointsLock[] {
    return this.stmts.locksOf.all(userId);
  }

  lock(key: CallKey, req: { lockKey: string; userId: string; points: number }): Promise<Outcome<{ lockKey: string }, 'INSUFFICIENT_POINTS' | 'LOCK_CANCELLED'>> {
    if (!Number.isSafeInteger(req.points) || req.points <= 0) {
      return Promise.reject(new RangeError(`lock needs a positive integer of points, got ${req.points}`));
    }
    const k = idempotencyKey(key);
    return this.faults.run('lock', () =>
      this.store.once('points', k, 'lock', req, () =>
        this.tcc.try(k, req.lockKey, this.stmts.lock.get(req.lockKey), () => {
          const balance = this.stmts.account.get(req.userId)?.balance ?? 0;
          if (balance < req.points) {
            return { ok: false, code: 'INSUFFICIENT_POINTS', message: `user ${req.userId} has ${balance} points, ${req.points} needed` };
          }
          this.stmts.move.run(-req.points, req.points, req.userId);
          this.stmts.insertLock.run(req.lockKey, req.userId, req.points, this.store.nowIso());
          return undefined;
        })));
  }

  deduct(key: CallKey, req: { lockKey: string }): Promise<Outcome<{}, 'LOCK_CANCELLED' | 'LOCK_NOT_FOUND'>> {
    const k = idempotencyKey(key);
    return this.faults.run('deduct', () =>
      this.store.once('points', k, 'deduct', req, () =>
        this.tcc.confirm(k, req.lockKey, this.stmts.lock.get(req.lockKey), (lock) => {
          this.stmts.move.run(0, -lock.points, lock.user_id);
          this.stmts.setLock.run('confirmed', this.store.nowIso(), req.lockKey);
        })));
  }

  release(key: CallKey, req: { lockKey: string }): Promise<Outcome<{}, 'ALREADY_CONFIRMED'>> {
    const k = idempotencyKey(key);
    return this.faults.run('release', () =>
      this.store.once('points', k, 'release', req, () =>
        this.tcc.cancel(k, req.lockKey, this.stmts.lock.get(req.lockKey), (lock) => {
          this.stmts.move.run(lock.points, -lock.points, lock.user_id);
          this.stmts.setLock.run('cancelled', this.store.nowIso(), req.lockKey);
        })));
  }

  restore(key: CallKey, req: { userId: string; restoreNo: string; points: number }): Promise<Outcome<{ restoreNo: string }, 'ACCOUNT_NOT_FOUND'>> {
    if (!Number.isSafeInteger(req.points) || req.points <= 0) {
      return Promise.reject(new RangeError(`restore needs a positive integer of points, got ${req.points}`));
    }
    const k = idempotencyKey(key);
    return this.faults.run('restore', () =>
      this.store.once('points', k, 'restore', req, () =>
        this.store.oncePerNo('points', 'restore', req.restoreNo, req, (): Outcome<{ restoreNo: string }, 'ACCOUNT_NOT_FOUND'> => {
          if (!this.stmts.account.get(req.userId)) return { ok: false, code: 'ACCOUNT_NOT_FOUND', message: `user ${req.userId} has no points account` };
          this.stmts.move.run(req.points, 0, req.userId);
          this.store.recordEffect('points', 'restore', k);
          return { ok: true, restoreNo: req.restoreNo };
        })));
  }

  async award(key: CallKey, req: { userId: string; awardNo: string; points: number }): Promise<Outcome<{ awardNo: string }, 'ACCOUNT_NOT_FOUND'>> {
    requireCount('points', req.points, { positive: true });
    return this.verbs.run('award', key, req, req.awardNo, (k): Outcome<{ awardNo: string }, 'ACCOUNT_NOT_FOUND'> => {
      if (!this.stmts.account.get(req.userId)) return { ok: false, code: 'ACCOUNT_NOT_FOUND', message: `user ${req.userId} has no points account` };
      this.stmts.move.run(req.points, 0, req.userId);
      this.store.recordEffect('points', 'award', k);
      return { ok: true, awardNo: req.awardNo };
    });
  }

  async reverseAward(key: CallKey, req: { userId: string; reverseNo: string; points: number }): Promise<Outcome<{ reverseNo: string; reversed: number }, 'ACCOUNT_NOT_FOUND'>> {
    requireCount('points', req.points, { positive: true });
    return this.verbs.run('reverseAward', key, req, req.reverseNo, (k): Outcome<{ reverseNo: string; reversed: number }, 'ACCOUNT_NOT_FOUND'> => {
      const account = this.stmts.account.get(req.userId);
      if (!account) return { ok: false, code: 'ACCOUNT_NOT_FOUND', message: `user ${req.userId} has no points account` };
      // Points the user spent since cannot be taken back; locked ones belong to a pending purchase.
      const reversed = Math.min(req.points, account.balance);
      if (reversed > 0) {
        this.stmts.move.run(-reversed, 0, req.userId);
        this.store.recordEffect('points', 'reverseAward', k, reversed < req.points ? `short by ${req.points - reversed}` : null);
      }
      return { ok: true, reverseNo: req.reverseNo, reversed };
    });
  }
}
