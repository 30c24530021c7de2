import { idempotencyKey, type CallKey, type Outcome } from '../contract.ts';
import type { FaultInjector } from '../sim/faults.ts';
import type { Clock, SimStore } from '../sim/store.ts';
import { TccRules, type LockStatus } from '../sim/tcc.ts';
import { SimVerbs } from '../sim/verb.ts';
import type { Coupon, CouponPort } from './port.ts';

/** What a reward coupon is made from: everything but the holder, the id and the validity dates. */
export interface CouponTemplate extends Pick<Coupon, 'name' | 'benefit' | 'scope' | 'stackableWithPromotions'> {
  templateId: string;
  /** The coupon is valid this many days from its issue. */
  validDays: number;
}

/** The simulated coupon templates: the reward coupons campaigns hand out. */
export const COUPON_TEMPLATES: readonly CouponTemplate[] = [
  {
    templateId: 'TPL-WASH5',
    name: '5 yuan off a car wash',
    benefit: { type: 'cash', valueFen: 500 },
    scope: { kind: 'goods', skus: ['SKU-WASH'] },
    stackableWithPromotions: true,
    validDays: 90,
  },
];

const DAY_MS = 24 * 60 * 60 * 1000;

/** A coupon as the simulator keeps it: with the lock that holds (or used) it. */
export interface HeldCoupon extends Coupon {
  lockKey: string | null;
}

/** One lock (TCC) over a set of a user's coupons. */
export interface CouponLock {
  lockKey: string;
  userId: string;
  couponIds: string[];
  status: LockStatus;
  updatedAt: string;
}

type CouponRow = { body: string; status: Coupon['status']; lock_key: string | null };
type LockRow = { lock_key: string; user_id: string; coupon_ids: string; status: LockStatus; updated_at: string };

function toCoupon(row: CouponRow): HeldCoupon {
  return { ...(JSON.parse(row.body) as Omit<Coupon, 'status'>), status: row.status, lockKey: row.lock_key };
}

function toLock(row: LockRow): CouponLock {
  return { lockKey: row.lock_key, userId: row.user_id, couponIds: JSON.parse(row.coupon_ids) as string[], status: row.status, updatedAt: row.updated_at };
}

/**
 * The coupon system, simulated over the {@link SimStore} as a TCC resource: `lock` takes a set of
 * the user's coupons that are available and valid at the clock's time (all or none), `use` marks
 * them used, `release` makes them available again. The callee contract (keys, empty rollback,
 * crossings) is {@link TccRules}'. `restore` returns used coupons of a refunded purchase while they
 * are still valid. `issue` makes reward coupons from the {@link COUPON_TEMPLATES}; `revoke` deletes
 * an unused one.
 */
export class CouponSimulator implements CouponPort {
  private readonly stmts;
  private readonly tcc: TccRules;
  private readonly verbs: SimVerbs;

  constructor(
    private readonly store: SimStore,
    private readonly faults: FaultInjector,
    private readonly clock: Clock,
    private readonly templates: readonly CouponTemplate[] = COUPON_TEMPLATES,
  ) {
    this.verbs = new SimVerbs(store, faults);
    this.tcc = new TccRules(store, 'coupon', { try: 'lock', confirm: 'use', cancel: 'release' });
    const db = store.db;
    this.stmts = {
      coupon: db.prepare<[string], CouponRow>('SELECT body, status, lock_key FROM coupons WHERE coupon_id = ?'),
      couponsOf: db.prepare<[string], CouponRow>('SELECT body, status, lock_key FROM coupons WHERE user_id = ? ORDER BY rowid'),
      availableOf: db.prepare<[string], CouponRow>("SELECT body, status, lock_key FROM coupons WHERE user_id = ? AND status = 'available' ORDER BY rowid"),
      lock: db.prepare<[string], LockRow>('SELECT lock_key, user_id, coupon_ids, status, updated_at FROM coupon_locks WHERE lock_key = ?'),
      locksOf: db.prepare<[string], LockRow>(
        'SELECT lock_key, user_id, coupon_ids, status, updated_at FROM coupon_locks WHERE user_id = ? ORDER BY rowid'),
      insertLock: db.prepare<[string, string, string, string]>(
        "INSERT INTO coupon_locks (lock_key, user_id, coupon_ids, status, updated_at) VALUES (?, ?, ?, 'locked', ?)"),
      setLock: db.prepare<[LockStatus, string, string]>('UPDATE coupon_locks SET status = ?, updated_at = ? WHERE lock_key = ?'),
      hold: db.prepare<[string, string, string]>(
        "UPDATE coupons SET status = 'locked', lock_key = ?, updated_at = ? WHERE coupon_id = ?"),
      use: db.prepare<[string, string]>("UPDATE coupons SET status = 'used', updated_at = ? WHERE lock_key = ?"),
      // The lock key is forgotten: a released coupon is as if never locked.
      free: db.prepare<[string, string]>("UPDATE coupons SET status = 'available', lock_key = NULL, updated_at = ? WHERE lock_key = ?"),
      // A restored coupon forgets the lock that used it, like a released one.
      unuse: db.prepare<[string, string]>(
        "UPDATE coupons SET status = 'available', lock_key = NULL, updated_at = ? WHERE coupon_id = ? AND status = 'used'"),
      insert: db.prepare<[string, string, string, string]>(
        "INSERT INTO coupons (coupon_id, user_id, body, status, updated_at) VALUES (?, ?, ?, 'available', ?)"),
      remove: db.prepare<[string]>('DELETE FROM coupons WHERE coupon_id = ?'),
      user: db.prepare<[string], { user_id: string }>('SELECT user_id FROM users WHERE user_id = ?'),
    };
  }

