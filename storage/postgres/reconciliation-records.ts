import { discrepancyOf, type DiscrepancySql } from '../archive/recon-rows.ts';
import type { DiscrepancyStatus, ReconciliationRecords, ReconciliationRun, StoredDiscrepancy } from '../types.ts';
import { PostgresHandle, type PostgresOptions } from './handle.ts';

/**
 * The reconciliation records on PostgreSQL (migration 003), beside the order archive in scale-out.
 * Given the archive's handle it shares its pool and leaves closing it to the archive.
 */
export class PostgresReconciliationRecords implements ReconciliationRecords {
  private readonly handle: PostgresHandle;
  private readonly ownsHandle: boolean;

  constructor(options: PostgresOptions | PostgresHandle) {
    this.ownsHandle = !(options instanceof PostgresHandle);
    this.handle = options instanceof PostgresHandle ? options : new PostgresHandle(options);
  }

  async saveRun(run: ReconciliationRun, found: Omit<StoredDiscrepancy, 'status' | 'resolution'>[]): Promise<string[]> {
    return this.handle.transaction(async (client) => {
      await client.query(
        `INSERT INTO recon_runs (channel, day, ran_at, totals, carry) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (channel, day) DO UPDATE SET ran_at = excluded.ran_at, totals = excluded.totals, carry = excluded.carry`,
        [run.channel, run.day, run.ranAt, JSON.stringify(run.totals), JSON.stringify(run.carry)],
      );
      const added: string[] = [];
      for (const d of found) {
        const res = await client.query(
          `INSERT INTO recon_discrepancies (id, channel, day, kind, ref, txn_no, evidence, status, resolution, found_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', NULL, $8) ON CONFLICT (id) DO NOTHING`,
          [d.id, d.channel, d.day, d.kind, d.ref, d.txnNo, JSON.stringify(d.evidence), d.foundAt],
        );
        if (res.rowCount === 1) added.push(d.id);
      }
      return added;
    });
  }

  async run(channel: string, day: string): Promise<ReconciliationRun | null> {
    const res = await this.handle.query<{ channel: string; day: string; ran_at: number; totals: string; carry: string }>('SELECT * FROM recon_runs WHERE channel = $1 AND day = $2', [channel, day]);
    const r = res.rows[0];
    return r ? { channel: r.channel, day: r.day, ranAt: Number(r.ran_at), totals: JSON.parse(r.totals), carry: JSON.parse(r.carry) } : null;
  }

  async discrepancies(channel: string, day: string): Promise<StoredDiscrepancy[]> {
    const res = await this.handle.query<DiscrepancySql>('SELECT * FROM recon_discrepancies WHERE channel = $1 AND day = $2 ORDER BY found_at, id', [channel, day]);
    return res.rows.map(discrepancyOf);
  }

  async get(id: string): Promise<StoredDiscrepancy | null> {
    const res = await this.handle.query<DiscrepancySql>('SELECT * FROM recon_discrepancies WHERE id = $1', [id]);
    return res.rows[0] ? discrepancyOf(res.rows[0]) : null;
  }

  async settle(id: string, status: Exclude<DiscrepancyStatus, 'open'>, resolution: NonNullable<StoredDiscrepancy['resolution']>): Promise<StoredDiscrepancy | null> {
    await this.handle.query("UPDATE recon_discrepancies SET status = $1, resolution = $2 WHERE id = $3 AND status = 'open'", [status, JSON.stringify(resolution), id]);
    return this.get(id);
  }

  async close(): Promise<void> {
    if (this.ownsHandle) await this.handle.close();
  }
}
