import { sendParent, setup } from 'xstate';
import { calls, type CallResult } from './calls.ts';
import type { PaymentRecord } from '../systems/payment-gateway/port.ts';

/**
 * A success callback for a leg we had already closed (the customer paid just as the payment
 * expired, or after the sale was cancelled). Spawned by the transaction as `late-<legId>`.
 * The callback is not believed (DESIGN.md rule 7): the gateway is asked, and only a payment it
 * confirms is refunded, once, with a key derived from the leg.
 */
export interface LatePaymentInput {
  txnNo: string;
  legId: string;
  paymentNo: string;
  merchantId: string;
  amountFen: number;
}

type Done<T> = { output: CallResult<T> };

export const latePaymentMachine = setup({
  types: { context: {} as LatePaymentInput, input: {} as LatePaymentInput },
  actors: { queryPayment: calls.queryPayment, refundPayment: calls.refundPayment },
  guards: {
    paidAtGateway: ({ context }, params: Done<{ payment: PaymentRecord | null }>) =>
      params.output.ok && params.output.payment?.status === 'succeeded' && params.output.payment.merchantId === context.merchantId,
    unavailable: (_, params: Done<unknown>) => !params.output.ok && params.output.code === 'UNAVAILABLE',
  },
  actions: {
    reportRefunded: sendParent(({ context }) => ({ type: 'LATE_PAYMENT_REFUNDED', legId: context.legId })),
    reportIgnored: sendParent(({ context }) => ({ type: 'LATE_PAYMENT_IGNORED', legId: context.legId })),
  },
}).createMachine({
  id: 'latePayment',
  context: ({ input }) => input,
  initial: 'querying',
  states: {
    querying: {
      tags: ['working'],
      invoke: {
        src: 'queryPayment',
        input: ({ context }) => ({ txnNo: context.txnNo, paymentNo: context.paymentNo }),
        onDone: [
          { guard: { type: 'paidAtGateway', params: ({ event }) => event }, target: 'refunding' },
          { guard: { type: 'unavailable', params: ({ event }) => event }, target: 'querying', reenter: true },
          { target: 'ignored' },
        ],
      },
    },
    refunding: {
      tags: ['working'],
      invoke: {
        src: 'refundPayment',
        input: ({ context }) => ({
          key: { txnNo: context.txnNo, step: `${context.legId}:late-refund` },
          request: { paymentNo: context.paymentNo, refundNo: `${context.paymentNo}-L`, amountFen: context.amountFen },
        }),
        onDone: [
          { guard: { type: 'unavailable', params: ({ event }) => event }, target: 'refunding', reenter: true },
          { target: 'refunded' },
        ],
      },
    },
    refunded: { type: 'final', entry: 'reportRefunded' },
    ignored: { type: 'final', entry: 'reportIgnored' },
  },
});
