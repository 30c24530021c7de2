import { assign, enqueueActions, sendParent, setup } from 'xstate';
import type { Refusal } from '../domain/errors.ts';
import { calls, refusalOf, type CallResult } from './calls.ts';
import { backoff, childTimer } from './durable-timers.ts';
import { refundLegMachine, type RefundLegInput } from './refund-leg.machine.ts';
import type { BenefitRefusal, TopUpDebitView } from './types.ts';

/**
 * One refund (`R…`), spawned by its transaction as `refund-<refundNo>`. Refunded top-ups are
 * debited from their cards first, one card after another (each card must still hold its top-up;
 * when one does not, the cards debited before it are credited back and the refund is rejected);
 * then one refund-leg child per money leg (`rleg-<n>`) gives the money back; then the benefits go
 * back: points used, and on a full refund the coupons still valid. Reports REFUND_ACCEPTED (or
 * REFUND_REJECTED) once the money legs start, and REFUND_FINISHED at the end.
 */
export interface RefundInput {
  txnNo: string;
  refundNo: string;
  userId: string;
  legs: Omit<RefundLegInput, 'txnNo' | 'queryAfterMs'>[];
  /**
   * Top-ups to take back, one entry per card, in line order, all `pending` at the start; the
   * machine keeps each one's status here and reports the list to its transaction on every change.
   */
  topUpDebits: TopUpDebitView[];
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
  /** How many of `topUpDebits` have been debited (and not credited back). */
  debited: number;
  /** Tries of the current debit or credit-back that found the card system unavailable. */
  cardAttempts: number;
  /** A debit could not be credited back: the card owner is owed it, a person must look. */
  undoFailed: boolean;
  /** Points or coupons their system refused to take back (not an outage): owed, for a person. */
  benefitRefusals: BenefitRefusal[];
}

type RefundEvent =
  | { type: 'RLEG_DONE'; legNo: number; status: 'succeeded' | 'attention'; error?: string }
  | { type: 'REFUND_CALLBACK'; refundLegNo: string }
  | { type: 'TIMER'; name: string; at: number };

type Done<T> = { output: CallResult<T> };

/** `debits` with the one at `index` set to `status`, and, when given, every later one to `later`. */
function settleDebit(debits: TopUpDebitView[], index: number, status: TopUpDebitView['status'], later?: TopUpDebitView['status']): TopUpDebitView[] {
  return debits.map((d, i) => (i === index ? { ...d, status } : later && i > index ? { ...d, status: later } : d));
}

/** Durable timer of a card call asked again after the card system did not answer. */
const CARD_RETRY = 'card-retry';

/** The callee's own code and words for a refusal (a `CallResult` that is not ok). */
function refusedBecause(output: CallResult<unknown>): { code: string; message: string } {
  return output.ok ? { code: 'UNKNOWN', message: '' } : { code: output.code, message: output.message };
}

/** Step key and debit number of a refund's debit at `index`: the first card's are plain, later ones numbered from 2. */
export function debitIds(refundNo: string, index: number): { step: string; debitNo: string } {
  return index === 0 ? { step: `${refundNo}:debit`, debitNo: `${refundNo}-D` } : { step: `${refundNo}:debit:${index + 1}`, debitNo: `${refundNo}-D${index + 1}` };
}

