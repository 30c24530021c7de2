import type { PostgresHandle } from './handle.ts';

/** The UTC month an instant falls in, as the first instant of it and of the next (epoch ms). */
export function monthOf(epochMs: number): { from: number; to: number; name: string } {
  const d = new Date(epochMs);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  return {
    from: Date.UTC(y, m, 1),
    to: Date.UTC(y, m + 1, 1),
    name: `archive_orders_y${y}m${String(m + 1).padStart(2, '0')}`,
  };
}

/**
 * The month partitions of `archive_orders`, created on demand before a put that needs them. Of
 * processes creating the same month at once, one does (under a transaction advisory lock of the
 * schema) and the others find it made; each remembers the months it has seen exist.
 */
export class MonthPartitions {
  private readonly known = new Set<string>();

  constructor(private readonly handle: PostgresHandle) {}

  /** Makes sure every month of `createdAts` has its partition. */
  async ensure(createdAts: Iterable<number>): Promise<void> {
    const missing = new Map<string, ReturnType<typeof monthOf>>();
    for (const at of createdAts) {
      const month = monthOf(at);
      if (!this.known.has(month.name)) missing.set(month.name, month);
    }
    if (!missing.size) return;
    await this.handle.transaction(async (client) => {
      await client.query("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.archive_orders partitions'))");
      for (const month of missing.values()) {
        const exists = await client.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [month.name]);
        // Bounds are integers this process computed, names from them: nothing of a caller's is spliced in.
        if (exists.rows[0]?.found === null) {
          await client.query(`CREATE TABLE ${month.name} PARTITION OF archive_orders FOR VALUES FROM (${month.from}) TO (${month.to})`);
        }
      }
    });
    for (const name of missing.keys()) this.known.add(name);
  }
}
