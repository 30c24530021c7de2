import { and, assign, not } from 'xstate';
import { ended, refusal, refusalIn } from '../domain/errors.ts';
import { refusalOf } from './calls.ts';
import * as actions from './transaction/actions.ts';
import * as assigners from './transaction/assigners.ts';
import { cancelOrderInput, combo, confirmHoldInput, createOrderInput, creditTopUpInput, lockHoldInput, markOrderPaidInput, newestLocked, nextLocked, nextPending, refundRefusal, releaseHoldInput } from './transaction/context.ts';
import { transactionGuards } from './transaction/guards.ts';
import { transactionSetup } from './transaction/setup.ts';
import { TIMERS, type TxnCommand } from './types.ts';

/**
 * The transaction statechart:
 *
 *   quoted ⟲ REQUOTE
 *     → ordering (lock holds → create order) → ordered → paying (one child per leg)
 *     → paid (confirm holds → mark order paid) → completed
 *   unwinding (give captured money back → release holds newest-first → cancel the order) ends in
 *     quoted     when placing the order failed,
 *     cancelled  on CANCEL or payment expiry,
 *     failed     when a leg had to be rolled back after its confirm failed.
 *
 * Commands (REQUOTE, ORDER, PAY, CANCEL) carry a `requestId`; the machine answers each in
 * `context.reply`, which the runtime stores before it answers the HTTP request. Business timers
 * are durable: the machine writes deadlines into `context.timers` and the runtime fires TIMER
 * events when they are due (XState's own `after` is not persisted, DESIGN.md rule 4). Time comes
 * only from events (`at`) and call results, never from a clock read here.
 */
