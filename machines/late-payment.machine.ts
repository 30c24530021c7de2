import { assign, sendParent, setup } from 'xstate';
import { calls, type CallResult } from './calls.ts';
import type { PaymentRecord } from '../systems/payment-gateway/port.ts';

/**
 * A success callback for a leg we had already closed (the customer paid just as the payment
 * expired, or after the sale was cancelled). Spawned by the transaction as `late-<legId>`.
 * The callback is not believed (DESIGN.md rule 7): the gateway is asked, and only a payment it
 * confirms is reported (LATE_PAYMENT_CONFIRMED) for the transaction to give back.
 *
 * While the gateway cannot say (it does not answer, or the payment is still open there), the
 * check asks again on a durable timer with backoff, like a pending leg on callback silence: the
 * callback that started it may be the only one, and a repeat is not to be waited for. A further
 * callback asks at once. It ends only on the gateway's word: paid (confirmed) or not (ignored).
 */
export interface LatePaymentInput {
  txnNo: string;
  legId: string;
  paymentNo: string;
  merchantId: string;
  amountFen: number;
  /** Silence after which the gateway is asked again, ms; doubled on every further ask. */
  queryAfterMs: number;
}

interface LatePaymentContext extends LatePaymentInput {
  /** Asks so far that did not settle it. */
  attempts: number;
  timers: Record<string, number>;
}

type LatePaymentEvent = { type: 'PAYMENT_CALLBACK' } | { type: 'TIMER'; name: string; at: number };

type Done<T> = { output: CallResult<T> };

/** Durable timer of the next ask. */
const QUERY = 'query';
/** The longest wait between two asks, as for a pending leg. */
const MAX_WAIT_MS = 10 * 60_000;
/** What an input stored before the check waited on timers lacks. */
const DEFAULT_QUERY_AFTER_MS = 30_000;

export const latePaymentMachine = setup({
  types: { context: {} as LatePaymentContext, input: {} as LatePaymentInput, events: {} as LatePaymentEvent },
  actors: { queryPayment: calls.queryPayment },
  guards: {
    paidAtGateway: ({ context }, params: Done<{ payment: PaymentRecord | null }>) =>
      params.output.ok && params.output.payment?.status === 'succeeded' && params.output.payment.merchantId === context.merchantId,
    /** No answer, or the payment is still open at the gateway: it can still be captured. */
    notSettled: (_, params: Done<{ payment: PaymentRecord | null }>) =>
      params.output.ok ? params.output.payment?.status === 'pending' : params.output.code === 'UNAVAILABLE',
    isQueryTimer: ({ event }) => event.type === 'TIMER' && event.name === QUERY,
  },
  actions: {
    armQuery: assign(({ context }, params: { at: number }) => ({
      attempts: (context.attempts ?? 0) + 1,
      timers: { ...context.timers, [QUERY]: params.at + Math.min((context.queryAfterMs ?? DEFAULT_QUERY_AFTER_MS) * 2 ** (context.attempts ?? 0), MAX_WAIT_MS) },
    })),
    disarmQuery: assign(({ context }) => {
      const { [QUERY]: _dropped, ...rest } = context.timers ?? {};
      return { timers: rest };
    }),
    reportConfirmed: sendParent(({ context }) => ({ type: 'LATE_PAYMENT_CONFIRMED', legId: context.legId })),
    reportIgnored: sendParent(({ context }) => ({ type: 'LATE_PAYMENT_IGNORED', legId: context.legId })),
  },
}).createMachine({
  id: 'latePayment',
  context: ({ input }) => ({ ...input, attempts: 0, timers: {} }),
  initial: 'querying',
  states: {
    querying: {
      tags: ['working'],
      entry: 'disarmQuery',
      invoke: {
        src: 'queryPayment',
        input: ({ context }) => ({ txnNo: context.txnNo, paymentNo: context.paymentNo }),
        onDone: [
          { guard: { type: 'paidAtGateway', params: ({ event }) => event }, target: 'confirmed' },
          { guard: { type: 'notSettled', params: ({ event }) => event }, target: 'waiting', actions: { type: 'armQuery', params: ({ event }) => ({ at: event.output.at }) } },
          { target: 'ignored' },
        ],
      },
    },
    waiting: {
      on: {
        TIMER: { guard: 'isQueryTimer', target: 'querying' },
        PAYMENT_CALLBACK: 'querying',
      },
    },
    confirmed: { type: 'final', entry: 'reportConfirmed' },
    ignored: { type: 'final', entry: 'reportIgnored' },
  },
});