export const refundMachine = setup({
  types: { context: {} as RefundContext, input: {} as RefundInput, events: {} as RefundEvent },
  actors: {
    refundLeg: refundLegMachine,
    debitCard: calls.debitCard,
    creditCard: calls.creditCard,
    restorePoints: calls.restorePoints,
    restoreCoupons: calls.restoreCoupons,
  },
  guards: {
    topUpToDebit: ({ context }) => context.debited < context.topUpDebits.length,
    debitToUndo: ({ context }) => context.debited > 0,
    isTimer: ({ event }, params: { name: string }) => event.type === 'TIMER' && event.name === params.name,
    pointsToReturn: ({ context }) => context.pointsToReturn > 0,
    couponsToRestore: ({ context }) => context.couponsToRestore.length > 0,
    allLegsDone: ({ context }) => Object.values(context.legStatus).every((s) => s !== 'pending'),
    succeeded: (_, params: Done<unknown>) => params.output.ok,
    unavailable: (_, params: Done<unknown>) => !params.output.ok && params.output.code === 'UNAVAILABLE',
    refused: (_, params: Done<unknown>) => !params.output.ok && params.output.code !== 'UNAVAILABLE',
  },
  actions: {
    startLegs: enqueueActions(({ context, enqueue }) => {
      for (const leg of context.legs) {
        enqueue.spawnChild('refundLeg', {
          id: `rleg-${leg.legNo}`,
          input: { ...leg, txnNo: context.txnNo, queryAfterMs: context.queryAfterMs },
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
    reportDebits: sendParent(({ context }) => ({ type: 'REFUND_DEBITS', refundNo: context.refundNo, topUpDebits: context.topUpDebits })),
    reportAccepted: sendParent(({ context }) => ({ type: 'REFUND_ACCEPTED', refundNo: context.refundNo })),
    reportRejected: sendParent(({ context }) => ({ type: 'REFUND_REJECTED', refundNo: context.refundNo, refusal: context.refusal, needsAttention: context.undoFailed })),
    armCardRetry: assign(({ context }, params: { at: number }) => ({
      cardAttempts: context.cardAttempts + 1,
      timers: { ...context.timers, [CARD_RETRY]: params.at + backoff(context.cardAttempts) },
    })),
    disarmCardRetry: assign(({ context }) => {
      const { [CARD_RETRY]: _dropped, ...rest } = context.timers;
      return { timers: rest };
    }),
    reportFinished: sendParent(({ context }) => ({
      type: 'REFUND_FINISHED',
      refundNo: context.refundNo,
      legStatus: context.legStatus,
      couponsRestored: context.couponsRestored,
      couponsExpired: context.couponsExpired,
      benefitRefusals: context.benefitRefusals,
    })),
    noteBenefitRefused: assign(({ context }, params: { refusal: BenefitRefusal }) => ({ benefitRefusals: [...(context.benefitRefusals ?? []), params.refusal] })),
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
    debited: 0,
    cardAttempts: 0,
    undoFailed: false,
    benefitRefusals: [],
  }),
  initial: 'starting',
  on: {
    TIMER: { actions: 'forwardTimer' },
    REFUND_CALLBACK: { actions: 'forwardCallback' },
  },
  states: {
    starting: { always: [{ guard: 'topUpToDebit', target: 'debitingTopUp' }, { target: 'refundingMoney', actions: ['reportAccepted', 'startLegs'] }] },
    // DOMAIN.md: a top-up is refundable only while the card still holds it, so the cards go first.
    debitingTopUp: {
      tags: ['working'],
      invoke: {
        src: 'debitCard',
        input: ({ context }) => {
          const debit = context.topUpDebits[context.debited]!;
          const { step, debitNo } = debitIds(context.refundNo, context.debited);
          return { key: { txnNo: context.txnNo, step }, request: { cardNo: debit.cardNo, debitNo, amountFen: debit.amountFen, reason: 'top-up-refund' as const } };
        },
        onDone: [
          {
            guard: { type: 'succeeded', params: ({ event }) => event },
            target: 'starting',
            actions: [assign(({ context }) => ({ topUpDebits: settleDebit(context.topUpDebits, context.debited, 'debited'), debited: context.debited + 1, cardAttempts: 0 })), 'reportDebits'],
          },
          // No answer: the debit may have landed. Only its own key can tell, so it is asked again
          // later; rejecting now could keep the card's money and the customer's.
          { guard: { type: 'unavailable', params: ({ event }) => event }, target: 'waitingToDebit', actions: { type: 'armCardRetry', params: ({ event }) => ({ at: event.output.at }) } },
          {
            target: 'undoingDebits',
            actions: [assign(({ context, event }) => ({
              // The cards after a refusing one are never asked: the refund is rejected as a whole.
              topUpDebits: settleDebit(context.topUpDebits, context.debited, 'refused', 'skipped'),
              cardAttempts: 0,
              refusal: event.output.ok
                ? null
                : event.output.code === 'INSUFFICIENT_BALANCE'
                  ? { code: 'INSUFFICIENT_BALANCE' as const, message: 'the card no longer holds the top-up: it was spent, so it cannot be refunded' }
                  : refusalOf(event.output),
            })), 'reportDebits'],
          },
        ],
      },
    },
    waitingToDebit: {
      on: { TIMER: { guard: { type: 'isTimer', params: { name: CARD_RETRY } }, target: 'debitingTopUp', actions: 'disarmCardRetry' } },
    },
    // A later card refused its debit: the cards debited before it get their money back, newest first.
    undoingDebits: { always: [{ guard: 'debitToUndo', target: 'creditingBack' }, { target: 'rejected' }] },
    creditingBack: {
      tags: ['working'],
      invoke: {
        src: 'creditCard',
        input: ({ context }) => {
          const debit = context.topUpDebits[context.debited - 1]!;
          const { step, debitNo } = debitIds(context.refundNo, context.debited - 1);
          return { key: { txnNo: context.txnNo, step: `${step}:undo` }, request: { cardNo: debit.cardNo, creditNo: `${debitNo}-U`, amountFen: debit.amountFen, reason: 'refund' as const } };
        },
        onDone: [
          { guard: { type: 'unavailable', params: ({ event }) => event }, target: 'waitingToCreditBack', actions: { type: 'armCardRetry', params: ({ event }) => ({ at: event.output.at }) } },
          {
            target: 'undoingDebits',
            actions: [
              assign(({ context, event }) => ({
                topUpDebits: settleDebit(context.topUpDebits, context.debited - 1, event.output.ok ? 'creditedBack' : 'creditBackFailed'),
                debited: context.debited - 1,
                cardAttempts: 0,
                undoFailed: context.undoFailed || !event.output.ok,
              })),
              'reportDebits',
            ],
          },
        ],
      },
    },
    waitingToCreditBack: {
      on: { TIMER: { guard: { type: 'isTimer', params: { name: CARD_RETRY } }, target: 'creditingBack', actions: 'disarmCardRetry' } },
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
          // The money is back already: a refusal does not undo the refund, it leaves the points owed.
          {
            guard: { type: 'refused', params: ({ event }) => event },
            target: 'couponsNext',
            actions: {
              type: 'noteBenefitRefused',
              params: ({ context, event }) => ({ refusal: { system: 'points' as const, points: context.pointsToReturn, ...refusedBecause(event.output) } }),
            },
          },
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
            guard: { type: 'refused', params: ({ event }) => event },
            target: 'finished',
            actions: {
              type: 'noteBenefitRefused',
              params: ({ context, event }) => ({ refusal: { system: 'coupon' as const, couponIds: context.couponsToRestore, ...refusedBecause(event.output) } }),
            },
          },
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
