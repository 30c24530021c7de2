import { assign, sendParent, setup } from 'xstate';
import { calls, type CallResult } from './calls.ts';
import { backoff, backoffOrGiveUp } from './durable-timers.ts';
import type { LegMethod } from './types.ts';
import type { RefundRecord } from '../systems/payment-gateway/port.ts';

/**
 * One money leg of one refund, spawned by its refund as `rleg-<n>`. Stored value is credited
 * back directly; cash (an imported OS order's) is recorded as paid out at the station, no call; an asynchronous channel is asked to refund and then waits for the refund
 * callback, querying on silence (durable timers). A refund the channel fails is asked again with
 * the same refund number after a backoff (durable timer, seconds at first, hours at the end);
 * only once the backoff is spent does it wait for a person, its amount still owed and recorded
 * (never lost). A nudge re-drives it: the transaction starts it again as the next `round`.
 * Reports RLEG_DONE to its parent (its refund, or the transaction for a give-back or a re-drive).
 */
export interface RefundLegInput {
  txnNo: string;
  /** `R…-<n>`: the refund number at the gateway, the credit number at the card. */
  refundLegNo: string;
  legNo: number;
  method: LegMethod;
  paymentNo: string;
  cardNo?: string;
  amountFen: number;
  queryAfterMs: number;
  /**
   * 0 for the first run; a re-drive of a leg that waited for a person is round 1, 2, …: its calls
   * carry the round in their keys, so they are new calls and not replays of the failed ones.
   */
  round?: number;
}

interface RefundLegContext extends RefundLegInput {
  attempts: number;
  /** Refunds the channel failed so far (this round): how far into the backoff the leg is. */
  failures?: number;
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
    isCash: ({ context }) => context.method === 'cash',
    succeeded: (_, params: Done<unknown>) => params.output.ok,
    unavailable: (_, params: Done<unknown>) => !params.output.ok && params.output.code === 'UNAVAILABLE',
    refundIs: (_, params: Done<{ refund: RefundRecord | null }> & { status: string }) => params.output.ok && params.output.refund?.status === params.status,
    refundSettled: (_, params: Done<{ status?: string }>) => params.output.ok && params.output.status === 'succeeded',
    failedWithBackoffLeft: ({ context }, params: Done<{ refund: RefundRecord | null }>) =>
      params.output.ok && params.output.refund?.status === 'failed' && backoffOrGiveUp(context.failures ?? 0) !== null,
    isTimer: ({ event }, params: { name: string }) => event.type === 'TIMER' && event.name === params.name,
  },
  actions: {
    arm: assign(({ context }, params: { name: string; at: number; delayMs: number }) => ({ timers: { ...context.timers, [params.name]: params.at + params.delayMs } })),
    disarm: assign(({ context }, params: { name: string }) => {
      const { [params.name]: _dropped, ...rest } = context.timers;
      return { timers: rest };
    }),
    countAttempt: assign(({ context }) => ({ attempts: context.attempts + 1 })),
    countFailure: assign(({ context }) => ({ failures: (context.failures ?? 0) + 1 })),
    noteError: assign((_, params: { error: string }) => ({ lastError: params.error })),
    reportSucceeded: sendParent(({ context }) => ({ type: 'RLEG_DONE', legNo: context.legNo, refundLegNo: context.refundLegNo, status: 'succeeded' })),
    reportAttention: sendParent(({ context }) => ({ type: 'RLEG_DONE', legNo: context.legNo, refundLegNo: context.refundLegNo, status: 'attention', error: context.lastError })),
  },
}).createMachine({
  id: 'refundLeg',
  context: ({ input }) => ({ ...input, attempts: 0, failures: 0, timers: {}, lastError: null }),
  initial: 'starting',
  states: {
    // A cash leg (an order imported from OS) is paid out at the station: recording it is all the
    // platform does, no downstream call; its transaction shows it as `to_pay_at_station`.
    starting: { always: [{ guard: 'isCard', target: 'crediting' }, { guard: 'isCash', target: 'succeeded' }, { target: 'requesting' }] },
    crediting: {
      tags: ['working'],
      invoke: {
        src: 'creditCard',
        input: ({ context }) => ({
          key: { txnNo: context.txnNo, step: stepKey(context, 'credit') },
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
          key: { txnNo: context.txnNo, step: stepKey(context, `request:${context.attempts}`) },
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
          // A channel failing refunds for a moment must not strand the money: ask again after a backoff.
          {
            guard: { type: 'failedWithBackoffLeft', params: ({ event }) => event },
            target: 'waitingToRetry',
            actions: [
              { type: 'disarm', params: { name: 'query' } },
              { type: 'noteError', params: { error: 'the gateway reported the refund failed' } },
              { type: 'arm', params: ({ context, event }) => ({ name: 'retry', at: event.output.at, delayMs: backoffOrGiveUp(context.failures ?? 0) ?? 0 }) },
              'countFailure',
            ],
          },
          {
            guard: { type: 'refundIs', params: ({ event }) => ({ ...event, status: 'failed' }) },
            target: 'attention',
            actions: [{ type: 'disarm', params: { name: 'query' } }, { type: 'noteError', params: { error: 'the gateway reported the refund failed' } }],
          },
          // Still pending (or no answer): ask again later, backing off.
          { target: 'pending', actions: { type: 'arm', params: ({ context, event }) => ({ name: 'query', at: event.output.at, delayMs: context.queryAfterMs * 2 }) } },
        ],
      },
    },
    succeeded: { type: 'final', entry: ['reportSucceeded'] },
    // Waits for a person, the amount still owed on the refund; a nudge starts the leg again.
    attention: { type: 'final', entry: 'reportAttention' },
  },
});

/** A call's step key: the first round's are `R…-1:request:2`; a re-drive's carry its round, `R…-1:redrive:1:request:1`. */
function stepKey(context: RefundLegContext, call: string): string {
  return context.round ? `${context.refundLegNo}:redrive:${context.round}:${call}` : `${context.refundLegNo}:${call}`;
}
