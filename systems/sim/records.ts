import type { SystemName } from '../contract.ts';
import type { SimStore } from './store.ts';

/** One thing a record-keeping simulator was told, under its business number. */
export interface SimRecord<B> {
  /** The business number: an order, refund, invoice or message number. */
  no: string;
  txnNo: string;
  body: B;
  at: string;
}

type Row = { no: string; txn_no: string; body: string; at: string };

function toRecord<B>(row: Row): SimRecord<B> {
  return { no: row.no, txnNo: row.txn_no, body: JSON.parse(row.body) as B, at: row.at };
}

/**
 * The records of one simulated system that only keeps what it is told (marketing, settlement,
 * invoices, messages, synced orders), in the store's `records` table: one row per (kind, number).
 * Writes belong inside the verb's {@link SimStore.once} transaction, like every other change.
 */
export class RecordBook {
  private readonly stmts;

  constructor(private readonly store: SimStore, private readonly system: SystemName) {
    const db = store.db;
    this.stmts = {
      put: db.prepare<[string, string, string, string, string, string]>(
        'INSERT INTO records (system, kind, no, txn_no, body, at) VALUES (?, ?, ?, ?, ?, ?)'),
      get: db.prepare<[string, string, string], Row>('SELECT no, txn_no, body, at FROM records WHERE system = ? AND kind = ? AND no = ?'),
      ofTxn: db.prepare<[string, string, string], Row>(
        'SELECT no, txn_no, body, at FROM records WHERE system = ? AND kind = ? AND txn_no = ? ORDER BY rowid'),
      all: db.prepare<[string, string], Row>('SELECT no, txn_no, body, at FROM records WHERE system = ? AND kind = ? ORDER BY rowid'),
      update: db.prepare<[string, string, string, string]>('UPDATE records SET body = ? WHERE system = ? AND kind = ? AND no = ?'),
    };
  }

  put<B>(kind: string, no: string, txnNo: string, body: B): void {
    this.stmts.put.run(this.system, kind, no, txnNo, JSON.stringify(body), this.store.nowIso());
  }

  update<B>(kind: string, no: string, body: B): void {
    this.stmts.update.run(JSON.stringify(body), this.system, kind, no);
  }

  get<B>(kind: string, no: string): SimRecord<B> | null {
    const row = this.stmts.get.get(this.system, kind, no);
    return row ? toRecord<B>(row) : null;
  }

  /** The transaction's records of one kind, oldest first. */
  ofTxn<B>(kind: string, txnNo: string): SimRecord<B>[] {
    return this.stmts.ofTxn.all(this.system, kind, txnNo).map((row) => toRecord<B>(row));
  }

  /** Every record of one kind, oldest first. */
  all<B>(kind: string): SimRecord<B>[] {
    return this.stmts.all.all(this.system, kind).map((row) => toRecord<B>(row));
  }

  /**
   * What of a transaction's recorded amounts (`record` rows) is not reversed yet (`reverse` rows),
   * or null when nothing was recorded: reversals must not exceed what was recorded, also summed
   * over several partial refunds.
   */
  reversibleFen(txnNo: string): number | null {
    const recorded = this.ofTxn<{ amountFen: number }>('record', txnNo);
    if (recorded.length === 0) return null;
    const reversed = this.ofTxn<{ amountFen: number }>('reverse', txnNo);
    const sum = (rows: SimRecord<{ amountFen: number }>[]) => rows.reduce((s, r) => s + r.body.amountFen, 0);
    return sum(recorded) - sum(reversed);
  }
}
