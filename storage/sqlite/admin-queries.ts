import type { AdminQueries, FinalBacklog, ListFilter, StoreStats } from '../types.ts';
import type { SqliteHandle } from './handle.ts';

/** The admin list and the metrics' counts on SQLite, through small partial indexes. */
export class SqliteAdminQueries implements AdminQueries {
  private readonly db;

  constructor(handle: SqliteHandle) {
    this.db = handle.db;
  }

  async listTransactions(filter: ListFilter): Promise<{ txnNo: string; state: string; updatedAt: number }[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.state) {
      where.push('state = ?');
      args.push(filter.state);
    }
    if (filter.needsAttention) {
      where.push(
        `(needs_attention = 1 OR EXISTS (SELECT 1 FROM tasks k WHERE k.txn_no = transactions.txn_no AND k.status = 'dead')
          OR EXISTS (SELECT 1 FROM sentinel s WHERE s.txn_no = transactions.txn_no AND s.version = transactions.version AND s.stuck = 1))`,
      );
    }
    if (filter.merchantIds) {
      // An empty list matches nothing, as `IN ()` would if SQLite took it.
      where.push(filter.merchantIds.length ? `merchant_id IN (${filter.merchantIds.map(() => '?').join(', ')})` : '0');
      args.push(...filter.merchantIds);
    }
    if (filter.before) {
      where.push('txn_no < ?');
      args.push(filter.before);
    }
    // Quoted-only transactions are quote records (issue 21): listed with the rest, never flagged.
    const withQuotes = !filter.needsAttention && (!filter.state || filter.state === 'quoted');
    const source = withQuotes
      ? `(SELECT txn_no, merchant_id, state, updated_at FROM transactions UNION ALL SELECT txn_no, merchant_id, 'quoted' AS state, updated_at FROM quotes) AS transactions`
      : 'transactions';
    const sql = `SELECT txn_no, state, updated_at FROM ${source} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY txn_no DESC LIMIT ?`;
    return this.db
      .prepare<(string | number)[], { txn_no: string; state: string; updated_at: number }>(sql)
      .all(...args, filter.limit)
      .map((r) => ({ txnNo: r.txn_no, state: r.state, updatedAt: r.updated_at }));
  }

  async stats(idleBefore: number): Promise<StoreStats> {
    const byState: Record<string, number> = {};
    for (const r of this.db.prepare<[], { state: string; n: number }>('SELECT state, count(*) AS n FROM transactions GROUP BY state').all()) byState[r.state] = r.n;
    // Quoted-only transactions are quote records (issue 21), not rows of transactions.
    const quoted = this.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM quotes').get()!.n;
    if (quoted) byState.quoted = (byState.quoted ?? 0) + quoted;
    // Flagged transactions, plus those with a dead task and no flag: both through partial indexes.
    const needsAttention = this.db
      .prepare<[], { n: number }>(
        `SELECT (SELECT count(*) FROM transactions WHERE needs_attention = 1)
              + (SELECT count(DISTINCT k.txn_no) FROM tasks k WHERE k.status = 'dead' AND NOT EXISTS (
                  SELECT 1 FROM transactions x WHERE x.txn_no = k.txn_no AND x.needs_attention = 1)) AS n`,
      )
      .get()!.n;
    const idle = this.db.prepare<[number], { n: number }>("SELECT count(*) AS n FROM transactions WHERE at_rest = 0 AND updated_at < ? AND state <> 'quoted'").get(idleBefore)!.n;
    return { byState, needsAttention, idle };
  }

  async finalBacklog(finalBefore: number): Promise<FinalBacklog> {
    // Both through the partial index transactions_final.
    const count = this.db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM transactions WHERE final_at IS NOT NULL AND final_at <= ?').get(finalBefore)!.n;
    const oldest = this.db.prepare<[], { at: number | null }>('SELECT min(final_at) AS at FROM transactions WHERE final_at IS NOT NULL').get()!.at;
    return { count, oldestFinalAt: oldest ?? null };
  }
}
