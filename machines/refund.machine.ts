import { assign, enqueueActions, sendParent, setup } from 'xstate';
import type { Refusal } from '../domain/errors.ts';
import { calls, refusalOf, type CallResult } from './calls.ts';
import { childTimer } from './durable-timers.ts';
import { refundLegMachine, type RefundLegInput } from './refund-leg.machine.ts';

/**
 * One refund (`R…`), spawned by its transaction as `refund-<refundNo>`. A refunded top-up is
 * debited from its card first (the card must still hold it); then one refund-leg child per money
 * leg (`rleg-<n>`) gives the money back; then the benefits go back: points used, and on a full
 * refund the coupons still valid. Reports REFUND_ACCEPTED (or REFUND_REJECTED) once the money
 * legs start, and REFUND_FINISHED at the end.
 */
export interface RefundInput {
  txnNo: string;
  refundNo: string;
  userId: string;
  legs: Omit<RefundLegInput, 'txnNo' | 'queryAfterMs' | 'maxAttempts'>[];
  topUpDebit: { cardNo: string; amountFen: number } | null;
  pointsToReturn: number;
  couponsToRestore: string[];
  queryAfterMs: number;
}

interface RefundContext extends RefundInput {
  legStatus: Record<number, 'pending' | 'succeeded' | 'attention'>;
  couponsRestored: string[];
  couponsExpired: string[];
  refusal: Refusal | null;
  timers: Record<string, number>;
}

type RefundEvent =
  | { type: 'RLEG_DONE'; legNo: number; status: 'succeeded' | 'attention'; error?: string }
  | { type: 'REFUND_CALLBACK'; refundLegNo: string }
  | { type: 'TIMER'; name: string; at: number };

type Done<T> = { output: CallResult<T> };

