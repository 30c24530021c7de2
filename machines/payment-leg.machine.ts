import { assign, sendParent, setup } from 'xstate';
import type { Refusal } from '../domain/errors.ts';
import { calls, refusalOf, type CallResult } from './calls.ts';
import { backoff } from './durable-timers.ts';
import type { PaymentMethod } from './types.ts';

/**
 * One payment leg, spawned by name (`paymentLeg`) as a child of its transaction with id
 * `leg-<n>`. Stored value is a TCC resource: lock → (CONFIRM) confirm | (CANCEL) cancel.
 * An asynchronous channel creates a gateway payment, waits for the callback (or a query), and
 * is closed on CANCEL. A call whose outcome is unknown (the downstream system did not answer) is
 * followed by its undo, which the callee contract makes safe even when nothing was done.
 *
 * The leg reports to its transaction with LEG_LOCKED / LEG_PENDING / LEG_SUCCEEDED /
 * LEG_RELEASED and ends in a final state. A closed async payment is asked about again at the
 * times of {@link QUERIES_AFTER_CLOSE_MS}: a channel can capture it after it was closed and lose
 * the callback, and that money is reported (LATE_PAYMENT_CONFIRMED) to be given back.
 */

/**
 * When, counted from its close, an async payment is asked about again. A capture racing the close
 * shows at the gateway within seconds, but a channel's own order may stay payable for a while
 * after ours closed it (a customer's app that paid offline and synced late), and its callback may
 * never come. Three queries bound the cost; what is captured later still shows in the channel's
 * daily bill (reconciliation).
 */
export const QUERIES_AFTER_CLOSE_MS = [120_000, 600_000, 3_600_000] as const;

/** The first query after the close: the grace period of a capture racing it. */
export const CAPTURE_AFTER_CLOSE_GRACE_MS = QUERIES_AFTER_CLOSE_MS[0];

/** Durable timer of the query after the close. */
const LATE_QUERY = 'late-query';
export interface LegInput {
  txnNo: string;
  legId: string;
  paymentNo: string;
  merchantId: string;
  method: PaymentMethod;
  amountFen: number;
  cardNo?: string;
  expiresAt: string;
}

interface LegContext extends LegInput {
  /** CANCEL arrived while a call was in flight: honoured as soon as that call ends. */
  cancelRequested: boolean;
  refusal: Refusal | null;
  /** Which step the leg was in when it started undoing itself. */
  failedAt: 'try' | 'confirm' | 'close';
  channelTradeNo: string | null;
  paidAt: number | null;
  /** The channel reports the payment captured otherwise than asked: a person must look at it. */
  attention?: boolean;
  /** Durable timers (machines/durable-timers.ts); absent in snapshots from before the query after close. */
  timers?: Record<string, number>;
  /** Queries after the close the gateway did not answer. */
  lateQueryTries?: number;
  /** When the leg closed, and how many queries after the close the gateway answered unpaid. */
  closedAt?: number;
  queriesAfterClose?: number;
}

type LegCommand = { type: 'CONFIRM' } | { type: 'CANCEL' } | { type: 'PAYMENT_CALLBACK' } | { type: 'QUERY' } | { type: 'TIMER'; name: string; at: number };

type Done<T, C extends string = string> = { output: CallResult<T, C> };