  listCoupons(userId: string): Promise<Coupon[]> {
    // Validity is the quote's to judge (it knows the quote's time); expired ones come back as they are.
    return this.faults.run('listCoupons', () =>
      // A wallet keeps every coupon ever used: only the available ones are read and parsed.
      this.stmts.availableOf.all(userId).map((row) => {
        const { lockKey: _held, ...coupon } = toCoupon(row);
        return coupon;
      }));
  }

  /** One coupon with its status and lock, bypassing faults (admin API, test assertions). */
  peekCoupon(couponId: string): HeldCoupon | null {
    const row = this.stmts.coupon.get(couponId);
    return row ? toCoupon(row) : null;
  }

  /** All of the user's coupons, whatever their status, in dataset order, bypassing faults. */
  peekCoupons(userId: string): HeldCoupon[] {
    return this.stmts.couponsOf.all(userId).map(toCoupon);
  }

  /**
   * Test only: the coupon system withdrew a coupon (its campaign was cancelled), so a restore
   * naming it is refused with COUPON_NOT_FOUND: a refusal, not an outage.
   */
  withdraw(couponId: string): void {
    this.stmts.remove.run(couponId);
  }

  /** The user's coupon locks, oldest first, bypassing faults. */
  peekLocks(userId: string): CouponLock[] {
    return this.stmts.locksOf.all(userId).map(toLock);
  }

  lock(key: CallKey, req: { lockKey: string; userId: string; couponIds: string[] }): Promise<Outcome<{ lockKey: string }, 'COUPON_UNAVAILABLE' | 'LOCK_CANCELLED'>> {
    if (req.couponIds.length === 0 || new Set(req.couponIds).size !== req.couponIds.length) {
      return Promise.reject(new RangeError(`lock needs distinct coupon ids, got ${JSON.stringify(req.couponIds)}`));
    }
    const k = idempotencyKey(key);
    return this.faults.run('lock', () =>
      this.store.once('coupon', k, 'lock', req, () =>
        this.tcc.try(k, req.lockKey, this.stmts.lock.get(req.lockKey), () => {
          for (const couponId of req.couponIds) {
            const why = this.whyUnavailable(couponId, req.userId);
            if (why) return { ok: false, code: 'COUPON_UNAVAILABLE', message: why };
          }
          const at = this.store.nowIso();
          for (const couponId of req.couponIds) this.stmts.hold.run(req.lockKey, at, couponId);
          this.stmts.insertLock.run(req.lockKey, req.userId, JSON.stringify(req.couponIds), at);
          return undefined;
        })));
  }

  use(key: CallKey, req: { lockKey: string }): Promise<Outcome<{}, 'LOCK_CANCELLED' | 'LOCK_NOT_FOUND'>> {
    const k = idempotencyKey(key);
    return this.faults.run('use', () =>
      this.store.once('coupon', k, 'use', req, () =>
        this.tcc.confirm(k, req.lockKey, this.stmts.lock.get(req.lockKey), () => {
          const at = this.store.nowIso();
          this.stmts.use.run(at, req.lockKey);
          this.stmts.setLock.run('confirmed', at, req.lockKey);
        })));
  }

  release(key: CallKey, req: { lockKey: string }): Promise<Outcome<{}, 'ALREADY_CONFIRMED'>> {
    const k = idempotencyKey(key);
    return this.faults.run('release', () =>
      this.store.once('coupon', k, 'release', req, () =>
        this.tcc.cancel(k, req.lockKey, this.stmts.lock.get(req.lockKey), () => {
          const at = this.store.nowIso();
          this.stmts.free.run(at, req.lockKey);
          this.stmts.setLock.run('cancelled', at, req.lockKey);
        })));
  }

