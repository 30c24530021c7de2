import type { CallKey, Outcome } from '../contract.ts';

/** An invoice for one paid order, in fen. */
export interface InvoiceIssueRequest {
  txnNo: string;
  orderNo: string;
  userId: string;
  amountFen: number;
}

/** A reversal (red-letter invoice) for a refund of (part of) an invoiced transaction. */
export interface InvoiceReverseRequest {
  txnNo: string;
  refundNo: string;
  /** The refunded amount, in fen; with earlier reversals at most what was invoiced. */
  amountFen: number;
}

/**
 * The invoice system (non-core): issues an invoice automatically after payment and a reversal
 * for each refund. Idempotent by key, `issue` also by `orderNo` and `reverse` by `refundNo`: the
 * same number under another key returns the first invoice number, never a second invoice.
 */
export interface InvoicePort {
  /** Issues the order's invoice; never refused. */
  issue(key: CallKey, req: InvoiceIssueRequest): Promise<Outcome<{ invoiceNo: string }, never>>;
  /**
   * Issues a reversal of the transaction's invoices for a refund. Refused with INVOICE_NOT_FOUND
   * when the transaction was not invoiced, EXCEEDS_INVOICED when the reversals would exceed it.
   */
  reverse(key: CallKey, req: InvoiceReverseRequest): Promise<Outcome<{ reversalNo: string }, 'INVOICE_NOT_FOUND' | 'EXCEEDS_INVOICED'>>;
}
