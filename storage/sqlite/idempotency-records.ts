import type { IdempotencyClaim, IdempotencyLease, IdempotencyRecords, StoredResponse } from '../types.ts';
import type { SqliteHandle } from './handle.ts';

interface IdempotencyRow {
  fingerprint: string;
  status: string;
  response: string | null;
  owner: string | null;
  lease_until: number;
  run_id: string | null;
  txn_no: string | null;
}

/** Idempotency-Key records on SQLite: one row per key, purged by age. */
export class SqliteIdempotencyRecords implements IdempotencyRecords {
  private readonly stmts;

  constructor(private readonly handle: SqliteHandle) {
    const db = handle.db;
    this.stmts = {
      idemGet: db.prepare<[string], IdempotencyRow>(
        'SELECT fingerprint, status, response, owner, lease_until, run_id, txn_no FROM idempotency WHERE key = ?',
      ),
      idemInsert: db.prepare(
        "INSERT INTO idempotency (key, fingerprint, status, created_at, owner, lease_until, run_id) VALUES (?, ?, 'running', ?, ?, ?, ?)",
      ),
      idemTakeOver: db.prepare("UPDATE idempotency SET owner = ?, lease_until = ?, run_id = ? WHERE key = ? AND status = 'running'"),
      idemRenew: db.prepare("UPDATE idempotency SET lease_until = ? WHERE key = ? AND owner = ? AND status = 'running'"),
      idemNoteTxn: db.prepare("UPDATE idempotency SET txn_no = ? WHERE key = ? AND owner = ? AND status = 'running'"),
      idemComplete: db.prepare("UPDATE idempotency SET status = 'done', response = ? WHERE key = ? AND owner = ? AND status = 'running'"),
      idemDelete: db.prepare("DELETE FROM idempotency WHERE key = ? AND owner = ? AND status = 'running'"),
      // A bounded batch, so one purge never holds the group commit long; the subquery, because DELETE … LIMIT is a build option.
      idemPurge: db.prepare('DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency WHERE created_at < ? LIMIT ?)'),
    };
  }

  async claimIdempotencyKey(key: string, fingerprint: string, nowMs: number, lease: IdempotencyLease): Promise<IdempotencyClaim> {
    return this.handle.write((): IdempotencyClaim => {
      const row = this.stmts.idemGet.get(key);
      if (!row) {
        this.stmts.idemInsert.run(key, fingerprint, nowMs, lease.owner, lease.leaseUntil, lease.runId);
        return { status: 'claimed' };
      }
      if (row.fingerprint !== fingerprint) return { status: 'mismatch' };
      if (row.status === 'done' && row.response !== null) return { status: 'done', response: JSON.parse(row.response) as StoredResponse };
      if (row.lease_until >= nowMs) return { status: 'in-progress', owner: row.owner ?? '', leaseUntil: row.lease_until };
      // A record from before runs had ids has none to keep: the new run's stands in.
      const runId = row.run_id ?? lease.runId;
      this.stmts.idemTakeOver.run(lease.owner, lease.leaseUntil, runId, key);
      return { status: 'taken-over', runId, txnNo: row.txn_no };
    });
  }

  async renewIdempotencyKey(key: string, owner: string, leaseUntil: number): Promise<boolean> {
    return this.handle.write(() => this.stmts.idemRenew.run(leaseUntil, key, owner).changes === 1);
  }

  async noteIdempotencyTxn(key: string, owner: string, txnNo: string): Promise<boolean> {
    return this.handle.write(() => this.stmts.idemNoteTxn.run(txnNo, key, owner).changes === 1);
  }

  async completeIdempotencyKey(key: string, owner: string, response: StoredResponse): Promise<void> {
    await this.handle.write(() => this.stmts.idemComplete.run(JSON.stringify(response), key, owner));
  }

  async releaseIdempotencyKey(key: string, owner: string): Promise<void> {
    await this.handle.write(() => this.stmts.idemDelete.run(key, owner));
  }

  async purgeIdempotency(olderThanMs: number, limit: number): Promise<number> {
    return this.handle.write(() => this.stmts.idemPurge.run(olderThanMs, limit).changes);
  }
}
