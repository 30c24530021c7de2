import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { TradeError } from '../domain/errors.ts';
import { LEASE_ACQUIRE, LEASE_RELEASE, LEASE_RENEW } from '../storage/redis/scripts.ts';
import type { SqliteHandle } from '../storage/sqlite/handle.ts';
import { realAfter, realSleep, systemClock, type After, type Clock, type Sleep } from './clock.ts';

/** A transaction's lease, held by this process until released. */
export interface Lease {
  /** The transaction's stored version when the lease was taken (null: not stored yet). */
  storedVersion: number | null;
  /** False once a renewal found the lease taken over (it expired): the CAS fences what follows. */
  held(): boolean;
  release(): Promise<void>;
}

/** One writer per transaction across processes (DESIGN.md rule 1). */
export interface Leases {
  acquire(txnNo: string): Promise<Lease>;
}

export interface RedisLeasesOptions {
  /** Lease lifetime; renewed every third of it while held, so only a dead holder lets it lapse. */
  ttlMs: number;
  /** Longest wait for a lease another process holds before the request is refused as busy. */
  waitMs: number;
}

/**
 * Where a lease's waits, renewals and jitter come from: real time and `Math.random` by default;
 * the deterministic simulation passes its virtual clock and seeded randomness, so a busy
 * transaction's backoff and a held lease's renewals happen at the same virtual moments on replay.
 */
export interface LeaseTiming {
  clock: Clock;
  sleep: Sleep;
  /** Schedules the next renewal. */
  after: After;
  /** Jitter in [0, 1). */
  random: () => number;
}

