import type { JournalEntry, QuoteRecord, QuoteRecords, SaveQuote, SaveResult } from '../types.ts';
import type { RedisHandle } from './handle.ts';
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
    // The metrics' count of quoted transactions (admin-queries.ts); the first snapshot save removes it.
    await this.h.redis.zadd(this.h.idx('quotes'), record.keepUntil, txnNo);
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
