import { assign, sendParent, setup } from 'xstate';
import { calls, type CallResult } from './calls.ts';
import { backoff } from './durable-timers.ts';
import type { PaymentMethod } from './types.ts';
import type { RefundRecord } from '../systems/payment-gateway/port.ts';

/**
 * One money leg of one refund, spawned by its refund as `rleg-<n>`. Stored value is credited
 * back directly; an asynchronous channel is asked to refund and then waits for the refund
 * callback, querying on silence (durable timers). A refund the gateway reports failed is asked
 * again with the same refund number; after `maxAttempts` it waits for a person, its amount still
 * owed and recorded (never lost). Reports RLEG_DONE to its refund.
 */
export interface RefundLegInput {
  txnNo: string;
  /** `R…-<n>`: the refund number at the gateway, the credit number at the card. */
  refundLegNo: string;
  legNo: number;
  method: PaymentMethod;
  paymentNo: string;
  cardNo?: string;
  amountFen: number;
  queryAfterMs: number;
  maxAttempts: number;
}

interface RefundLegContext extends RefundLegInput {
  attempts: number;
  timers: Record<string, number>;
  lastError: string | null;
}

type Done<T> = { output: CallResult<T> };
type RefundLegEvent = { type: 'REFUND_CALLBACK' } | { type: 'TIMER'; name: string; at: number };

export const refundLegMachine = setup({
  types: { context: {} as RefundLegContext, input: {} as RefundLegInput, events: {} as RefundLegEvent },
  actors: { creditCard: calls.creditCard, refundPayment: calls.refundPayment, queryRefund: calls.queryRefund },
  guards: {
    isCard: ({ context }) => context.method === 'stored_value',
    succeeded: (_, params: Done<unknown>) => params.output.ok,
    unavailable: (_, params: Done<unknown>) => !params.output.ok && params.output.code === 'UNAVAILABLE',
    refundIs: (_, params: Done<{ refund: RefundRecord | null }> & { status: string }) => params.output.ok && params.output.refund?.status === params.status,
    refundSettled: (_, params: Done<{ status?: string }>) => params.output.ok && params.output.status === 'succeeded',
    attemptsLeft: ({ context }) => context.attempts < context.maxAttempts,
    isTimer: ({ event }, params: { name: string }) => event.type === 'TIMER' && event.name === params.name,
  },
  actions: {
    arm: assign(({ context }, params: { name: string; at: number; delayMs: number }) => ({ timers: { ...context.timers, [params.name]: params.at + params.delayMs } })),
    disarm: assign(({ context }, params: { name: string }) => {
      const { [params.name]: _dropped, ...rest } = context.timers;
      return { timers: rest };
    }),
    countAttempt: assign(({ context }) => ({ attempts: context.attempts + 1 })),
    noteError: assign((_, params: { error: string }) => ({ lastError: params.error })),
    reportSucceeded: sendParent(({ context }) => ({ type: 'RLEG_DONE', legNo: context.legNo, status: 'succeeded' })),
    reportAttention: sendParent(({ context }) => ({ type: 'RLEG_DONE', legNo: context.legNo, status: 'attention', error: context.lastError })),
  },
}).createMachine({
  id: 'refundLeg',
  context: ({ input }) => ({ ...input, attempts: 0, timers: {}, lastError: null }),
  initial: 'starting',
  states: {
    starting: { always: [{ guard: 'isCard', target: 'crediting' }, { target: 'requesting' }] },
    crediting: {
      tags: ['working'],
      invoke: {
        src: 'creditCard',
        input: ({ context }) => ({
          key: { txnNo: context.txnNo, step: `${context.refundLegNo}:credit` },
          request: { cardNo: context.cardNo ?? '', creditNo: context.refundLegNo, amountFen: context.amountFen, reason: 'refund' as const },
        }),
        onDone: [
          { guard: { type: 'succeeded', params: ({ event }) => event }, target: 'succeeded' },
          { guard: { type: 'unavailable', params: ({ event }) => event }, target: 'waitingToRetry', actions: { type: 'arm', params: ({ context, event }) => ({ name: 'retry', at: event.output.at, delayMs: backoff(context.attempts) }) } },
          { target: 'attention', actions: { type: 'noteError', params: ({ event }) => ({ error: event.output.ok ? '' : `${event.output.code}: ${event.output.message}` }) } },
        ],
      },
    },
    requesting: {
      tags: ['working'],
      entry: 'countAttempt',
      invoke: {
        src: 'refundPayment',
        input: ({ context }) => ({
          key: { txnNo: context.txnNo, step: `${context.refundLegNo}:request:${context.attempts}` },
          request: { paymentNo: context.paymentNo, refundNo: context.refundLegNo, amountFen: context.amountFen },
        }),
        onDone: [
          { guard: { type: 'refundSettled', params: ({ event }) => event }, target: 'succeeded' },
          { guard: { type: 'succeeded', params: ({ event }) => event }, target: 'pending', actions: { type: 'arm', params: ({ context, event }) => ({ name: 'query', at: event.output.at, delayMs: context.queryAfterMs }) } },
          { guard: { type: 'unavailable', params: ({ event }) => event }, target: 'waitingToRetry', actions: { type: 'arm', params: ({ context, event }) => ({ name: 'retry', at: event.output.at, delayMs: backoff(context.attempts) }) } },
          { target: 'attention', actions: { type: 'noteError', params: ({ event }) => ({ error: event.output.ok ? '' : `${event.output.code}: ${event.output.message}` }) } },
        ],
      },
    },
    waitingToRetry: {
      on: {
        TIMER: [
          { guard: { type: 'isTimer', params: { name: 'retry' } }, target: 'starting', actions: { type: 'disarm', params: { name: 'retry' } } },
        ],
      },
    },
    pending: {
      on: {
        // The callback is a hint; the query decides (DESIGN.md rule 7).
        REFUND_CALLBACK: 'querying',
        TIMER: { guard: { type: 'isTimer', params: { name: 'query' } }, target: 'querying' },
      },
    },
    querying: {
      tags: ['working'],
      invoke: {
        src: 'queryRefund',
        input: ({ context }) => ({ txnNo: context.txnNo, refundNo: context.refundLegNo }),
        onDone: [
          { guard: { type: 'refundIs', params: ({ event }) => ({ ...event, status: 'succeeded' }) }, target: 'succeeded', actions: { type: 'disarm', params: { name: 'query' } } },
          {
            guard: { type: 'refundIs', params: ({ event }) => ({ ...event, status: 'failed' }) },
            target: 'failedAtGateway',
            actions: [{ type: 'disarm', params: { name: 'query' } }, { type: 'noteError', params: { error: 'the gateway reported the refund failed' } }],
          },
          // Still pending (or no answer): ask again later, backing off.
          { target: 'pending', actions: { type: 'arm', params: ({ context, event }) => ({ name: 'query', at: event.output.at, delayMs: context.queryAfterMs * 2 }) } },
        ],
      },
    },
    failedAtGateway: {
      always: [{ guard: 'attemptsLeft', target: 'requesting' }, { target: 'attention' }],
    },
    succeeded: { type: 'final', entry: ['reportSucceeded'] },
    // Waits for a person (trade retry / admin API, later issues); the amount stays owed on the refund.
    attention: { type: 'final', entry: 'reportAttention' },
  },
});
