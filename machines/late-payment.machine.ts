import { sendParent, setup } from 'xstate';
import { calls, type CallResult } from './calls.ts';
import type { PaymentRecord } from '../systems/payment-gateway/port.ts';

/**
 * A success callback for a leg we had already closed (the customer paid just as the payment
 * expired, or after the sale was cancelled). Spawned by the transaction as `late-<legId>`.
 * The callback is not believed (DESIGN.md rule 7): the gateway is asked, and only a payment it
 * confirms is reported (LATE_PAYMENT_CONFIRMED) for the transaction to give back.
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
  actors: { queryPayment: calls.queryPayment },
  guards: {
    paidAtGateway: ({ context }, params: Done<{ payment: PaymentRecord | null }>) =>
      params.output.ok && params.output.payment?.status === 'succeeded' && params.output.payment.merchantId === context.merchantId,
    unavailable: (_, params: Done<unknown>) => !params.output.ok && params.output.code === 'UNAVAILABLE',
  },
  actions: {
    reportConfirmed: sendParent(({ context }) => ({ type: 'LATE_PAYMENT_CONFIRMED', legId: context.legId })),
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
          { guard: { type: 'paidAtGateway', params: ({ event }) => event }, target: 'confirmed' },
          { guard: { type: 'unavailable', params: ({ event }) => event }, target: 'querying', reenter: true },
          { target: 'ignored' },
        ],
      },
    },
    confirmed: { type: 'final', entry: 'reportConfirmed' },
    ignored: { type: 'final', entry: 'reportIgnored' },
  },
});
