import type { CallKey, Outcome } from '../contract.ts';
import type { FaultInjector } from '../sim/faults.ts';
import { RecordBook, type SimRecord } from '../sim/records.ts';
import type { SimStore } from '../sim/store.ts';
import { requireCount, SimVerbs } from '../sim/verb.ts';
import type { InvoiceIssueRequest, InvoicePort, InvoiceReverseRequest } from './port.ts';

/**
 * The invoice system, simulated over the {@link SimStore}. Invoice numbers derive from the order
 * or refund number (`INV-O…`, `INV-R…`), so they are unique and a test can predict them.
 */
export class InvoiceSimulator implements InvoicePort {
  private readonly book: RecordBook;
  private readonly verbs: SimVerbs;

  constructor(private readonly store: SimStore, faults: FaultInjector) {
    this.book = new RecordBook(store, 'invoice');
    this.verbs = new SimVerbs(store, faults);
  }

  /** The transaction's invoices and reversals, bypassing faults. */
  peekInvoices(txnNo: string): { invoices: SimRecord<InvoiceIssueRequest>[]; reversals: SimRecord<InvoiceReverseRequest>[] } {
    return { invoices: this.book.ofTxn('record', txnNo), reversals: this.book.ofTxn('reverse', txnNo) };
  }

  async issue(key: CallKey, req: InvoiceIssueRequest): Promise<Outcome<{ invoiceNo: string }, never>> {
    requireCount('amountFen', req.amountFen);
    return this.verbs.run('issue', key, req, req.orderNo, (k) => {
      const invoiceNo = `INV-${req.orderNo}`;
      this.book.put('record', invoiceNo, req.txnNo, req);
      this.store.recordEffect('invoice', 'issue', k);
      return { ok: true, invoiceNo };
    });
  }

  async reverse(key: CallKey, req: InvoiceReverseRequest): Promise<Outcome<{ reversalNo: string }, 'INVOICE_NOT_FOUND' | 'EXCEEDS_INVOICED'>> {
    requireCount('amountFen', req.amountFen, { positive: true });
    return this.verbs.run('reverse', key, req, req.refundNo, (k): Outcome<{ reversalNo: string }, 'INVOICE_NOT_FOUND' | 'EXCEEDS_INVOICED'> => {
      const left = this.book.reversibleFen(req.txnNo);
      if (left === null) return { ok: false, code: 'INVOICE_NOT_FOUND', message: `no invoice of ${req.txnNo}` };
      if (req.amountFen > left) return { ok: false, code: 'EXCEEDS_INVOICED', message: `${req.txnNo} has ${left} fen left to reverse, ${req.amountFen} asked` };
      const reversalNo = `INV-${req.refundNo}`;
      this.book.put('reverse', reversalNo, req.txnNo, req);
      this.store.recordEffect('invoice', 'reverse', k);
      return { ok: true, reversalNo };
    });
  }
}
