import type { Journal, JournalEntry, StoredJournalEntry } from '../types.ts';
import type { RedisHandle } from './handle.ts';

/** The journal on Redis: a list per transaction (`tc:{T}:journal`), appended by the save script. */
export class RedisJournal implements Journal {
  constructor(private readonly h: RedisHandle) {}

  async entries(txnNo: string): Promise<StoredJournalEntry[]> {
    const rows = await this.h.redis.lrange(this.h.k(txnNo, 'journal'), 0, -1);
    return rows.map((r, i) => ({ seq: i + 1, ...(JSON.parse(r) as JournalEntry) }));
  }
}
