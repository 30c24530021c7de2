import type { CallKey, Outcome } from '../contract.ts';
import type { FaultInjector } from '../sim/faults.ts';
import { RecordBook, type SimRecord } from '../sim/records.ts';
import type { SimStore } from '../sim/store.ts';
import { requireCount, SimVerbs } from '../sim/verb.ts';
import type { MarketingPort, MarketingRecordRequest, MarketingReverseRequest } from './port.ts';

/** The marketing system, simulated over the {@link SimStore}: it keeps the records it is told. */
export class MarketingSimulator implements MarketingPort {
  private readonly book: RecordBook;
  private readonly verbs: SimVerbs;

  constructor(private readonly store: SimStore, faults: FaultInjector) {
    this.book = new RecordBook(store, 'marketing');
    this.verbs = new SimVerbs(store, faults);
  }

  /** The transaction's order records and reversals, bypassing faults. */
  peekRecords(txnNo: string): { records: SimRecord<MarketingRecordRequest>[]; reversals: SimRecord<MarketingReverseRequest>[] } {
    return { records: this.book.ofTxn('record', txnNo), reversals: this.book.ofTxn('reverse', txnNo) };
  }

  async record(key: CallKey, req: MarketingRecordRequest): Promise<Outcome<{ orderNo: string }, never>> {
    requireCount('amountFen', req.amountFen);
    for (const d of req.discounts) requireCount(`discount ${d.kind} amountFen`, d.amountFen);
    return this.verbs.run('record', key, req, req.orderNo, (k) => {
      this.book.put('record', req.orderNo, req.txnNo, req);
      this.store.recordEffect('marketing', 'record', k);
      return { ok: true, orderNo: req.orderNo };
    });
  }

  async reverse(key: CallKey, req: MarketingReverseRequest): Promise<Outcome<{ refundNo: string }, 'RECORD_NOT_FOUND' | 'EXCEEDS_RECORDED'>> {
    requireCount('amountFen', req.amountFen, { positive: true });
    return this.verbs.run('reverse', key, req, req.refundNo, (k): Outcome<{ refundNo: string }, 'RECORD_NOT_FOUND' | 'EXCEEDS_RECORDED'> => {
      const left = this.book.reversibleFen(req.txnNo);
      if (left === null) return { ok: false, code: 'RECORD_NOT_FOUND', message: `no marketing record of ${req.txnNo}` };
      if (req.amountFen > left) return { ok: false, code: 'EXCEEDS_RECORDED', message: `${req.txnNo} has ${left} fen left to reverse, ${req.amountFen} asked` };
      this.book.put('reverse', req.refundNo, req.txnNo, req);
      this.store.recordEffect('marketing', 'reverse', k);
      return { ok: true, refundNo: req.refundNo };
    });
  }
}
