import type { IdempotencyClaim, IdempotencyLease, IdempotencyRecords, StoredResponse } from '../types.ts';
import type { RedisHandle } from './handle.ts';

/** Idempotency-Key records on Redis: one hash per key (`tc:idem:{key}`), expiring after the retention. */
export class RedisIdempotencyRecords implements IdempotencyRecords {
  constructor(private readonly h: RedisHandle) {}

  async claimIdempotencyKey(key: string, fingerprint: string, nowMs: number, lease: IdempotencyLease): Promise<IdempotencyClaim> {
    const [status, a, b] = await this.h.redis.tcClaimIdempotency(this.h.idemKey(key), fingerprint, nowMs, this.h.idempotencyRetentionMs, lease.owner, lease.leaseUntil, lease.runId);
    if (status === 'claimed' || status === 'mismatch') return { status };
    if (status === 'in-progress') return { status, owner: a ?? '', leaseUntil: Number(b) };
    if (status === 'taken-over') return { status, runId: a ?? lease.runId, txnNo: b ? b : null };
    return { status: 'done', response: JSON.parse(a ?? 'null') as StoredResponse };
  }

  async renewIdempotencyKey(key: string, owner: string, leaseUntil: number): Promise<boolean> {
    return (await this.h.redis.tcOwnIdempotency(this.h.idemKey(key), owner, 'leaseUntil', leaseUntil)) === 1;
  }

  async noteIdempotencyTxn(key: string, owner: string, txnNo: string): Promise<boolean> {
    return (await this.h.redis.tcOwnIdempotency(this.h.idemKey(key), owner, 'txnNo', txnNo)) === 1;
  }

  async completeIdempotencyKey(key: string, owner: string, response: StoredResponse): Promise<void> {
    await this.h.redis.tcCompleteIdempotency(this.h.idemKey(key), JSON.stringify(response), this.h.idempotencyRetentionMs, owner);
  }

  async releaseIdempotencyKey(key: string, owner: string): Promise<void> {
    await this.h.redis.tcReleaseIdempotency(this.h.idemKey(key), owner);
  }

  /** Nothing to do: every idempotency key carries the retention as its TTL (see the claim script). */
  async purgeIdempotency(_olderThanMs: number, _limit: number): Promise<number> {
    return 0;
  }
}