export const transactionMachine = transactionSetup.extend({
  guards: transactionGuards,
  actions: {
    ...actions,
    replyRefusal: assign(assigners.replyRefusal),
    armRetry: assign(assigners.armRetry),
    clearTimer: assign(assigners.clearTimer),
    setHold: assign(assigners.setHold),
    topUpCredited: assign(assigners.topUpCredited),
    noteOutcome: assign(assigners.noteOutcome),
    unwind: assign(assigners.unwind),
  },
}).createMachine({
  id: 'transaction',
  context: ({ input }) => ({
    ...input,
    quoteIds: [input.quote.quoteId],
    order: null,
    holds: [],
    needsReview: false,
    unwindTo: null,
    expiresAt: null,
    legs: [],
    timers: {},
    pendingRequestId: null,
    reply: null,
    outcome: null,
    attempts: {},
    paidAt: null,
    lateLegs: [],
    confirmFailed: false,
    topUps: [],
    refunds: [],
    needsAttention: false,
    taskNames: [],
    deadTasks: [],
    redrives: {},
  }),
  initial: 'quoted',
  on: {
    // A timer that fires after its state has moved on changes nothing but its own row.
    TIMER: [{ guard: 'isChildTimer', actions: 'forwardChildTimer' }, { actions: 'dropStaleTimer' }],
    // In any state: a pending leg hears about its callback; a closed leg's callback is checked and refunded.
    PAYMENT_CALLBACK: { actions: 'routeCallback' },
    LATE_PAYMENT_CONFIRMED: { actions: ['giveBackLatePayment', 'forgetLateLeg'] },
    LATE_PAYMENT_IGNORED: { actions: 'forgetLateLeg' },
    // In any state: the refunds giving captured money back outlive the unwinding that started them.
    RLEG_DONE: { actions: ['givenBack', 'refundLegRedone'] },
    LEG_CAPTURED_OTHERWISE: { actions: 'legCapturedOtherwise' },
    NUDGE: { actions: ['redriveAttention', 'askClosedLegsAgain'] },
    REFUND_CALLBACK: { actions: 'routeRefundCallback' },
    TASK_DONE: { actions: 'taskDone' },
    TASK_DEAD: { actions: 'taskDead' },
  },
  states: {
    quoted: {
      on: {
        REQUOTE: { actions: ['requestReceived', 'replaceQuote', 'replyOk'] },
        ORDER: [
          { guard: 'quoteNotOfThisTransaction', actions: { type: 'replyRefusal', params: { refusal: refusal('NOT_FOUND', 'the quote does not belong to this transaction') } } },
          { guard: 'quoteSuperseded', actions: { type: 'replyRefusal', params: { refusal: refusal('QUOTE_SUPERSEDED') } } },
          { guard: 'quoteExpired', actions: { type: 'replyRefusal', params: { refusal: refusal('QUOTE_EXPIRED') } } },
          { guard: 'comboNotInQuote', actions: { type: 'replyRefusal', params: { refusal: refusal('COMBO_NOT_IN_QUOTE') } } },
          { target: 'ordering', actions: ['requestReceived', 'placeOrder'] },
        ],
        CANCEL: { target: 'cancelled', actions: ['requestReceived', { type: 'noteOutcome', params: ({ event }) => ({ refusal: ended('CANCELLED', event.reason) }) }, 'replyOk'] },
      },
    },

    ordering: {
      initial: 'nextHold',
      states: {
        // Pre mode: coupons, points and stock are locked before the order exists (TCC try).
        nextHold: {
          always: [{ guard: 'holdToLockBeforeOrder', target: 'lockingHold' }, { target: 'creatingOrder' }],
        },
        lockingHold: {
          tags: ['working'],
          invoke: {
            src: 'lockHold',
            input: ({ context }) => lockHoldInput(context),
            onDone: [
              { guard: { type: 'succeeded', params: ({ event }) => event }, target: 'nextHold', actions: { type: 'setHold', params: ({ context }) => ({ lockKey: nextPending(context)!.lockKey, status: 'locked' as const }) } },
              // No answer: the lock may exist; mark it so the compensation releases it (an empty rollback if not).
              {
                guard: { type: 'unavailable', params: ({ event }) => event },
                target: '#transaction.unwinding',
                actions: [
                  { type: 'setHold', params: ({ context }) => ({ lockKey: nextPending(context)!.lockKey, status: 'locked' as const }) },
                  { type: 'unwind', params: ({ event }) => ({ to: 'quoted' as const, refusal: event.output.ok ? refusal('INTERNAL') : refusalOf(event.output) }) },
                ],
              },
              { target: '#transaction.unwinding', actions: { type: 'unwind', params: ({ event }) => ({ to: 'quoted' as const, refusal: event.output.ok ? refusal('INTERNAL') : refusalOf(event.output) }) } },
            ],
          },
        },
        creatingOrder: {
          tags: ['working'],
          invoke: {
            src: 'createOrder',
            input: ({ context }) => createOrderInput(context),
            onDone: [
              { guard: { type: 'succeeded', params: ({ event }) => event }, target: '#transaction.ordered', actions: ['armPaymentExpiry', 'replyOk'] },
              // The order system refused or did not answer: undo whatever it may have created.
              { target: '#transaction.unwinding', actions: { type: 'unwind', params: ({ event }) => ({ to: 'quoted' as const, refusal: event.output.ok ? refusal('INTERNAL') : refusalOf(event.output) }) } },
            ],
          },
        },
      },
    },

    ordered: {
      on: {
        PAY: [
          { guard: 'paymentDeadlinePassed', actions: { type: 'replyRefusal', params: ({ context }) => ({ refusal: refusal('INVALID_STATE', 'the payment deadline has passed', { expiresAt: context.expiresAt }) }) } },
          { guard: 'moreThanOneCard', actions: { type: 'replyRefusal', params: { refusal: refusal('INVALID_REQUEST', 'at most one stored-value card per payment') } } },
          { guard: 'cardLegWithoutCard', actions: { type: 'replyRefusal', params: { refusal: refusal('INVALID_REQUEST', 'a stored_value leg needs a cardNo, and only a stored_value leg takes one') } } },
          { guard: 'legsDoNotAddUp', actions: { type: 'replyRefusal', params: { refusal: refusal('LEGS_MISMATCH') } } },
          { guard: 'cardPaysForTopUp', actions: { type: 'replyRefusal', params: { refusal: refusal('LEGS_MISMATCH', 'a stored-value top-up cannot be paid with stored value') } } },
          { guard: 'legMethodNotInCombo', actions: { type: 'replyRefusal', params: ({ context }) => ({ refusal: refusal('LEGS_MISMATCH', `a discount of the ordered combination needs every leg paid by ${combo(context, context.order!.comboId)?.allowedMethods?.join(' or ')}`) }) } },
          { target: 'paying', actions: ['requestReceived', 'recordLegs', 'spawnLegs'] },
        ],
        CANCEL: { target: 'unwinding', actions: ['requestReceived', { type: 'unwind', params: ({ event }) => ({ to: 'cancelled' as const, refusal: ended('CANCELLED', event.reason) }) }] },
        TIMER: {
          guard: { type: 'isTimer', params: { name: TIMERS.paymentExpiry } },
          target: 'unwinding',
          actions: { type: 'unwind', params: { to: 'cancelled', refusal: ended('PAYMENT_EXPIRED', 'payment expired') } },
        },
      },
    },

    paying: {
      initial: 'collecting',
      on: {
        LEG_PENDING: { actions: ['legPending', 'armQuery', 'replyWhenAllAsyncPending'] },
        LEG_LOCKED: { actions: 'legLocked' },
        LEG_SUCCEEDED: { actions: ['legSucceeded', 'clearQuery'] },
        LEG_RELEASED: { actions: ['legReleased', 'clearQuery'] },
        // Callback silence: the leg asks the gateway itself, again and again with backoff (a lost
        // callback is recovered by the query alone).
        TIMER: { guard: 'isQueryTimer', actions: ['queryLeg', 'rearmQuery'] },
      },
      states: {
        collecting: {
          always: [
            { guard: 'allLegsSucceeded', target: '#transaction.paid', actions: 'notePaid' },
            // One leg ended without money: every other leg is undone (DOMAIN.md "Payment").
            { guard: 'anyLegEndedUnpaid', target: 'endingLegs', actions: 'cancelOpenLegs' },
          ],
          on: {
            LEG_LOCKED: { actions: ['legLocked', 'advanceLegs'] },
            LEG_SUCCEEDED: { actions: ['legSucceeded', 'clearQuery', 'advanceLegs'] },
            CANCEL: { target: 'endingLegs', actions: ['requestReceived', 'cancelOpenLegs', { type: 'unwind', params: ({ event }) => ({ to: 'cancelled' as const, refusal: ended('CANCELLED', event.reason) }) }] },
            TIMER: [
              {
                guard: { type: 'isTimer', params: { name: TIMERS.paymentExpiry } },
                target: 'endingLegs',
                actions: ['cancelOpenLegs', { type: 'unwind', params: { to: 'cancelled', refusal: ended('PAYMENT_EXPIRED', 'payment expired') } }],
              },
              { guard: 'isQueryTimer', actions: ['queryLeg', 'rearmQuery'] },
            ],
          },
        },
        // Waiting for every open leg of the attempt to end (closed, released, or paid after all);
        // the compensation proper, if any is needed, is `unwinding`'s.
        endingLegs: {
          on: {
            TIMER: [
              // The payment deadline passes while a failed attempt's legs are still ending: the
              // order must not go back to `ordered` after its one expiry timer has fired (nothing
              // would ever cancel it and release its holds: seed 6010, heavy faults).
              {
                guard: and([{ type: 'isTimer', params: { name: TIMERS.paymentExpiry } }, not('unwindingDecided')]),
                actions: { type: 'unwind', params: { to: 'cancelled', refusal: ended('PAYMENT_EXPIRED', 'payment expired') } },
              },
              { guard: 'isQueryTimer', actions: ['queryLeg', 'rearmQuery'] },
            ],
          },
          always: [
            // Every leg was paid before its close landed: the money is in, the sale goes on.
            { guard: 'allLegsSucceeded', target: '#transaction.paid', actions: ['notePaid', { type: 'replyRefusal', params: { refusal: refusal('INVALID_STATE', 'the payment succeeded before it could be cancelled') } }] },
            { guard: 'legsStillOpen' },
            { guard: 'unwindingDecided', target: '#transaction.unwinding' },
            // Money moved and must go back, or a confirm failed: this attempt failed for good.
            {
              guard: 'moneyMovedOrConfirmFailed',
              target: '#transaction.unwinding',
              actions: { type: 'unwind', params: ({ context }) => ({ to: 'failed' as const, refusal: context.outcome ?? refusal('PAYMENT_FAILED') }) },
            },
            // Nothing moved: the order stays open for another attempt.
            { target: '#transaction.ordered', actions: { type: 'replyRefusal', params: ({ context }) => ({ refusal: refusalIn(context.outcome, refusal('PAYMENT_FAILED')) }) } },
          ],
        },
      },
    },

    // Past the watershed (DESIGN.md rule 6): the sale will complete; core steps retry until they succeed.
    paid: {
      // The post-payment tasks are enqueued as soon as the money is in: they need nothing of what
      // follows here (holds, top-ups, the order system), so one slow core system delays none of them.
      entry: [{ type: 'clearTimer', params: { name: TIMERS.paymentExpiry } }, 'enqueuePostPaymentTasks'],
      initial: 'nextHold',
      states: {
        nextHold: {
          always: [
            { guard: 'holdToConfirm', target: 'confirmingHold' },
            { guard: 'holdToTakeAfterPayment', target: 'takingHold' },
            { guard: 'topUpToCredit', target: 'creditingTopUp' },
            { target: 'markingOrderPaid' },
          ],
        },
        confirmingHold: {
          tags: ['working'],
          invoke: {
            src: 'confirmHold',
            input: ({ context }) => confirmHoldInput(context),
            onDone: [
              { guard: { type: 'succeeded', params: ({ event }) => event }, target: 'nextHold', actions: { type: 'setHold', params: ({ context }) => ({ lockKey: nextLocked(context)!.lockKey, status: 'confirmed' as const }) } },
              { guard: { type: 'unavailable', params: ({ event }) => event }, target: 'waitingToRetry', actions: [{ type: 'armRetry', params: ({ event }) => ({ step: 'confirmHold', at: event.output.at }) }, 'replyOk'] },
              // The lock was lost at the callee (it never should be): the money is in, so record it for review.
              { target: 'nextHold', actions: [{ type: 'setHold', params: ({ context }) => ({ lockKey: nextLocked(context)!.lockKey, status: 'shortfall' as const }) }, 'noteShortfall'] },
            ],
          },
        },
        // Post mode: the benefit is taken only now; if it was spent meanwhile the sale stands and is flagged.
        takingHold: {
          tags: ['working'],
          invoke: {
            src: 'lockHold',
            input: ({ context }) => lockHoldInput(context),
            onDone: [
              { guard: { type: 'succeeded', params: ({ event }) => event }, target: 'nextHold', actions: { type: 'setHold', params: ({ context }) => ({ lockKey: nextPending(context)!.lockKey, status: 'locked' as const }) } },
              { guard: { type: 'unavailable', params: ({ event }) => event }, target: 'waitingToRetry', actions: [{ type: 'armRetry', params: ({ event }) => ({ step: 'takeHold', at: event.output.at }) }, 'replyOk'] },
              { target: 'nextHold', actions: [{ type: 'setHold', params: ({ context }) => ({ lockKey: nextPending(context)!.lockKey, status: 'shortfall' as const }) }, 'noteShortfall'] },
            ],
          },
        },
        // A paid top-up is credited to its card (core for this item: retried until it lands).
        creditingTopUp: {
          tags: ['working'],
          invoke: {
            src: 'creditCard',
            input: ({ context }) => creditTopUpInput(context),
            onDone: [
              { guard: { type: 'unavailable', params: ({ event }) => event }, target: 'waitingToRetry', actions: [{ type: 'armRetry', params: ({ event }) => ({ step: 'creditTopUp', at: event.output.at }) }, 'replyOk'] },
              // Credited, or refused (the card is gone): either way the money is in and the sale
              // stands; a refused credit is recorded and waits for a person (`needsAttention`).
              {
                target: 'nextHold',
                actions: [
                  { type: 'topUpCredited', params: ({ context, event }) => ({ lineNo: context.topUps.find((t) => t.status === 'pending')!.lineNo, ok: event.output.ok }) },
                ],
              },
            ],
          },
        },
        markingOrderPaid: {
          tags: ['working'],
          invoke: {
            src: 'markOrderPaid',
            input: ({ context }) => markOrderPaidInput(context),
            onDone: [
              { guard: { type: 'succeeded', params: ({ event }) => event }, target: '#transaction.completed' },
              { target: 'waitingToRetry', actions: [{ type: 'armRetry', params: ({ event }) => ({ step: 'markOrderPaid', at: event.output.at }) }, 'replyOk'] },
            ],
          },
        },
        waitingToRetry: {
          on: {
            TIMER: { guard: { type: 'isTimer', params: { name: TIMERS.retry } }, target: 'nextHold', actions: { type: 'clearTimer', params: { name: TIMERS.retry } } },
          },
        },
      },
    },

    // Refunds do not change the state (API.md): each is a child actor, `refund-<refundNo>`.
    completed: {
      entry: ['clearAllTimers', 'replyOk'],
      on: {
        REFUND: [
          { guard: 'refundRefused', actions: { type: 'replyRefusal', params: ({ context, event }) => ({ refusal: refundRefusal(context, event) }) } },
          { actions: 'startRefund' },
        ],
        REFUND_ACCEPTED: { actions: 'refundAccepted' },
        REFUND_DEBITS: { actions: 'refundDebits' },
        REFUND_REJECTED: { actions: 'refundRejected' },
        REFUND_FINISHED: { actions: 'refundFinished' },
      },
    },

    unwinding: {
      entry: { type: 'clearTimer', params: { name: TIMERS.paymentExpiry } },
      initial: 'refundingLegs',
      states: {
        // Captured async money goes back first: its refunds start now and are followed to the end
        // by children of their own, which do not hold up the release of the locks.
        refundingLegs: {
          entry: 'giveBackCapturedLegs',
          always: 'nextHold',
        },
        // Compensation newest-first; a release the callee does not answer is retried: a lock must not hang.
        nextHold: {
          always: [{ guard: 'holdToRelease', target: 'releasingHold' }, { target: 'cancellingOrder' }],
        },
        releasingHold: {
          tags: ['working'],
          invoke: {
            src: 'releaseHold',
            input: ({ context }) => releaseHoldInput(context),
            onDone: [
              { guard: { type: 'unavailable', params: ({ event }) => event }, target: 'waitingToRetry', actions: { type: 'armRetry', params: ({ event }) => ({ step: 'releaseHold', at: event.output.at }) } },
              { target: 'nextHold', actions: { type: 'setHold', params: ({ context }) => ({ lockKey: newestLocked(context)!.lockKey, status: 'released' as const }) } },
            ],
          },
        },
        // Also when the order was never created: an empty rollback at the order system, which then
        // refuses a late create of that order (no hanging order).
        cancellingOrder: {
          tags: ['working'],
          invoke: {
            src: 'cancelOrder',
            input: ({ context }) => cancelOrderInput(context),
            onDone: [
              { guard: { type: 'succeeded', params: ({ event }) => event }, target: 'done' },
              { guard: { type: 'refusedBecause', params: ({ event }) => ({ ...event, code: 'ORDER_PAID' }) }, target: 'done' },
              // Going back to quoted answers the channel now; the order system's own expiry covers a
              // cancel that never arrived, and its contract refuses to create the order afterwards.
              { guard: 'unwindingToQuoted', target: 'done' },
              { target: 'waitingToRetry', actions: { type: 'armRetry', params: ({ event }) => ({ step: 'cancelOrder', at: event.output.at }) } },
            ],
          },
        },
        waitingToRetry: {
          on: {
            TIMER: { guard: { type: 'isTimer', params: { name: TIMERS.retry } }, target: 'refundingLegs', actions: { type: 'clearTimer', params: { name: TIMERS.retry } } },
          },
        },
        done: {
          always: [
            {
              guard: 'unwindingToQuoted',
              target: '#transaction.quoted',
              actions: [{ type: 'replyRefusal', params: ({ context }) => ({ refusal: refusalIn(context.outcome, refusal('CORE_SYSTEM_UNAVAILABLE')) }) }, 'forgetOrder'],
            },
            { guard: 'unwindingToCancelled', target: '#transaction.cancelled' },
            { target: '#transaction.failed' },
          ],
        },
      },
    },

    // At rest, but not final: a late success callback can still arrive and must be refunded.
    cancelled: {
      entry: ['clearAllTimers', 'replyOk'],
    },

    failed: {
      entry: ['clearAllTimers', { type: 'replyRefusal', params: ({ context }) => ({ refusal: refusalIn(context.outcome, refusal('PAYMENT_FAILED')) }) }],
    },
  },
});

export type TransactionMachine = typeof transactionMachine;
export type { TxnCommand };
