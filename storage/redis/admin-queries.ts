import type { AdminQueries, FinalBacklog, ListFilter, StoreStats } from '../types.ts';
import type { RedisHandle } from './handle.ts';

/** The admin list and the metrics' counts on Redis, from the index slot (entries checked against records). */
export class RedisAdminQueries implements AdminQueries {
  constructor(private readonly h: RedisHandle) {}

  async listTransactions(filter: ListFilter): Promise<{ txnNo: string; state: string; updatedAt: number }[]> {
    // Quoted-only transactions (issue 21) are in `all`, not in a state index.
    const index = filter.needsAttention ? this.h.idx('attention') : filter.state && filter.state !== 'quoted' ? this.h.idx(`state:${filter.state}`) : this.h.idx('all');
    const out: { txnNo: string; state: string; updatedAt: number }[] = [];
    let max = filter.before ? `(${filter.before}` : '+';
    while (out.length < filter.limit) {
      const page = await this.h.redis.zrevrangebylex(index, max, '-', 'LIMIT', 0, filter.limit * 2);
      if (!page.length) break;
      const rows = await Promise.all(
        page.map(async (t) => {
          const row = await this.h.redis.hmget(this.h.k(t, 'txn'), 'state', 'updatedAt', 'merchantId');
          if (row[0] || filter.needsAttention) return row;
          const [updatedAt, merchantId] = await this.h.redis.hmget(this.h.k(t, 'quote'), 'updatedAt', 'merchantId');
          return updatedAt ? ['quoted', updatedAt, merchantId] : row;
        }),
      );
      for (let i = 0; i < page.length && out.length < filter.limit; i++) {
        const [state, updatedAt, merchantId] = rows[i] ?? [];
        if (!state) continue;
        if (filter.state && state !== filter.state) continue;
        if (filter.merchantIds && !filter.merchantIds.includes(merchantId ?? '')) continue;
        if (filter.needsAttention && !(await this.h.needsAttention(page[i]!))) continue;
        out.push({ txnNo: page[i]!, state, updatedAt: Number(updatedAt) });
      }
      max = `(${page.at(-1)}`;
    }
    return out;
  }

  /** Counts for metrics, from the indexes (a crash may leave one briefly over-counted). */
  async stats(idleBefore: number): Promise<StoreStats> {
    const states = await this.h.states();
    const m = this.h.redis.multi();
    for (const state of states) m.zcard(this.h.idx(`state:${state}`));
    m.zcard(this.h.idx('attention'));
    m.zrangebyscore(this.h.idx('active'), '-inf', idleBefore, 'LIMIT', 0, 10_000);
    // Quote records (issue 21), by keepUntil: those kept until before idleBefore have expired.
    const quotes = this.h.redis.multi().zremrangebyscore(this.h.idx('quotes'), '-inf', `(${idleBefore}`).zcard(this.h.idx('quotes')).exec();
    const replies = ((await m.exec()) ?? []).map(([, v]) => v);
    const byState: Record<string, number> = {};
    states.forEach((state, i) => {
      const n = Number(replies[i]);
      if (n > 0) byState[state] = n;
    });
    const quoted = Number(((await quotes) ?? [])[1]?.[1] ?? 0);
    if (quoted > 0) byState.quoted = (byState.quoted ?? 0) + quoted;
    const idleTxns = (replies[states.length + 1] as string[]) ?? [];
    const idleStates = await Promise.all(idleTxns.map((t) => this.h.redis.hget(this.h.k(t, 'txn'), 'state')));
    return { byState, needsAttention: Number(replies[states.length]), idle: idleStates.filter((x) => x !== null && x !== 'quoted').length };
  }

  /** From the `final` index, scored by finalAt (a crash may leave it briefly over-counted, as {@link stats}). */
  async finalBacklog(finalBefore: number): Promise<FinalBacklog> {
    const replies = ((await this.h.redis.multi().zcount(this.h.idx('final'), '-inf', finalBefore).zrange(this.h.idx('final'), 0, 0, 'WITHSCORES').exec()) ?? []).map(([, v]) => v);
    const oldest = replies[1] as string[] | undefined;
    return { count: Number(replies[0] ?? 0), oldestFinalAt: oldest && oldest.length === 2 ? Number(oldest[1]) : null };
  }
}
