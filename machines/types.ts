import type { Refusal } from '../domain/errors.ts';
import type { Quote } from '../domain/pricing/types.ts';

/** Money methods (DOMAIN.md "Payment"). */
export type PaymentMethod = 'stored_value' | 'wechat' | 'alipay' | 'unionpay' | 'senseless';
export const ASYNC_METHODS: readonly PaymentMethod[] = ['wechat', 'alipay', 'unionpay', 'senseless'];
export const PAYMENT_METHODS: readonly PaymentMethod[] = ['stored_value', ...ASYNC_METHODS];

/** Status of one payment leg as the API shows it. */
export type LegStatus = 'pending' | 'locked' | 'succeeded' | 'failed' | 'closed' | 'refunded';

/** The transaction's record of one payment leg; the leg's own actor holds the working state. */
export interface LegView {
  legNo: number;
  /** Which payment attempt of the order this leg belongs to; a refused attempt leaves its legs behind. */
  attempt: number;
  /** Child actor id, `leg-<legNo>`. */
  legId: string;
  /** `txnNo-P<legNo>`: the gateway's merchant order number and the card lock key. */
  paymentNo: string;
  method: PaymentMethod;
  amount: number;
  cardNo?: string;
  status: LegStatus;
  payUrl?: string;
  channelTradeNo?: string;
}

export interface OrderRecordView {
  orderNo: string;
  quoteId: string;
  comboId: string;
  deductionMode: 'pre' | 'post';
  payableAmount: number;
  discountAmount: number;
  orderedAt: string;
}

/** The answer to the command that is waiting for one (persisted, so a replay can read it). */
export type Reply = { requestId: string; ok: true } | { requestId: string; ok: false; refusal: Refusal };

export interface TxnInput {
  txnNo: string;
  scene: string;
  merchantId: string;
  stationId: string;
  userId: string;
  quote: Quote;
  /** How long an order waits for its payment, ms. */
  paymentTtlMs: number;
  createdAt: string;
}

export interface TxnContext extends TxnInput {
  order: OrderRecordView | null;
  /** Payment deadline (ISO), set when the order is placed. */
  expiresAt: string | null;
  legs: LegView[];
  /** Durable timers armed by this transaction: name → due time (epoch ms). The store keeps a row per entry. */
  timers: Record<string, number>;
  /** The command currently waiting for a reply, if any. */
  pendingRequestId: string | null;
  reply: Reply | null;
  /** Why the transaction was cancelled or failed. */
  outcome: Refusal | null;
  /** Attempts of retried core steps, by step. */
  attempts: Record<string, number>;
  paidAt: string | null;
}

export interface LegRequest {
  method: PaymentMethod;
  amount: number;
  cardNo?: string;
}

/** Events from outside (HTTP, callbacks, timers), stamped by the runtime with `at` (epoch ms). */
export type TxnCommand =
  | { type: 'ORDER'; requestId: string; at: number; orderNo: string; quoteId: string; comboId: string; deductionMode: 'pre' | 'post' }
  | { type: 'PAY'; requestId: string; at: number; legs: LegRequest[] }
  | { type: 'CANCEL'; requestId: string; at: number; reason: string }
  | { type: 'PAYMENT_CALLBACK'; at: number; paymentNo: string }
  | { type: 'TIMER'; at: number; name: string };

/** Events the payment-leg children send to their transaction. */
export type LegEvent =
  | { type: 'LEG_LOCKED'; legId: string }
  | { type: 'LEG_PENDING'; legId: string; payUrl: string }
  | { type: 'LEG_SUCCEEDED'; legId: string; channelTradeNo?: string; at: number }
  /** The leg ended without moving money; `phase` says whether it failed at try or at confirm. */
  | { type: 'LEG_RELEASED'; legId: string; phase: 'try' | 'confirm' | 'close'; refusal: Refusal | null };

export type TxnEvent = TxnCommand | LegEvent;

/** Names of the durable timers. */
export const TIMERS = {
  paymentExpiry: 'payment-expiry',
  orderRetry: 'order-retry',
} as const;

/** States in which a transaction is at rest: nothing runs, nothing is due. */
export const AT_REST_STATES = ['completed', 'cancelled', 'failed'] as const;