export const paymentLegMachine = setup({
  types: {
    context: {} as LegContext,
    input: {} as LegInput,
    events: {} as LegCommand,
  },
  actors: {
    lockStoredValue: calls.lockStoredValue,
    confirmStoredValue: calls.confirmStoredValue,
    cancelStoredValue: calls.cancelStoredValue,
    createPayment: calls.createPayment,
    queryPayment: calls.queryPayment,
    closePayment: calls.closePayment,
  },
  guards: {
    cancelRequested: ({ context }) => context.cancelRequested,
    queriesAfterCloseLeft: ({ context }) => (context.queriesAfterClose ?? 0) + 1 < QUERIES_AFTER_CLOSE_MS.length,
    isStoredValue: ({ context }) => context.method === 'stored_value',
    succeeded: (_, params: Done<unknown>) => params.output.ok,
    refusedBecause: (_, params: Done<unknown> & { code: string }) => !params.output.ok && params.output.code === params.code,
    paidInFull: ({ context }, params: Done<{ payment: { status: string; amountFen: number; merchantId: string } | null }>) =>
      params.output.ok &&
      params.output.payment?.status === 'succeeded' &&
      params.output.payment.amountFen === context.amountFen &&
      params.output.payment.merchantId === context.merchantId,
    /** Captured, but not the amount or not for the merchant this leg asked for (DESIGN.md rule 7). */
    paidOtherwise: ({ context }, params: Done<{ payment: { status: string; amountFen: number; merchantId: string } | null }>) =>
      params.output.ok &&
      params.output.payment?.status === 'succeeded' &&
      (params.output.payment.amountFen !== context.amountFen || params.output.payment.merchantId !== context.merchantId),
    endedUnpaid: (_, params: Done<{ payment: { status: string } | null }>) =>
      params.output.ok && (params.output.payment?.status === 'closed' || params.output.payment?.status === 'failed'),
    isTimer: ({ event }, params: { name: string }) => event.type === 'TIMER' && event.name === params.name,
  },
  actions: {
    reportLocked: sendParent(({ context }) => ({ type: 'LEG_LOCKED', legId: context.legId })),
    reportPending: sendParent(({ context }, params: { payUrl: string; at: number }) => ({ type: 'LEG_PENDING', legId: context.legId, payUrl: params.payUrl, at: params.at })),
    reportSucceeded: sendParent(({ context }) => ({
      type: 'LEG_SUCCEEDED',
      legId: context.legId,
      ...(context.channelTradeNo ? { channelTradeNo: context.channelTradeNo } : {}),
      at: context.paidAt ?? 0,
    })),
    reportReleased: sendParent(({ context }) => ({
      type: 'LEG_RELEASED',
      legId: context.legId,
      phase: context.failedAt,
      refusal: context.refusal,
      ...(context.attention ? { attention: true } : {}),
    })),
    notePaidOtherwise: assign(({ context }, params: Done<{ payment: { amountFen: number; merchantId: string } | null }>) => {
      const payment = params.output.ok ? params.output.payment : null;
      return {
        // Ended by the close the cancel asked for, or by a query while the leg waited.
        failedAt: context.cancelRequested ? ('close' as const) : context.failedAt,
        attention: true,
        refusal: {
          code: 'PAYMENT_FAILED' as const,
          message: `the channel reports ${payment?.amountFen} fen captured for merchant ${payment?.merchantId}; this payment asked ${context.amountFen} fen for ${context.merchantId}`,
        },
      };
    }),
    noteFailure: assign((_, params: { failedAt: LegContext['failedAt']; output: CallResult<unknown> | null }) => ({
      failedAt: params.failedAt,
      refusal: params.output && !params.output.ok ? refusalOf(params.output) : null,
    })),
    noteCancelRequested: assign({ cancelRequested: true }),
    armLateQuery: assign(({ context }, params: { at: number; delayMs: number }) => ({ timers: { ...context.timers, [LATE_QUERY]: params.at + params.delayMs } })),
    /** The first query after the close, counted from it. */
    armQueriesAfterClose: assign(({ context }, params: { at: number }) => ({
      closedAt: params.at,
      queriesAfterClose: 0,
      timers: { ...context.timers, [LATE_QUERY]: params.at + QUERIES_AFTER_CLOSE_MS[0] },
    })),
    /** The gateway says unpaid: the next query of the series, counted from the close (or from now if older snapshots lack it). */
    armNextQueryAfterClose: assign(({ context }, params: { at: number }) => {
      const asked = (context.queriesAfterClose ?? 0) + 1;
      const offset = QUERIES_AFTER_CLOSE_MS[Math.min(asked, QUERIES_AFTER_CLOSE_MS.length - 1)]!;
      return { queriesAfterClose: asked, timers: { ...context.timers, [LATE_QUERY]: Math.max(params.at, (context.closedAt ?? params.at) + offset) } };
    }),
    disarmLateQuery: assign(({ context }) => {
      const { [LATE_QUERY]: _dropped, ...rest } = context.timers ?? {};
      return { timers: rest };
    }),
    reportCapturedAfterClose: sendParent(({ context }) => ({ type: 'LATE_PAYMENT_CONFIRMED', legId: context.legId })),
    reportCapturedOtherwise: sendParent(({ context }) => ({ type: 'LEG_CAPTURED_OTHERWISE', legId: context.legId })),
    notePaid: assign((_, params: Done<{ payment: { channelTradeNo?: string } | null }>) => ({
      channelTradeNo: params.output.ok ? (params.output.payment?.channelTradeNo ?? null) : null,
      paidAt: params.output.at,
    })),
  },
}).createMachine({
  id: 'paymentLeg',
  context: ({ input }) => ({ ...input, cancelRequested: false, refusal: null, failedAt: 'try', channelTradeNo: null, paidAt: null, timers: {} }),
  initial: 'starting',
  on: {
    CANCEL: { actions: 'noteCancelRequested' },
  },
  states: {
    starting: {
      always: [{ guard: 'isStoredValue', target: 'locking' }, { target: 'creating' }],
    },

    // ── stored value: try / confirm / cancel ────────────────────────────────────────────
    locking: {
      tags: ['working'],
      invoke: {
        src: 'lockStoredValue',
        input: ({ context }) => ({
          key: { txnNo: context.txnNo, step: `${context.legId}:lock` },
          request: { lockKey: context.paymentNo, cardNo: context.cardNo ?? '', amountFen: context.amountFen },
        }),
        onDone: [
          { guard: { type: 'succeeded', params: ({ event }) => event }, target: 'locked', actions: 'reportLocked' },
          // The card system did not answer: the lock may exist, so release it (empty rollback if not).
          {
            guard: { type: 'refusedBecause', params: ({ event }) => ({ ...event, code: 'UNAVAILABLE' }) },
            target: 'releasing',
            actions: { type: 'noteFailure', params: ({ event }) => ({ failedAt: 'try' as const, output: event.output }) },
          },
          { target: 'released', actions: { type: 'noteFailure', params: ({ event }) => ({ failedAt: 'try' as const, output: event.output }) } },
        ],
      },
    },
    locked: {
      always: { guard: 'cancelRequested', target: 'releasing', actions: { type: 'noteFailure', params: { failedAt: 'close', output: null } } },
      on: {
        CONFIRM: 'confirming',
        CANCEL: { target: 'releasing', actions: { type: 'noteFailure', params: { failedAt: 'close', output: null } } },
      },
    },
    confirming: {
      tags: ['working'],
      invoke: {
        src: 'confirmStoredValue',
        input: ({ context }) => ({ key: { txnNo: context.txnNo, step: `${context.legId}:confirm` }, request: { lockKey: context.paymentNo } }),
        onDone: [
          { guard: { type: 'succeeded', params: ({ event }) => event }, target: 'succeeded' },
          // Before the watershed a failed confirm rolls the leg back (DESIGN.md rule 6).
          { target: 'releasing', actions: { type: 'noteFailure', params: ({ event }) => ({ failedAt: 'confirm' as const, output: event.output }) } },
        ],
      },
    },
    releasing: {
      tags: ['working'],
      invoke: {
        src: 'cancelStoredValue',
        input: ({ context }) => ({ key: { txnNo: context.txnNo, step: `${context.legId}:cancel` }, request: { lockKey: context.paymentNo } }),
        onDone: [
          { guard: { type: 'succeeded', params: ({ event }) => event }, target: 'released' },
          // The confirm did reach the card system after all: the money moved, the leg is paid.
          { guard: { type: 'refusedBecause', params: ({ event }) => ({ ...event, code: 'ALREADY_CONFIRMED' }) }, target: 'succeeded' },
          // Still no answer: the lock must not hang, so keep trying (the runtime backs off).
          { target: 'releasing', reenter: true },
        ],
      },
    },

    // ── asynchronous channel: create / callback or query / close ─────────────────────────
    creating: {
      tags: ['working'],
      invoke: {
        src: 'createPayment',
        input: ({ context }) => ({
          key: { txnNo: context.txnNo, step: `${context.legId}:create` },
          request: {
            paymentNo: context.paymentNo,
            txnNo: context.txnNo,
            merchantId: context.merchantId,
            channel: context.method === 'stored_value' ? 'wechat' : context.method,
            amountFen: context.amountFen,
            description: `Trade Center ${context.txnNo}`,
            expiresAt: context.expiresAt,
          },
        }),
        onDone: [
          {
            guard: { type: 'succeeded', params: ({ event }) => event },
            target: 'pending',
            actions: { type: 'reportPending', params: ({ event }) => ({ payUrl: event.output.ok ? event.output.payUrl : '', at: event.output.at }) },
          },
          // No answer: a payment may exist at the gateway; close it so it cannot be paid later.
          {
            guard: { type: 'refusedBecause', params: ({ event }) => ({ ...event, code: 'UNAVAILABLE' }) },
            target: 'closing',
            actions: { type: 'noteFailure', params: ({ event }) => ({ failedAt: 'try' as const, output: event.output }) },
          },
          { target: 'released', actions: { type: 'noteFailure', params: ({ event }) => ({ failedAt: 'try' as const, output: event.output }) } },
        ],
      },
    },
    pending: {
      always: { guard: 'cancelRequested', target: 'closing', actions: { type: 'noteFailure', params: { failedAt: 'close', output: null } } },
      on: {
        // A callback is a hint, never proof (DESIGN.md rule 7): the gateway query decides.
        PAYMENT_CALLBACK: 'querying',
        QUERY: 'querying',
        CANCEL: { target: 'closing', actions: { type: 'noteFailure', params: { failedAt: 'close', output: null } } },
      },
    },
    querying: {
      tags: ['working'],
      invoke: {
        src: 'queryPayment',
        input: ({ context }) => ({ txnNo: context.txnNo, paymentNo: context.paymentNo }),
        onDone: [
          { guard: { type: 'paidInFull', params: ({ event }) => event }, target: 'succeeded', actions: { type: 'notePaid', params: ({ event }) => event } },
          // Money moved, but not as asked: never a paid leg, and no automatic refund of an amount
          // nobody asked for either; the leg ends and a person decides. (Waiting on would loop:
          // a cancel closes, the close says paid, the query says otherwise, again and again.)
          { guard: { type: 'paidOtherwise', params: ({ event }) => event }, target: 'released', actions: { type: 'notePaidOtherwise', params: ({ event }) => event } },
          {
            guard: { type: 'endedUnpaid', params: ({ event }) => event },
            target: 'closed',
            actions: [
              { type: 'noteFailure', params: { failedAt: 'try', output: null } },
              'reportReleased',
              { type: 'armQueriesAfterClose', params: ({ event }) => ({ at: event.output.at }) },
            ],
          },
          { target: 'pending' },
        ],
      },
    },
    closing: {
      tags: ['working'],
      invoke: {
        src: 'closePayment',
        input: ({ context }) => ({ key: { txnNo: context.txnNo, step: `${context.legId}:close` }, request: { paymentNo: context.paymentNo } }),
        onDone: [
          {
            guard: { type: 'succeeded', params: ({ event }) => event },
            target: 'closed',
            actions: ['reportReleased', { type: 'armQueriesAfterClose', params: ({ event }) => ({ at: event.output.at }) }],
          },
          // The customer paid before the close landed: the money is ours, the leg succeeded.
          { guard: { type: 'refusedBecause', params: ({ event }) => ({ ...event, code: 'ALREADY_PAID' }) }, target: 'querying' },
          { target: 'closing', reenter: true },
        ],
      },
    },

    // Ended unpaid (reported), and asked about once more after the grace period.
    closed: {
      on: { TIMER: { guard: { type: 'isTimer', params: { name: LATE_QUERY } }, target: 'queryingAfterClose', actions: 'disarmLateQuery' } },
    },
    queryingAfterClose: {
      tags: ['working'],
      invoke: {
        src: 'queryPayment',
        input: ({ context }) => ({ txnNo: context.txnNo, paymentNo: context.paymentNo }),
        onDone: [
          { guard: { type: 'paidInFull', params: ({ event }) => event }, target: 'capturedAfterClose' },
          { guard: { type: 'paidOtherwise', params: ({ event }) => event }, target: 'done', actions: 'reportCapturedOtherwise' },
          {
            guard: { type: 'refusedBecause', params: ({ event }) => ({ ...event, code: 'UNAVAILABLE' }) },
            target: 'closed',
            actions: [
              { type: 'armLateQuery', params: ({ context, event }) => ({ at: event.output.at, delayMs: backoff(context.lateQueryTries ?? 0) }) },
              assign(({ context }) => ({ lateQueryTries: (context.lateQueryTries ?? 0) + 1 })),
            ],
          },
          { guard: 'queriesAfterCloseLeft', target: 'closed', actions: { type: 'armNextQueryAfterClose', params: ({ event }) => ({ at: event.output.at }) } },
          { target: 'done' },
        ],
      },
    },

    succeeded: { type: 'final', entry: 'reportSucceeded' },
    released: { type: 'final', entry: 'reportReleased' },
    capturedAfterClose: { type: 'final', entry: 'reportCapturedAfterClose' },
    done: { type: 'final' },
  },
});