  restore(key: CallKey, req: { userId: string; restoreNo: string; couponIds: string[] }): Promise<Outcome<{ restored: string[]; expired: string[] }, 'COUPON_NOT_FOUND'>> {
    if (req.couponIds.length === 0 || new Set(req.couponIds).size !== req.couponIds.length) {
      return Promise.reject(new RangeError(`restore needs distinct coupon ids, got ${JSON.stringify(req.couponIds)}`));
    }
    const k = idempotencyKey(key);
    return this.faults.run('restore', () =>
      this.store.once('coupon', k, 'restore', req, () =>
        this.store.oncePerNo('coupon', 'restore', req.restoreNo, req, (): Outcome<{ restored: string[]; expired: string[] }, 'COUPON_NOT_FOUND'> => {
          const coupons = req.couponIds.map((couponId) => this.peekCoupon(couponId));
          const missing = req.couponIds.find((couponId, i) => coupons[i]?.userId !== req.userId);
          if (missing !== undefined) return { ok: false, code: 'COUPON_NOT_FOUND', message: `user ${req.userId} holds no coupon ${missing}` };
          const now = this.clock.now();
          const restored: string[] = [];
          const expired: string[] = [];
          const at = this.store.nowIso();
          for (const coupon of coupons) {
            // Available or locked coupons were never taken by this purchase, or are back already.
            if (coupon?.status !== 'used') continue;
            if (now > Date.parse(coupon.validTo)) {
              expired.push(coupon.couponId);
              continue;
            }
            this.stmts.unuse.run(at, coupon.couponId);
            restored.push(coupon.couponId);
          }
          if (restored.length > 0) this.store.recordEffect('coupon', 'restore', k);
          return { ok: true, restored, expired };
        })));
  }

  issue(key: CallKey, req: { userId: string; issueNo: string; templateId: string }): Promise<Outcome<{ couponId: string }, 'TEMPLATE_NOT_FOUND' | 'USER_NOT_FOUND'>> {
    return this.verbs.run('issue', key, req, req.issueNo, (k): Outcome<{ couponId: string }, 'TEMPLATE_NOT_FOUND' | 'USER_NOT_FOUND'> => {
      const template = this.templates.find((t) => t.templateId === req.templateId);
      if (!template) return { ok: false, code: 'TEMPLATE_NOT_FOUND', message: `no coupon template ${req.templateId}` };
      if (!this.stmts.user.get(req.userId)) return { ok: false, code: 'USER_NOT_FOUND', message: `no user ${req.userId}` };
      const { templateId: _template, validDays, ...made } = template;
      const now = this.clock.now();
      // Derived from the issue number, so a coupon id is unique and predictable.
      const couponId = `CP-${req.issueNo}`;
      const body: Omit<Coupon, 'status'> = {
        couponId,
        userId: req.userId,
        ...made,
        validFrom: new Date(now).toISOString(),
        validTo: new Date(now + validDays * DAY_MS).toISOString(),
      };
      this.stmts.insert.run(couponId, req.userId, JSON.stringify(body), this.store.nowIso());
      this.store.recordEffect('coupon', 'issue', k);
      return { ok: true, couponId };
    });
  }

  revoke(key: CallKey, req: { userId: string; couponId: string }): Promise<Outcome<{ couponId: string }, 'COUPON_USED' | 'COUPON_NOT_FOUND'>> {
    return this.verbs.run('revoke', key, req, req.couponId, (k): Outcome<{ couponId: string }, 'COUPON_USED' | 'COUPON_NOT_FOUND'> => {
      const coupon = this.peekCoupon(req.couponId);
      if (coupon?.userId !== req.userId) return { ok: false, code: 'COUPON_NOT_FOUND', message: `user ${req.userId} holds no coupon ${req.couponId}` };
      // A locked coupon is already part of a purchase; taking it away would fail that purchase's confirm.
      if (coupon.status !== 'available') return { ok: false, code: 'COUPON_USED', message: `coupon ${req.couponId} is ${coupon.status}` };
      this.stmts.remove.run(req.couponId);
      this.store.recordEffect('coupon', 'revoke', k);
      return { ok: true, couponId: req.couponId };
    });
  }

  /** Why the user cannot lock this coupon now, or null when they can. */
  private whyUnavailable(couponId: string, userId: string): string | null {
    const coupon = this.peekCoupon(couponId);
    // Someone else's coupon reads like an unknown one: the caller learns nothing about other users.
    if (!coupon || coupon.userId !== userId) return `user ${userId} holds no coupon ${couponId}`;
    if (coupon.status !== 'available') return `coupon ${couponId} is ${coupon.status}`;
    const now = this.clock.now();
    if (now < Date.parse(coupon.validFrom) || now > Date.parse(coupon.validTo)) {
      return `coupon ${couponId} is valid from ${coupon.validFrom} to ${coupon.validTo}`;
    }
    return null;
  }
}