export const refundMachine = setup({
  types: { context: {} as RefundContext, input: {} as RefundInput, events: {} as RefundEvent },
  actors: {
    refundLeg: refundLegMachine,
    debitCard: calls.debitCard,
    restorePoints: calls.restorePoints,
    restoreCoupons: calls.restoreCoupons,
  },
  guards: {
    topUpToDebit: ({ context }) => context.topUpDebit !== null,
    pointsToReturn: ({ context }) => context.pointsToReturn > 0,
    couponsToRestore: ({ context }) => context.couponsToRestore.length > 0,
    allLegsDone: ({ context }) => Object.values(context.legStatus).every((s) => s !== 'pending'),
    succeeded: (_, params: Done<unknown>) => params.output.ok,
    unavailable: (_, params: Done<unknown>) => !params.output.ok && params.output.code === 'UNAVAILABLE',
  },
  actions: {
    startLegs: enqueueActions(({ context, enqueue }) => {
      for (const leg of context.legs) {
        enqueue.spawnChild('refundLeg', {
          id: `rleg-${leg.legNo}`,
          input: { ...leg, txnNo: context.txnNo, queryAfterMs: context.queryAfterMs, maxAttempts: 3 },
        });
      }
    }),
    legDone: assign(({ context, event }) => (event.type === 'RLEG_DONE' ? { legStatus: { ...context.legStatus, [event.legNo]: event.status } } : {})),
    forwardCallback: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'REFUND_CALLBACK') return;
      const leg = context.legs.find((l) => l.refundLegNo === event.refundLegNo);
      if (leg && context.legStatus[leg.legNo] === 'pending') enqueue.sendTo(`rleg-${leg.legNo}`, { type: 'REFUND_CALLBACK' });
    }),
    forwardTimer: enqueueActions(({ event, enqueue }) => {
      const target = childTimer(event);
      if (target && event.type === 'TIMER') enqueue.sendTo(target.childId, { type: 'TIMER', name: target.name, at: event.at });
    }),
    reportAccepted: sendParent(({ context }) => ({ type: 'REFUND_ACCEPTED', refundNo: context.refundNo })),
    reportRejected: sendParent(({ context }) => ({ type: 'REFUND_REJECTED', refundNo: context.refundNo, refusal: context.refusal })),
    reportFinished: sendParent(({ context }) => ({
      type: 'REFUND_FINISHED',
      refundNo: context.refundNo,
      legStatus: context.legStatus,
      couponsRestored: context.couponsRestored,
      couponsExpired: context.couponsExpired,
    })),
  },
}).createMachine({
  id: 'refund',
  context: ({ input }) => ({
    ...input,
    legStatus: Object.fromEntries(input.legs.map((l) => [l.legNo, 'pending' as const])),
    couponsRestored: [],
    couponsExpired: [],
    refusal: null,
    timers: {},
  }),
  initial: 'starting',
  on: {
    TIMER: { actions: 'forwardTimer' },
    REFUND_CALLBACK: { actions: 'forwardCallback' },
  },
  states: {
    starting: { always: [{ guard: 'topUpToDebit', target: 'debitingTopUp' }, { target: 'refundingMoney', actions: ['reportAccepted', 'startLegs'] }] },
    // DOMAIN.md: a top-up is refundable only while the card still holds it, so the card goes first.
    debitingTopUp: {
      tags: ['working'],
      invoke: {
        src: 'debitCard',
        input: ({ context }) => ({
          key: { txnNo: context.txnNo, step: `${context.refundNo}:debit` },
          request: { cardNo: context.topUpDebit!.cardNo, debitNo: `${context.refundNo}-D`, amountFen: context.topUpDebit!.amountFen, reason: 'top-up-refund' as const },
        }),
        onDone: [
          { guard: { type: 'succeeded', params: ({ event }) => event }, target: 'refundingMoney', actions: ['reportAccepted', 'startLegs'] },
          {
            target: 'rejected',
            actions: assign(({ event }) => ({
              refusal: event.output.ok
                ? null
                : event.output.code === 'INSUFFICIENT_BALANCE'
                  ? { code: 'INSUFFICIENT_BALANCE' as const, message: 'the card no longer holds the top-up: it was spent, so it cannot be refunded' }
                  : refusalOf(event.output),
            })),
          },
        ],
      },
    },
    refundingMoney: {
      always: { guard: 'allLegsDone', target: 'pointsNext' },
      on: { RLEG_DONE: { actions: 'legDone' } },
    },
    pointsNext: { always: [{ guard: 'pointsToReturn', target: 'returningPoints' }, { target: 'couponsNext' }] },
    couponsNext: { always: [{ guard: 'couponsToRestore', target: 'restoringCoupons' }, { target: 'finished' }] },
    returningPoints: {
      tags: ['working'],
      invoke: {
        src: 'restorePoints',
        input: ({ context }) => ({
          key: { txnNo: context.txnNo, step: `${context.refundNo}:points` },
          request: { userId: context.userId, restoreNo: `${context.refundNo}-P`, points: context.pointsToReturn },
        }),
        onDone: [
          { guard: { type: 'unavailable', params: ({ event }) => event }, target: 'returningPoints', reenter: true },
          { target: 'couponsNext' },
        ],
      },
    },
    restoringCoupons: {
      tags: ['working'],
      invoke: {
        src: 'restoreCoupons',
        input: ({ context }) => ({
          key: { txnNo: context.txnNo, step: `${context.refundNo}:coupons` },
          request: { userId: context.userId, restoreNo: `${context.refundNo}-C`, couponIds: context.couponsToRestore },
        }),
        onDone: [
          { guard: { type: 'unavailable', params: ({ event }) => event }, target: 'restoringCoupons', reenter: true },
          {
            target: 'finished',
            actions: assign(({ event }) => (event.output.ok ? { couponsRestored: event.output.restored, couponsExpired: event.output.expired } : {})),
          },
        ],
      },
    },
    finished: { type: 'final', entry: 'reportFinished' },
    rejected: { type: 'final', entry: 'reportRejected' },
  },
});
