import { fromPromise } from 'xstate';
import type { Refusal } from '../domain/errors.ts';
import type { CallKey, Outcome } from '../systems/contract.ts';
import type { CreatedPayment, CreatePaymentRequest, PaymentRecord, RefundRecord } from '../systems/payment-gateway/port.ts';
import type { CreateOrderRequest } from '../systems/order/port.ts';
import type { BenefitHold } from './types.ts';

/**
 * The shapes of every downstream call a machine invokes. Machines name these calls; the runtime
 * binds them to the real ports with `machine.provide({ actors })` (DESIGN.md rule 5).
 *
 * A call never rejects for a downstream fault: it resolves to `UNAVAILABLE` so that the machine
 * handles faults and refusals in one place, and every result carries `at`, the runtime clock's
 * time when the call finished, which is how a machine learns the time without reading a clock.
 */
/**
 * No answer from `system`. The message carries the transport fault for the journal and the
 * operators; what a caller of the API is told names the system only ({@link refusalOf}).
 */
export type Unavailable = { ok: false; code: 'UNAVAILABLE'; message: string; system?: string };
export type CallResult<T, C extends string = string> = (Outcome<T, C> | Unavailable) & { at: number };

export interface KeyedInput<R> {
  key: CallKey;
  request: R;
}

function notProvided<O, I>(name: string) {
  return fromPromise<O, I>(async () => {
    throw new Error(`machine call ${name} was not provided by the runtime`);
  });
}

export const calls = {
  createOrder: notProvided<CallResult<{ orderNo: string }>, KeyedInput<CreateOrderRequest>>('createOrder'),
  cancelOrder: notProvided<CallResult<{}>, KeyedInput<{ orderNo: string; reason: string }>>('cancelOrder'),
  markOrderPaid: notProvided<CallResult<{}>, KeyedInput<{ orderNo: string; paidAmountFen: number }>>('markOrderPaid'),
  lockStoredValue: notProvided<CallResult<{ lockKey: string }>, KeyedInput<{ lockKey: string; cardNo: string; amountFen: number }>>('lockStoredValue'),
  confirmStoredValue: notProvided<CallResult<{}>, KeyedInput<{ lockKey: string }>>('confirmStoredValue'),
  cancelStoredValue: notProvided<CallResult<{}>, KeyedInput<{ lockKey: string }>>('cancelStoredValue'),
  createPayment: notProvided<CallResult<CreatedPayment>, KeyedInput<CreatePaymentRequest>>('createPayment'),
  queryPayment: notProvided<CallResult<{ payment: PaymentRecord | null }>, { txnNo: string; paymentNo: string }>('queryPayment'),
  closePayment: notProvided<CallResult<{}>, KeyedInput<{ paymentNo: string }>>('closePayment'),
  /** Refund of a captured async payment (compensation, late payment): accepted counts as done. */
  refundPayment: notProvided<CallResult<{}>, KeyedInput<{ paymentNo: string; refundNo: string; amountFen: number }>>('refundPayment'),
  queryRefund: notProvided<CallResult<{ refund: RefundRecord | null }>, { txnNo: string; refundNo: string }>('queryRefund'),
  /** Card credit: a refund to the card, a top-up after payment, a top-up bonus. */
  creditCard: notProvided<CallResult<{}>, KeyedInput<{ cardNo: string; creditNo: string; amountFen: number; reason: 'top-up' | 'refund' | 'bonus' }>>('creditCard'),
  /** Card debit of a refunded top-up: refused unless the card still holds it. */
  debitCard: notProvided<CallResult<{}>, KeyedInput<{ cardNo: string; debitNo: string; amountFen: number; reason: 'top-up-refund' }>>('debitCard'),
  restorePoints: notProvided<CallResult<{}>, KeyedInput<{ userId: string; restoreNo: string; points: number }>>('restorePoints'),
  restoreCoupons: notProvided<CallResult<{ restored: string[]; expired: string[] }>, KeyedInput<{ userId: string; restoreNo: string; couponIds: string[] }>>('restoreCoupons'),
  /** Try of a benefit hold: coupon lock, points lock or stock reserve, by `hold.resource`. */
  lockHold: notProvided<CallResult<{}>, KeyedInput<{ hold: BenefitHold; userId: string; stationId: string }>>('lockHold'),
  /** Confirm of a benefit hold: coupon use, points deduct or stock deduct. */
  confirmHold: notProvided<CallResult<{}>, KeyedInput<{ hold: BenefitHold }>>('confirmHold'),
  /** Cancel of a benefit hold: coupon, points or stock release (empty rollback when never locked). */
  releaseHold: notProvided<CallResult<{}>, KeyedInput<{ hold: BenefitHold }>>('releaseHold'),
};

/** Maps a downstream refusal or fault to the platform's refusal for the API. */
export function refusalOf(result: { ok: false; code: string; message: string; system?: string }): Refusal {
  switch (result.code) {
    case 'UNAVAILABLE':
      // API.md: a 5xx never carries internals (addresses, transport errors, operation names).
      return { code: 'CORE_SYSTEM_UNAVAILABLE', message: `the ${result.system ?? 'downstream'} system is unavailable` };
    case 'INSUFFICIENT_BALANCE':
      return { code: 'INSUFFICIENT_BALANCE', message: result.message };
    case 'CARD_NOT_FOUND':
      return { code: 'UNKNOWN_CARD', message: result.message };
    case 'COUPON_UNAVAILABLE':
    case 'INSUFFICIENT_POINTS':
    case 'OUT_OF_STOCK':
      return { code: result.code, message: result.message };
    default:
      return { code: 'PAYMENT_FAILED', message: `${result.code}: ${result.message}` };
  }
}
