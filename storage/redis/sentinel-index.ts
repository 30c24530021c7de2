import type { IdleTransaction, SentinelIndex } from '../types.ts';
import type { RedisHandle } from './handle.ts';

/** The sentinel on Redis: nudge counts and the stuck flag in the transaction's hash, the stuck set, and the scan's turn. */
export class RedisSentinelIndex implements SentinelIndex {
  constructor(private readonly h: RedisHandle) {}

  /** Takes the sentinel's turn for `periodMs` (on the runtime's clock): true for one caller a period across processes. */
  async claimScan(periodMs: number): Promise<boolean> {
    return this.h.claimTurn('sentinel-scan', periodMs);
  }

  /** Repairs the indexes of writes a crash interrupted (marked dirty longer than `olderThanMs`). */
  async repairIndexes(nowMs: number, olderThanMs = 5_000): Promise<number> {
    const dirty = await this.h.redis.zrangebyscore(this.h.idx('dirty'), '-inf', nowMs - olderThanMs, 'LIMIT', 0, 1000);
    for (const txnNo of dirty) {
      await this.h.reindex(txnNo);
      await this.h.redis.zrem(this.h.idx('dirty'), txnNo);
    }
    return dirty.length;
  }

  async idleTransactions(updatedBefore: number, limit: number): Promise<IdleTransaction[]> {
    const txnNos = await this.h.redis.zrangebyscore(this.h.idx('active'), '-inf', updatedBefore, 'LIMIT', 0, limit);
    const out: IdleTransaction[] = [];
    for (const txnNo of txnNos) {
      const [version, state, updatedAt, atRest, working, timers, stuck] = await this.h.redis.hmget(this.h.k(txnNo, 'txn'), 'version', 'state', 'updatedAt', 'atRest', 'working', 'timers', 'stuck');
      if (!version || atRest === '1' || Number(updatedAt) > updatedBefore) continue;
      out.push({ txnNo, version: Number(version), state: state ?? '', updatedAt: Number(updatedAt), working: working === '1', timers: JSON.parse(timers ?? '{}') as Record<string, number>, stuck: stuck === '1' });
    }
    return out;
  }

  async recordNudge(txnNo: string, version: number): Promise<number> {
    return this.h.redis.tcNudge(this.h.k(txnNo, 'txn'), version);
  }

  async markStuck(txnNo: string, version: number): Promise<boolean> {
    const current = await this.h.version(txnNo);
    if (current !== version) return false;
    await this.h.redis.zadd(this.h.idx('attention'), 0, txnNo);
    await this.h.redis.zadd(this.h.idx('stuck'), 0, txnNo);
    await this.h.redis.hset(this.h.k(txnNo, 'txn'), 'stuck', 1);
    return true;
  }

  async stuckCount(): Promise<number> {
    let count = 0;
    for (const txnNo of await this.h.redis.zrange(this.h.idx('stuck'), 0, -1)) {
      if ((await this.h.redis.hget(this.h.k(txnNo, 'txn'), 'stuck')) === '1') count++;
      else {
        await this.h.redis.zrem(this.h.idx('stuck'), txnNo);
        await this.h.reindexAttention(txnNo);
      }
    }
    return count;
  }
}
