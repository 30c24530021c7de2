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
}

/** The body of a payment callback, signed as described in `domain/signature.ts`. */
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

/**
 * The payment gateway (core). Creates payments, answers queries, closes them, and calls back
 * over HTTP (signed) when the customer has paid.
 * - createPayment is idempotent by key; a create after a close of the same paymentNo is refused
 *   with PAYMENT_CLOSED (no hanging payment);
 * - closePayment of an unknown paymentNo records the close (empty rollback); closing a paid
 *   payment is refused with ALREADY_PAID.
 */
export interface PaymentGatewayPort {
  createPayment(key: CallKey, req: CreatePaymentRequest): Promise<Outcome<CreatedPayment, 'PAYMENT_CLOSED'>>;
  queryPayment(paymentNo: string): Promise<PaymentRecord | null>;
  closePayment(key: CallKey, req: { paymentNo: string }): Promise<Outcome<{}, 'ALREADY_PAID'>>;
}
