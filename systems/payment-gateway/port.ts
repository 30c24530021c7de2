import type { CallKey, Outcome } from '../contract.ts';

/** Asynchronous money channels served by the payment gateway. */
export type AsyncChannel = 'wechat' | 'alipay' | 'unionpay' | 'senseless';

export interface CreatePaymentRequest {
  /** Our payment leg number, `txnNo-P<n>`; the gateway's merchant order number. */
  paymentNo: string;
  txnNo: string;
  merchantId: string;
  channel: AsyncChannel;
  amountFen: number;
  description: string;
  /** ISO instant after which the gateway refuses to collect. */
  expiresAt: string;
}

export interface CreatedPayment {
  paymentNo: string;
  /** What the channel needs to collect the money (QR / H5 URL). */
  payUrl: string;
  prepayId: string;
}

export type PaymentStatus = 'pending' | 'succeeded' | 'closed' | 'failed';

export interface PaymentRecord {
  paymentNo: string;
  txnNo: string;
  merchantId: string;
  channel: AsyncChannel;
  amountFen: number;
  status: PaymentStatus;
  /** The channel's own transaction id once paid. */
  channelTradeNo?: string;
  paidAt?: string;
  /**
   * Fen refunded or being refunded (pending and succeeded refunds): what is no longer refundable.
   * A failed refund gives its amount back.
   */
  refundedFen: number;
}

/**
 * The body of a payment callback in the platform's shape. Each channel sends its own format
 * (`callback-formats.ts` translates), signed over the raw body as described in `domain/signature.ts`.
 */
export interface PaymentCallbackBody {
  paymentNo: string;
  txnNo: string;
  merchantId: string;
  channel: AsyncChannel;
  amountFen: number;
  status: 'SUCCESS' | 'CLOSED' | 'FAILED';
  channelTradeNo: string;
  paidAt: string;
}

/** A refund at the gateway: accepted as pending, then succeeded or failed by the channel. */
export type RefundStatus = 'pending' | 'succeeded' | 'failed';

export interface RefundRequest {
  paymentNo: string;
  /** Our refund leg number, `R…-<n>`; the gateway's merchant refund number. */
  refundNo: string;
  amountFen: number;
}

/** What the gateway answers when it takes a refund on. */
export interface AcceptedRefund {
  refundNo: string;
  status: 'pending' | 'succeeded';
}

/** Why the gateway will not refund: unknown payment, payment not (or no longer) paid, or too much. */
export type RefundRefusal = 'PAYMENT_NOT_PAID' | 'REFUND_EXCEEDS_PAID' | 'PAYMENT_NOT_FOUND';

export interface RefundRecord {
  refundNo: string;
  paymentNo: string;
  txnNo: string;
  merchantId: string;
  channel: AsyncChannel;
  amountFen: number;
  status: RefundStatus;
  /** The channel's own refund id, given when the refund is accepted. */
  channelRefundNo: string;
  requestedAt: string;
  /** When the channel settled it, either way; absent while pending. */
  refundedAt?: string;
}

/** The body of a refund callback in the platform's shape (each channel sends its own format). */
export interface RefundCallbackBody {
  refundNo: string;
  paymentNo: string;
  txnNo: string;
  merchantId: string;
  channel: AsyncChannel;
  amountFen: number;
  status: 'SUCCESS' | 'FAIL';
  channelRefundNo: string;
  /** When the refund succeeded or failed. */
  refundedAt: string;
}

/**
 * The payment gateway (core). Creates payments, answers queries, closes them, and calls back
 * over HTTP (signed) when the customer has paid.
 * - createPayment is idempotent by key; a create after a close of the same paymentNo is refused
 *   with PAYMENT_CLOSED (no hanging payment);
 * - closePayment of an unknown paymentNo records the close (empty rollback); closing a paid
 *   payment is refused with ALREADY_PAID;
 * - refundPayment is idempotent by key and by refundNo (a refundNo seen before answers with that
 *   refund's status, and retries it if it failed); the refunds of a payment never add up to more
 *   than it was paid, also under concurrent calls. The channel settles a refund later and calls
 *   back (signed) either way; queryRefund tells meanwhile.
 */
export interface PaymentGatewayPort {
  createPayment(key: CallKey, req: CreatePaymentRequest): Promise<Outcome<CreatedPayment, 'PAYMENT_CLOSED'>>;
  queryPayment(paymentNo: string): Promise<PaymentRecord | null>;
  closePayment(key: CallKey, req: { paymentNo: string }): Promise<Outcome<{}, 'ALREADY_PAID'>>;
  refundPayment(key: CallKey, req: RefundRequest): Promise<Outcome<AcceptedRefund, RefundRefusal>>;
  queryRefund(refundNo: string): Promise<RefundRecord | null>;
}
