import type { JournalEntry, QuoteRecord, QuoteRecords, SaveQuote, SaveResult } from '../types.ts';
import type { SqliteHandle } from './handle.ts';

interface QuoteRow {
  txn_no: string;
  version: number;
  merchant_id: string;
  station_id: string;
  state_value: string;
  snapshot: string;
  keep_until: number;
  created_at: number;
  updated_at: number;
}

/**
 * Quote records on SQLite: the `quotes` row, written with its journal rows in one write
 * transaction; the archiver's turn sweeps the expired ones with their journals.
 */
export class SqliteQuoteRecords implements QuoteRecords {
  private readonly stmts;

  constructor(private readonly handle: SqliteHandle) {
    const db = handle.db;
    this.stmts = {
      get: db.prepare<[string], QuoteRow>('SELECT * FROM quotes WHERE txn_no = ?'),
      version: db.prepare<[string], { version: number }>('SELECT version FROM quotes WHERE txn_no = ?'),
      snapshotVersion: db.prepare<[string], { version: number }>('SELECT version FROM transactions WHERE txn_no = ?'),
      insert: db.prepare(
        `INSERT INTO quotes (txn_no, version, merchant_id, station_id, state_value, snapshot, keep_until, created_at, updated_at)
         VALUES (@txnNo, 1, @merchantId, @stationId, @stateValue, @snapshot, @keepUntil, @createdAt, @updatedAt)`,
      ),
      update: db.prepare(
        `UPDATE quotes SET version = version + 1, state_value = @stateValue, snapshot = @snapshot, keep_until = @keepUntil, updated_at = @updatedAt
         WHERE txn_no = @txnNo AND version = @expectedVersion`,
      ),
      insertJournal: db.prepare('INSERT INTO journal (txn_no, at, actor, event, data, from_state, to_state) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      expired: db.prepare<[number, number], { txn_no: string }>('SELECT txn_no FROM quotes WHERE keep_until < ? ORDER BY keep_until LIMIT ?'),
      remove: db.prepare<[string]>('DELETE FROM quotes WHERE txn_no = ?'),
      removeJournal: db.prepare<[string]>('DELETE FROM journal WHERE txn_no = ?'),
    };
  }

  save(record: SaveQuote, expectedVersion: number, journal: JournalEntry[]): Promise<SaveResult> {
    return this.handle.write((): SaveResult => {
      const ordered = this.stmts.snapshotVersion.get(record.txnNo);
      if (ordered) return { ok: false, conflict: true, actualVersion: ordered.version };
      const params = {
        txnNo: record.txnNo,
        merchantId: record.merchantId,
        stationId: record.stationId,
        stateValue: JSON.stringify(record.stateValue),
        snapshot: JSON.stringify(record.snapshot),
        keepUntil: record.keepUntil,
        createdAt: record.createdAt,
        updatedAt: record.updatedAt,
      };
      if (expectedVersion === 0) {
        const existing = this.stmts.version.get(record.txnNo);
        if (existing) return { ok: false, conflict: true, actualVersion: existing.version };
        this.stmts.insert.run(params);
      } else {
        const { createdAt: _c, merchantId: _m, stationId: _s, ...updateParams } = params;
        if (this.stmts.update.run({ ...updateParams, expectedVersion }).changes === 0) {
          return { ok: false, conflict: true, actualVersion: this.stmts.version.get(record.txnNo)?.version ?? null };
        }
      }
      for (const j of journal) {
        this.stmts.insertJournal.run(record.txnNo, j.at, j.actor, j.event, JSON.stringify(j.data), JSON.stringify(j.from), JSON.stringify(j.to));
      }
      return { ok: true, version: expectedVersion + 1 };
    });
  }

  async load(txnNo: string): Promise<QuoteRecord | null> {
    const row = this.stmts.get.get(txnNo);
    if (!row) return null;
    return {
      txnNo: row.txn_no,
      version: row.version,
      merchantId: row.merchant_id,
      stationId: row.station_id,
      stateValue: JSON.parse(row.state_value),
      snapshot: JSON.parse(row.snapshot),
      keepUntil: row.keep_until,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  sweep(nowMs: number, limit: number): Promise<number> {
    return this.handle.write((): number => {
      const expired = this.stmts.expired.all(nowMs, limit);
      for (const { txn_no } of expired) {
        // Never ordered: its order would have deleted the record. Its journal goes with it.
        this.stmts.remove.run(txn_no);
        if (!this.stmts.snapshotVersion.get(txn_no)) this.stmts.removeJournal.run(txn_no);
      }
      return expired.length;
    });
  }
}
