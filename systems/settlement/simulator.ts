import type { CallKey, Outcome } from '../contract.ts';
import type { FaultInjector } from '../sim/faults.ts';
import { RecordBook, type SimRecord } from '../sim/records.ts';
import type { SimStore } from '../sim/store.ts';
import { requireCount, SimVerbs } from '../sim/verb.ts';
import type { SettlementPort, SettlementRecordRequest, SettlementReverseRequest } from './port.ts';

/** The settlement system, simulated over the {@link SimStore}: it keeps the bookings it is told. */
export class SettlementSimulator implements SettlementPort {
  private readonly book: RecordBook;
  private readonly verbs: SimVerbs;

  constructor(private readonly store: SimStore, faults: FaultInjector) {
    this.book = new RecordBook(store, 'settlement');
    this.verbs = new SimVerbs(store, faults);
  }

  /** The transaction's bookings and reversals, bypassing faults. */
  peekRecords(txnNo: string): { records: SimRecord<SettlementRecordRequest>[]; reversals: SimRecord<SettlementReverseRequest>[] } {
    return { records: this.book.ofTxn('record', txnNo), reversals: this.book.ofTxn('reverse', txnNo) };
  }

  async record(key: CallKey, req: SettlementRecordRequest): Promise<Outcome<{ orderNo: string }, never>> {
    requireCount('amountFen', req.amountFen);
    for (const leg of req.legs) requireCount(`${leg.method} leg amountFen`, leg.amountFen);
    const legsFen = req.legs.reduce((sum, leg) => sum + leg.amountFen, 0);
    if (legsFen !== req.amountFen) throw new RangeError(`legs add up to ${legsFen} fen, the order to ${req.amountFen}`);
    return this.verbs.run('record', key, req, req.orderNo, (k) => {
      this.book.put('record', req.orderNo, req.txnNo, req);
      this.store.recordEffect('settlement', 'record', k);
      return { ok: true, orderNo: req.orderNo };
    });
  }

  async reverse(key: CallKey, req: SettlementReverseRequest): Promise<Outcome<{ refundNo: string }, 'RECORD_NOT_FOUND' | 'EXCEEDS_RECORDED'>> {
    requireCount('amountFen', req.amountFen, { positive: true });
    return this.verbs.run('reverse', key, req, req.refundNo, (k): Outcome<{ refundNo: string }, 'RECORD_NOT_FOUND' | 'EXCEEDS_RECORDED'> => {
      const left = this.book.reversibleFen(req.txnNo);
      if (left === null) return { ok: false, code: 'RECORD_NOT_FOUND', message: `no settlement record of ${req.txnNo}` };
      if (req.amountFen > left) return { ok: false, code: 'EXCEEDS_RECORDED', message: `${req.txnNo} has ${left} fen left to reverse, ${req.amountFen} asked` };
      this.book.put('reverse', req.refundNo, req.txnNo, req);
      this.store.recordEffect('settlement', 'reverse', k);
      return { ok: true, refundNo: req.refundNo };
    });
  }
}
