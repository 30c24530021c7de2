import type { JournalEntry, QuoteRecord, QuoteRecords, SaveQuote, SaveResult } from '../types.ts';
import { IndexWrites, type RedisHandle } from './handle.ts';
import { publishSave } from './transition-feed.ts';

/**
 * Quote records on Redis: the hash `tc:{T}:quote` beside the transaction's journal, written by the
 * saveQuote script; both expire with the quote (its validity plus a margin), so nothing sweeps.
 * A quoted-only transaction has no txn hash and no index entry.
 */
export class RedisQuoteRecords implements QuoteRecords {
  constructor(private readonly h: RedisHandle) {}

  async save(record: SaveQuote, expectedVersion: number, journal: JournalEntry[]): Promise<SaveResult> {
    const txnNo = record.txnNo;
    const fields: (string | number)[] = [
      'merchantId', record.merchantId,
      'stationId', record.stationId,
      'stateValue', JSON.stringify(record.stateValue),
      'snapshot', JSON.stringify(record.snapshot),
      'keepUntil', record.keepUntil,
      'createdAt', record.createdAt,
      'updatedAt', record.updatedAt,
    ];
    // The TTL counts from the write, in Redis's own time: what is left of the record's keeping.
    const ttlMs = Math.max(1, record.keepUntil - record.updatedAt);
    const entries = journal.map((j) => JSON.stringify(j));
    const reply = await this.h.redis.tcSaveQuote(
      this.h.k(txnNo, 'quote'), this.h.k(txnNo, 'journal'), this.h.k(txnNo, 'txn'),
      expectedVersion, ttlMs, fields.length / 2, ...fields, ...entries,
    );
    if (Number(reply[0]) !== 1) return { ok: false, conflict: true, actualVersion: Number(reply[1]) === -1 ? null : Number(reply[1]) };
    if (entries.length) publishSave(this.h, { txnNo, entries: `[${entries.join(',')}]` });
    // The admin list's entry and the metrics' count (admin-queries.ts); the first snapshot save
    // removes the count's, the list's stays the transaction's. Entries of records expired are
    // dropped here, a few a save, so a quote never ordered leaves none behind for long.
    const expired = await this.h.redis.zrangebyscore(this.h.idx('quotes'), '-inf', `(${record.updatedAt}`, 'LIMIT', 0, 20);
    const m = new IndexWrites(this.h.redis);
    m.zadd(this.h.idx('quotes'), record.keepUntil, txnNo);
    m.zadd(this.h.idx('all'), 0, txnNo);
    for (const gone of expired) {
      m.zrem(this.h.idx('quotes'), gone);
      m.zrem(this.h.idx('all'), gone);
    }
    await m.exec();
    return { ok: true, version: Number(reply[1]) };
  }

  async load(txnNo: string): Promise<QuoteRecord | null> {
    const h = await this.h.redis.hgetall(this.h.k(txnNo, 'quote'));
    if (!h.version) return null;
    return {
      txnNo,
      version: Number(h.version),
      merchantId: h.merchantId ?? '',
      stationId: h.stationId ?? '',
      stateValue: JSON.parse(h.stateValue ?? 'null'),
      snapshot: JSON.parse(h.snapshot ?? 'null'),
      keepUntil: Number(h.keepUntil),
      createdAt: Number(h.createdAt),
      updatedAt: Number(h.updatedAt),
    };
  }

  /** The keys expire by themselves (their TTL). */
  async sweep(_nowMs: number, _limit: number): Promise<number> {
    return 0;
  }
}
