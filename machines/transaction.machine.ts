import { assign, enqueueActions, setup } from 'xstate';
import { refusal, type Refusal } from '../domain/errors.ts';
import { calls, refusalOf, type CallResult } from './calls.ts';
import { paymentLegMachine } from './payment-leg.machine.ts';
import {
  ASYNC_METHODS,
  TIMERS,
  type LegView,
  type TxnCommand,
  type TxnContext,
  type TxnEvent,
  type TxnInput,
} from './types.ts';

/**
 * The transaction statechart:
 *
 *   quoted → ordering → ordered → paying → paid → completed
 *                          ↘ cancelling → cancelled      paying ↘ failing → failed
 *
 * Commands (ORDER, PAY, CANCEL) carry a `requestId`; the machine answers each in `context.reply`,
 * which the runtime persists before it answers the HTTP request. Business timers are durable:
 * the machine writes deadlines into `context.timers` and the runtime fires TIMER events when
 * they are due (XState's own `after` is not persisted, DESIGN.md rule 4). Time comes only from
 * events (`at`) and call results, never from a clock read here.
 */

type Done<T, C extends string = string> = { output: CallResult<T, C> };

const MARK_PAID_BACKOFF_MS = [1_000, 5_000, 30_000, 120_000, 600_000];
const CANCEL_BACKOFF_MS = [1_000, 5_000, 30_000, 120_000];

function backoff(schedule: number[], attempt: number): number {
  return schedule[Math.min(attempt, schedule.length - 1)] ?? 600_000;
}

function combo(context: TxnContext, comboId: string) {
  return context.quote.combos.find((c) => c.comboId === comboId);
}

/** Legs of the latest payment attempt: the only ones that still decide the outcome. */
function currentLegs(context: TxnContext): LegView[] {
  const attempt = Math.max(0, ...context.legs.map((l) => l.attempt));
  return context.legs.filter((l) => l.attempt === attempt);
}

function legStatus(legs: LegView[], legId: string, patch: Partial<LegView>): LegView[] {
  return legs.map((l) => (l.legId === legId ? { ...l, ...patch } : l));
}