const REAL_TIMING: LeaseTiming = {
  clock: systemClock,
  sleep: realSleep,
  // A renewal timer must not keep a process alive that is otherwise done.
  after: (ms, fire) => {
    const timer = setTimeout(fire, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
  random: () => Math.random(),
};

interface LeaseScripts {
  tcLeaseAcquire(lease: string, txn: string, quote: string, token: string, ttlMs: number): Promise<[number, number]>;
  tcLeaseRenew(lease: string, token: string, ttlMs: number): Promise<number>;
  tcLeaseRelease(lease: string, token: string): Promise<number>;
}

/**
 * Per-transaction leases in Redis: `SET` only when free (Lua, with the stored version read in the
 * same round trip, so the host can tell at once whether its copy in memory is stale), renewed
 * while held, released by token. The lease keeps two processes from applying events to one
 * transaction at the same time; the version compare-and-set on save stays the fence for the
 * case the lease cannot cover (a holder paused past its TTL).
 */
export class RedisLeases implements Leases {
  private readonly redis: (Redis | Cluster) & LeaseScripts;
  private readonly timing: LeaseTiming;
  /** Times a lease was waited for because another process held it (metrics). */
  contended = 0;

  constructor(
    redis: Redis | Cluster,
    private readonly keys: { lease(txnNo: string): string; txn(txnNo: string): string },
    private readonly options: RedisLeasesOptions,
    timing: Partial<LeaseTiming> = {},
  ) {
    this.timing = { ...REAL_TIMING, ...timing };
    this.redis = redis as (Redis | Cluster) & LeaseScripts;
    this.redis.defineCommand('tcLeaseAcquire', { lua: LEASE_ACQUIRE, numberOfKeys: 3 });
    this.redis.defineCommand('tcLeaseRenew', { lua: LEASE_RENEW, numberOfKeys: 1 });
    this.redis.defineCommand('tcLeaseRelease', { lua: LEASE_RELEASE, numberOfKeys: 1 });
  }

  async acquire(txnNo: string): Promise<Lease> {
    const token = randomUUID();
    const leaseKey = this.keys.lease(txnNo);
    const { clock, sleep, random } = this.timing;
    const deadline = clock.now() + this.options.waitMs;
    let wait = 2;
    for (;;) {
      const txnKey = this.keys.txn(txnNo);
      // The quote record's hash beside it (`tc:{T}:quote`, same hash tag): a quoted-only transaction's version.
      const quoteKey = `${txnKey.replace(/:txn$/, '')}:quote`;
      const [taken, value] = await this.redis.tcLeaseAcquire(leaseKey, txnKey, quoteKey, token, this.options.ttlMs);
      if (taken === 1) return this.held(leaseKey, token, value === -1 ? null : value);
      this.contended++;
      if (clock.now() > deadline) throw new TradeError('CORE_SYSTEM_UNAVAILABLE', `transaction ${txnNo} is busy in another process; try again`);
      await sleep(Math.min(wait, Math.max(1, value)) + random() * wait);
      wait = Math.min(wait * 2, 50);
    }
  }

  private held(leaseKey: string, token: string, storedVersion: number | null): Lease {
    let ours = true;
    let released = false;
    const every = Math.max(10, Math.floor(this.options.ttlMs / 3));
    // Each renewal is scheduled once the one before answered (a renewal that never answers, as
    // on a connection that died, ends the chain instead of piling up behind it).
    const renew = (): void => {
      void this.redis
        .tcLeaseRenew(leaseKey, token, this.options.ttlMs)
        .then(
          (renewed) => (ours = ours && renewed === 1),
          () => undefined,
        )
        .then(() => {
          if (!released) cancel = this.timing.after(every, renew);
        });
    };
    let cancel = this.timing.after(every, renew);
    return {
      storedVersion,
      held: () => ours,
      release: async () => {
        released = true;
        cancel();
        ours = false;
        await this.redis.tcLeaseRelease(leaseKey, token).catch(() => undefined);
      },
    };
  }
}

/**
 * Per-transaction leases in the SQLite file, for the processes that share it (`trade serve
 * --role api` beside `--role worker`): a row taken only when absent or lapsed, in one statement,
 * with the stored version read right after, renewed while held, deleted by token. Written
 * straight to the file, outside the group commit: a lease is about the processes alive now, not
 * something to survive a power cut, so it needs no fsync. As on Redis, the version
 * compare-and-set on save stays the fence for a holder paused past its lease.
 */
export class SqliteLeases implements Leases {
  /** Times a lease was waited for because another process held it (metrics). */
  contended = 0;
  private readonly stmts;

  constructor(
    handle: SqliteHandle,
    private readonly options: RedisLeasesOptions,
  ) {
    const db = handle.db;
    this.stmts = {
      take: db.prepare(
        `INSERT INTO leases (txn_no, token, until) VALUES (?, ?, ?)
         ON CONFLICT (txn_no) DO UPDATE SET token = excluded.token, until = excluded.until WHERE leases.until < ?`,
      ),
      version: db.prepare<[string], { version: number }>('SELECT version FROM transactions WHERE txn_no = ?'),
      // A quoted-only transaction's version is its quote record's (issue 21).
      quoteVersion: db.prepare<[string], { version: number }>('SELECT version FROM quotes WHERE txn_no = ?'),
      renew: db.prepare('UPDATE leases SET until = ? WHERE txn_no = ? AND token = ?'),
      release: db.prepare('DELETE FROM leases WHERE txn_no = ? AND token = ?'),
    };
  }

  async acquire(txnNo: string): Promise<Lease> {
    const token = randomUUID();
    const deadline = Date.now() + this.options.waitMs;
    let wait = 1;
    for (;;) {
      const now = Date.now();
      if (this.stmts.take.run(txnNo, token, now + this.options.ttlMs, now).changes === 1) {
        return this.held(txnNo, token, (this.stmts.version.get(txnNo) ?? this.stmts.quoteVersion.get(txnNo))?.version ?? null);
      }
      this.contended++;
      if (now > deadline) throw new TradeError('CORE_SYSTEM_UNAVAILABLE', `transaction ${txnNo} is busy in another process; try again`);
      await new Promise((r) => setTimeout(r, wait + Math.random() * wait));
      wait = Math.min(wait * 2, 20);
    }
  }

  private held(txnNo: string, token: string, storedVersion: number | null): Lease {
    let ours = true;
    const renew = setInterval(() => {
      try {
        ours = ours && this.stmts.renew.run(Date.now() + this.options.ttlMs, txnNo, token).changes === 1;
      } catch {
        // busy past the timeout: the next renewal tries again; the CAS fences a lapse meanwhile
      }
    }, Math.max(10, Math.floor(this.options.ttlMs / 3)));
    renew.unref();
    return {
      storedVersion,
      held: () => ours,
      release: async () => {
        clearInterval(renew);
        ours = false;
        try {
          this.stmts.release.run(txnNo, token);
        } catch {
          // the file is closing or busy: the row lapses by itself
        }
      },
    };
  }
}