export const transactionMachine = setup({
  types: {
    context: {} as TxnContext,
    input: {} as TxnInput,
    events: {} as TxnEvent,
  },
  actors: {
    paymentLeg: paymentLegMachine,
    createOrder: calls.createOrder,
    cancelOrder: calls.cancelOrder,
    markOrderPaid: calls.markOrderPaid,
  },
  guards: {
    quoteSuperseded: ({ context, event }) => event.type === 'ORDER' && event.quoteId !== context.quote.quoteId,
    quoteExpired: ({ context, event }) => event.type === 'ORDER' && event.at >= Date.parse(context.quote.expiresAt),
    comboNotInQuote: ({ context, event }) => event.type === 'ORDER' && !combo(context, event.comboId),
    legsDoNotAddUp: ({ context, event }) =>
      event.type === 'PAY' && event.legs.reduce((a, l) => a + l.amount, 0) !== context.order?.payableAmount,
    legMethodNotInCombo: ({ context, event }) => {
      if (event.type !== 'PAY' || !context.order) return false;
      const method = combo(context, context.order.comboId)?.paymentMethod;
      return method != null && event.legs.some((l) => l.method !== method);
    },
    // This slice pays with exactly one leg; mixed payment spawns one leg per method later.
    notOneLeg: ({ event }) => event.type === 'PAY' && event.legs.length !== 1,
    isTimer: ({ event }, params: { name: string }) => event.type === 'TIMER' && event.name === params.name,
    allLegsSucceeded: ({ context }) => currentLegs(context).every((l) => l.status === 'succeeded'),
    releasedAtConfirm: ({ event }) => event.type === 'LEG_RELEASED' && event.phase === 'confirm',
    succeeded: (_, params: Done<unknown>) => params.output.ok,
    refusedBecause: (_, params: Done<unknown> & { code: string }) => !params.output.ok && params.output.code === params.code,
  },
  actions: {
    requestReceived: assign(({ event }) => ({ pendingRequestId: 'requestId' in event ? event.requestId : null })),
    replyOk: assign(({ context }) =>
      context.pendingRequestId ? { reply: { requestId: context.pendingRequestId, ok: true as const }, pendingRequestId: null } : {},
    ),
    replyRefusal: assign(({ context, event }, params: { refusal: Refusal }) => {
      const requestId = 'requestId' in event ? event.requestId : context.pendingRequestId;
      return requestId ? { reply: { requestId, ok: false as const, refusal: params.refusal }, pendingRequestId: null } : {};
    }),
    placeOrder: assign(({ context, event }) => {
      if (event.type !== 'ORDER') return {};
      const chosen = combo(context, event.comboId);
      return {
        order: {
          orderNo: event.orderNo,
          quoteId: event.quoteId,
          comboId: event.comboId,
          deductionMode: event.deductionMode,
          payableAmount: chosen?.payableAmount ?? 0,
          discountAmount: chosen?.discountAmount ?? 0,
          orderedAt: new Date(event.at).toISOString(),
        },
      };
    }),
    forgetOrder: assign({ order: null }),
    armPaymentExpiry: assign(({ context, event }) => {
      const orderedAt = context.order ? Date.parse(context.order.orderedAt) : 0;
      const due = orderedAt + context.paymentTtlMs;
      void event;
      return { expiresAt: new Date(due).toISOString(), timers: { ...context.timers, [TIMERS.paymentExpiry]: due } };
    }),
    armRetry: assign(({ context }, params: { step: string; at: number; schedule: number[] }) => {
      const attempt = context.attempts[params.step] ?? 0;
      return {
        attempts: { ...context.attempts, [params.step]: attempt + 1 },
        timers: { ...context.timers, [TIMERS.orderRetry]: params.at + backoff(params.schedule, attempt) },
      };
    }),
    clearTimer: assign(({ context }, params: { name: string }) => {
      const { [params.name]: _dropped, ...rest } = context.timers;
      return { timers: rest };
    }),
    dropStaleTimer: assign(({ context, event }) => {
      if (event.type !== 'TIMER') return {};
      const { [event.name]: _dropped, ...rest } = context.timers;
      return { timers: rest };
    }),
    clearAllTimers: assign({ timers: {} }),
    recordLegs: assign(({ context, event }) => {
      if (event.type !== 'PAY') return {};
      // Leg numbers continue across attempts so that every leg has its own idempotency keys.
      const attempt = Math.max(0, ...context.legs.map((l) => l.attempt)) + 1;
      const first = context.legs.length + 1;
      return {
        legs: [
          ...context.legs,
          ...event.legs.map((l, i): LegView => ({
          legNo: first + i,
          attempt,
          legId: `leg-${first + i}`,
          paymentNo: `${context.txnNo}-P${first + i}`,
          method: l.method,
          amount: l.amount,
          ...(l.cardNo ? { cardNo: l.cardNo } : {}),
          status: 'pending',
          })),
        ],
      };
    }),
    spawnLegs: enqueueActions(({ context, enqueue }) => {
      for (const leg of currentLegs(context)) {
        enqueue.spawnChild('paymentLeg', {
          id: leg.legId,
          input: {
            txnNo: context.txnNo,
            legId: leg.legId,
            paymentNo: leg.paymentNo,
            merchantId: context.merchantId,
            method: leg.method,
            amountFen: leg.amount,
            ...(leg.cardNo ? { cardNo: leg.cardNo } : {}),
            expiresAt: context.expiresAt ?? context.createdAt,
          },
        });
      }
    }),
    // Sync legs are confirmed only once no asynchronous leg can still fail (DOMAIN.md "Payment").
    confirmLegsWhenReady: enqueueActions(({ context, enqueue }) => {
      const legs = currentLegs(context);
      const ready = legs.every((l) => (ASYNC_METHODS.includes(l.method) ? l.status === 'succeeded' : l.status !== 'pending'));
      if (!ready) return;
      for (const leg of legs) if (leg.status === 'locked') enqueue.sendTo(leg.legId, { type: 'CONFIRM' });
    }),
    cancelOpenLegs: enqueueActions(({ context, enqueue }) => {
      for (const leg of currentLegs(context)) if (leg.status === 'pending' || leg.status === 'locked') enqueue.sendTo(leg.legId, { type: 'CANCEL' });
    }),
    forwardCallback: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'PAYMENT_CALLBACK') return;
      const leg = context.legs.find((l) => l.paymentNo === event.paymentNo);
      if (leg && leg.status === 'pending') enqueue.sendTo(leg.legId, { type: 'PAYMENT_CALLBACK' });
    }),
    legLocked: assign(({ context, event }) => (event.type === 'LEG_LOCKED' ? { legs: legStatus(context.legs, event.legId, { status: 'locked' }) } : {})),
    legPending: assign(({ context, event }) =>
      event.type === 'LEG_PENDING' ? { legs: legStatus(context.legs, event.legId, { status: 'pending', payUrl: event.payUrl }) } : {},
    ),
    legSucceeded: assign(({ context, event }) =>
      event.type === 'LEG_SUCCEEDED'
        ? {
            legs: legStatus(context.legs, event.legId, {
              status: 'succeeded',
              ...(event.channelTradeNo ? { channelTradeNo: event.channelTradeNo } : {}),
            }),
          }
        : {},
    ),
    legReleased: assign(({ context, event }) => {
      if (event.type !== 'LEG_RELEASED') return {};
      const status = event.phase === 'close' ? 'closed' : 'failed';
      return { legs: legStatus(context.legs, event.legId, { status }), outcome: event.refusal ?? context.outcome };
    }),
    notePaid: assign(({ context, event }) => ({
      paidAt: context.paidAt ?? new Date(event.type === 'LEG_SUCCEEDED' && event.at ? event.at : Date.parse(context.createdAt)).toISOString(),
    })),
    noteOutcome: assign((_, params: { refusal: Refusal }) => ({ outcome: params.refusal })),
  },
}).createMachine({
  id: 'transaction',
  context: ({ input }) => ({
    ...input,
    order: null,
    expiresAt: null,
    legs: [],
    timers: {},
    pendingRequestId: null,
    reply: null,
    outcome: null,
    attempts: {},
    paidAt: null,
  }),
  initial: 'quoted',
  on: {
    // A timer that fires after its state has moved on changes nothing but its own row.
    TIMER: { actions: 'dropStaleTimer' },
  },
  states: {
    quoted: {
      on: {
        ORDER: [
          { guard: 'quoteSuperseded', actions: { type: 'replyRefusal', params: { refusal: refusal('QUOTE_SUPERSEDED') } } },
          { guard: 'quoteExpired', actions: { type: 'replyRefusal', params: { refusal: refusal('QUOTE_EXPIRED') } } },
          { guard: 'comboNotInQuote', actions: { type: 'replyRefusal', params: { refusal: refusal('COMBO_NOT_IN_QUOTE') } } },
          { target: 'ordering', actions: ['requestReceived', 'placeOrder'] },
        ],
        CANCEL: { target: 'cancelled', actions: ['requestReceived', { type: 'noteOutcome', params: { refusal: refusal('INVALID_STATE', 'cancelled before ordering') } }, 'replyOk'] },
      },
    },

    ordering: {
      tags: ['working'],
      invoke: {
        src: 'createOrder',
        input: ({ context }) => {
          const order = context.order!;
          const chosen = combo(context, order.comboId);
          return {
            key: { txnNo: context.txnNo, step: `order:create:${order.orderNo}` },
            request: {
              orderNo: order.orderNo,
              txnNo: context.txnNo,
              merchantId: context.merchantId,
              stationId: context.stationId,
              userId: context.userId,
              lines: context.quote.lines.map((l) => ({
                lineNo: l.lineNo,
                type: l.type,
                description: `${l.grade}# fuel, nozzle ${l.nozzleNo}`,
                amount: l.amount,
                netAmount: chosen?.lineNets[l.lineNo] ?? l.amount,
                volumeMl: l.volumeMl,
              })),
              originalAmountFen: context.quote.originalAmount,
              discountAmountFen: order.discountAmount,
              payableAmountFen: order.payableAmount,
            },
          };
        },
        onDone: [
          { guard: { type: 'succeeded', params: ({ event }) => event }, target: 'ordered', actions: ['armPaymentExpiry', 'replyOk'] },
          // The order system refused or did not answer: undo whatever it may have created.
          { target: 'abandoningOrder', actions: { type: 'noteOutcome', params: ({ event }) => ({ refusal: event.output.ok ? refusal('INTERNAL') : refusalOf(event.output) }) } },
        ],
      },
    },

    abandoningOrder: {
      tags: ['working'],
      invoke: {
        src: 'cancelOrder',
        input: ({ context }) => ({ key: { txnNo: context.txnNo, step: `order:cancel:${context.order!.orderNo}` }, request: { orderNo: context.order!.orderNo, reason: 'order placement failed' } }),
        // Whatever the answer, the order is not ours to pay; the order system's contract refuses a
        // late create after this cancel, and its own expiry covers a cancel that did not arrive.
        onDone: { target: 'quoted', actions: [{ type: 'replyRefusal', params: ({ context }) => ({ refusal: context.outcome ?? refusal('CORE_SYSTEM_UNAVAILABLE') }) }, 'forgetOrder'] },
      },
    },

    ordered: {
      on: {
        PAY: [
          { guard: 'notOneLeg', actions: { type: 'replyRefusal', params: { refusal: refusal('INVALID_REQUEST', 'this version pays with exactly one leg') } } },
          { guard: 'legsDoNotAddUp', actions: { type: 'replyRefusal', params: { refusal: refusal('LEGS_MISMATCH') } } },
          { guard: 'legMethodNotInCombo', actions: { type: 'replyRefusal', params: { refusal: refusal('LEGS_MISMATCH', 'the legs must use the payment method of the ordered combination') } } },
          { target: 'paying', actions: ['requestReceived', 'recordLegs', 'spawnLegs'] },
        ],
        CANCEL: { target: 'cancelling', actions: ['requestReceived', { type: 'noteOutcome', params: ({ event }) => ({ refusal: refusal('INVALID_STATE', event.reason) }) }] },
        TIMER: {
          guard: { type: 'isTimer', params: { name: TIMERS.paymentExpiry } },
          target: 'cancelling',
          actions: { type: 'noteOutcome', params: { refusal: refusal('INVALID_STATE', 'payment expired') } },
        },
      },
    },

    paying: {
      initial: 'collecting',
      on: {
        LEG_PENDING: { actions: ['legPending', 'replyOk'] },
        LEG_LOCKED: { actions: ['legLocked', 'confirmLegsWhenReady'] },
        LEG_SUCCEEDED: { actions: 'legSucceeded' },
        PAYMENT_CALLBACK: { actions: 'forwardCallback' },
      },
      states: {
        collecting: {
          always: { guard: 'allLegsSucceeded', target: '#transaction.paid', actions: 'notePaid' },
          on: {
            LEG_RELEASED: [
              // Money moved and came back: the attempt failed for good (DESIGN.md rule 6).
              { guard: 'releasedAtConfirm', target: '#transaction.failing', actions: ['legReleased', 'cancelOpenLegs'] },
              // Nothing moved (refused, or no answer and undone): the order waits for another attempt.
              { target: '#transaction.ordered', actions: ['legReleased', { type: 'replyRefusal', params: ({ event }) => ({ refusal: event.refusal ?? refusal('PAYMENT_FAILED') }) }] },
            ],
            CANCEL: { target: 'closing', actions: ['requestReceived', 'cancelOpenLegs', { type: 'noteOutcome', params: ({ event }) => ({ refusal: refusal('INVALID_STATE', event.reason) }) }] },
            TIMER: {
              guard: { type: 'isTimer', params: { name: TIMERS.paymentExpiry } },
              target: 'closing',
              actions: ['cancelOpenLegs', { type: 'noteOutcome', params: { refusal: refusal('INVALID_STATE', 'payment expired') } }],
            },
          },
        },
        closing: {
          // Waiting for every open leg to close; a leg that was paid meanwhile wins.
          always: [
            { guard: 'allLegsSucceeded', target: '#transaction.paid', actions: ['notePaid', { type: 'replyRefusal', params: { refusal: refusal('INVALID_STATE', 'the payment succeeded before it could be cancelled') } }] },
          ],
          on: {
            LEG_RELEASED: { target: '#transaction.cancelling', actions: 'legReleased' },
          },
        },
      },
    },

    paid: {
      entry: { type: 'clearTimer', params: { name: TIMERS.paymentExpiry } },
      initial: 'markingOrderPaid',
      states: {
        markingOrderPaid: {
          tags: ['working'],
          invoke: {
            src: 'markOrderPaid',
            input: ({ context }) => ({
              key: { txnNo: context.txnNo, step: `order:paid:${context.order!.orderNo}` },
              request: { orderNo: context.order!.orderNo, paidAmountFen: context.order!.payableAmount },
            }),
            onDone: [
              { guard: { type: 'succeeded', params: ({ event }) => event }, target: '#transaction.completed' },
              // Past the watershed the order system must learn it was paid: retry until it does.
              {
                target: 'waitingToRetry',
                actions: [{ type: 'armRetry', params: ({ event }) => ({ step: 'markOrderPaid', at: event.output.at, schedule: MARK_PAID_BACKOFF_MS }) }, 'replyOk'],
              },
            ],
          },
        },
        waitingToRetry: {
          on: {
            TIMER: { guard: { type: 'isTimer', params: { name: TIMERS.orderRetry } }, target: 'markingOrderPaid', actions: { type: 'clearTimer', params: { name: TIMERS.orderRetry } } },
          },
        },
      },
    },

    completed: {
      entry: ['clearAllTimers', 'replyOk'],
    },

    cancelling: {
      entry: { type: 'clearTimer', params: { name: TIMERS.paymentExpiry } },
      initial: 'cancellingOrder',
      states: {
        cancellingOrder: {
          tags: ['working'],
          invoke: {
            src: 'cancelOrder',
            input: ({ context }) => ({
              key: { txnNo: context.txnNo, step: `order:cancel:${context.order!.orderNo}` },
              request: { orderNo: context.order!.orderNo, reason: context.outcome?.message ?? 'cancelled' },
            }),
            onDone: [
              { guard: { type: 'succeeded', params: ({ event }) => event }, target: '#transaction.cancelled' },
              { guard: { type: 'refusedBecause', params: ({ event }) => ({ ...event, code: 'ORDER_PAID' }) }, target: '#transaction.cancelled' },
              { target: 'waitingToRetry', actions: { type: 'armRetry', params: ({ event }) => ({ step: 'cancelOrder', at: event.output.at, schedule: CANCEL_BACKOFF_MS }) } },
            ],
          },
        },
        waitingToRetry: {
          on: {
            TIMER: { guard: { type: 'isTimer', params: { name: TIMERS.orderRetry } }, target: 'cancellingOrder', actions: { type: 'clearTimer', params: { name: TIMERS.orderRetry } } },
          },
        },
      },
    },

    cancelled: {
      type: 'final',
      entry: ['clearAllTimers', 'replyOk'],
    },

    failing: {
      entry: { type: 'clearTimer', params: { name: TIMERS.paymentExpiry } },
      initial: 'cancellingOrder',
      states: {
        cancellingOrder: {
          tags: ['working'],
          invoke: {
            src: 'cancelOrder',
            input: ({ context }) => ({
              key: { txnNo: context.txnNo, step: `order:cancel:${context.order!.orderNo}` },
              request: { orderNo: context.order!.orderNo, reason: context.outcome?.message ?? 'payment failed' },
            }),
            onDone: [
              { guard: { type: 'succeeded', params: ({ event }) => event }, target: '#transaction.failed' },
              { target: 'waitingToRetry', actions: { type: 'armRetry', params: ({ event }) => ({ step: 'cancelOrder', at: event.output.at, schedule: CANCEL_BACKOFF_MS }) } },
            ],
          },
        },
        waitingToRetry: {
          on: {
            TIMER: { guard: { type: 'isTimer', params: { name: TIMERS.orderRetry } }, target: 'cancellingOrder', actions: { type: 'clearTimer', params: { name: TIMERS.orderRetry } } },
          },
        },
      },
    },

    failed: {
      type: 'final',
      entry: ['clearAllTimers', { type: 'replyRefusal', params: ({ context }) => ({ refusal: context.outcome ?? refusal('PAYMENT_FAILED') }) }],
    },
  },
});

export type TransactionMachine = typeof transactionMachine;
export type { TxnCommand };
