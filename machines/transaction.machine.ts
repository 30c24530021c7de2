import { assign, enqueueActions, setup } from 'xstate';
import { ended, refusal, refusalIn, type Outcome, type Refusal } from '../domain/errors.ts';
import type { QuoteLine } from '../domain/pricing/types.ts';
import { calls, refusalOf, type CallResult } from './calls.ts';
import { backoff, childTimer } from './durable-timers.ts';
import { latePaymentMachine } from './late-payment.machine.ts';
import { postPaymentTasks, refundReversalTasks } from './post-payment-tasks.ts';
import { planRefund } from './refund-plan.ts';
import { refundLegMachine, type RefundLegInput } from './refund-leg.machine.ts';
import { refundMachine } from './refund.machine.ts';
import { paymentLegMachine, type LegInput } from './payment-leg.machine.ts';
import {
  ASYNC_METHODS,
  TIMERS,
  type BenefitHold,
  type LegView,
  type RefundView,
  type TxnCommand,
  type TxnContext,
  type TxnEvent,
  type TxnInput,
} from './types.ts';

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

type Done<T> = { output: CallResult<T> };

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

function legInput(context: TxnContext, leg: LegView): LegInput {
  return {
    txnNo: context.txnNo,
    legId: leg.legId,
    paymentNo: leg.paymentNo,
    merchantId: context.merchantId,
    method: leg.method,
    amountFen: leg.amount,
    ...(leg.cardNo ? { cardNo: leg.cardNo } : {}),
    expiresAt: context.expiresAt ?? context.createdAt,
  };
}

/** Durable timer of a pending async leg's next gateway query: `query:<legId>`. */
const QUERY_TIMER = 'query:';

const ENDED: LegView['status'][] = ['succeeded', 'failed', 'closed', 'refunded'];

/** Captured async legs that must be given back while unwinding (and are not yet). */
function legsToGiveBack(context: TxnContext): LegView[] {
  return context.legs.filter((l) => l.status === 'succeeded' && ASYNC_METHODS.includes(l.method) && !l.giveBack);
}

/** Child actor id of the refund giving a leg's money back. */
const giveBackId = (legId: string) => `giveback-${legId}`;

/** Child actor id of a refund's leg started again by a nudge after it waited for a person. */
const redriveId = (refundLegNo: string) => `redrive-${refundLegNo}`;

function giveBackInput(context: TxnContext, l: LegView, refundLegNo: string, round = 0): RefundLegInput {
  return { txnNo: context.txnNo, refundLegNo, legNo: l.legNo, method: l.method, paymentNo: l.paymentNo, amountFen: l.amount, queryAfterMs: context.queryAfterMs, ...(round ? { round } : {}) };
}

/**
 * The refunds that give `legs` back (those not already being given back), as refund-leg inputs:
 * refund number `T…-P<n>-C` when unwinding, `T…-P<n>-L` for a payment captured after its close.
 */
function giveBacks(context: TxnContext, legs: LegView[], kind: 'C' | 'L'): { legId: string; input: RefundLegInput }[] {
  return legs.filter((l) => !l.giveBack).map((l) => ({ legId: l.legId, input: giveBackInput(context, l, `${l.paymentNo}-${kind}`) }));
}

/**
 * A closed async leg the channel may have captured after all (a late callback, a nudge): not
 * already being checked or given back, and not captured otherwise (that one is a person's).
 */
function mayBeCapturedAfterClose(context: TxnContext, leg: LegView): boolean {
  return (
    (leg.status === 'closed' || leg.status === 'failed') &&
    ASYNC_METHODS.includes(leg.method) &&
    leg.started &&
    !context.lateLegs.includes(leg.legId) &&
    !leg.giveBack &&
    !leg.capturedOtherwise
  );
}

/** A refund's status from its legs' once a re-driven leg reports. */
function refundStatusOf(legs: RefundView['legs']): RefundView['status'] {
  if (legs.every((l) => l.status === 'succeeded')) return 'succeeded';
  return legs.some((l) => l.status === 'pending') ? 'processing' : 'attention';
}

function refundRefusal(context: TxnContext, event: TxnEvent): Refusal {
  const planned = event.type === 'REFUND' ? planRefund(context, event) : null;
  return planned && !planned.ok ? planned.refusal : refusal('INVALID_REQUEST');
}

function lineDescription(l: QuoteLine): string {
  switch (l.type) {
    case 'fuel':
      return `${l.grade}# fuel, nozzle ${l.nozzleNo}`;
    case 'goods':
      return `${l.name} × ${l.quantity}`;
    case 'stored_value':
      return `top-up of card ${l.cardNo}`;
    case 'virtual':
      return l.name;
  }
}

/**
 * The waiting request is about refund `refundNo`. A refund request stops waiting when its debit is
 * slow (and the next request may then start another refund), so an earlier refund that ends later
 * must not answer a request that is about a later one: that request's refund is the newest.
 */
function awaitsAnswer(context: TxnContext, refundNo: string): boolean {
  return context.refunds.at(-1)?.refundNo === refundNo;
}

/** The context patch that answers the waiting command with success. */
function answerOk(context: TxnContext): Partial<TxnContext> {
  return context.pendingRequestId ? { reply: { requestId: context.pendingRequestId, ok: true }, pendingRequestId: null } : {};
}

/** The holds an order takes, from its combination and lines. */
function holdsFor(context: TxnContext, orderNo: string, comboId: string): BenefitHold[] {
  const chosen = combo(context, comboId);
  const holds: BenefitHold[] = [];
  if (chosen?.couponIds.length) holds.push({ resource: 'coupon', lockKey: `${orderNo}:coupon`, status: 'pending', couponIds: chosen.couponIds });
  if (chosen?.points) holds.push({ resource: 'points', lockKey: `${orderNo}:points`, status: 'pending', points: chosen.points });
  const items = context.quote.lines.flatMap((l) => (l.type === 'goods' ? [{ sku: l.sku, quantity: l.quantity }] : []));
  if (items.length) holds.push({ resource: 'goods', lockKey: `${orderNo}:goods`, status: 'pending', items });
  return holds;
}

/** The try of the next pending hold: before the order in pre mode, after payment in post mode. */
function lockHoldInput(context: TxnContext) {
  const hold = nextPending(context)!;
  return { key: { txnNo: context.txnNo, step: `${hold.lockKey}:lock` }, request: { hold, userId: context.userId, stationId: context.stationId } };
}

const nextPending = (c: TxnContext) => c.holds.find((h) => h.status === 'pending');
const nextLocked = (c: TxnContext) => c.holds.find((h) => h.status === 'locked');
/** Compensation runs newest-first. */
const newestLocked = (c: TxnContext) => [...c.holds].reverse().find((h) => h.status === 'locked');

function setHold(holds: BenefitHold[], lockKey: string, status: BenefitHold['status']): BenefitHold[] {
  return holds.map((h) => (h.lockKey === lockKey ? { ...h, status } : h));
}

export const transactionMachine = setup({
  types: {
    context: {} as TxnContext,
    input: {} as TxnInput,
    events: {} as TxnEvent,
  },
  actors: {
    paymentLeg: paymentLegMachine,
    latePayment: latePaymentMachine,
    refund: refundMachine,
    refundLeg: refundLegMachine,
    creditCard: calls.creditCard,
    createOrder: calls.createOrder,
    cancelOrder: calls.cancelOrder,
    markOrderPaid: calls.markOrderPaid,
    lockHold: calls.lockHold,
    confirmHold: calls.confirmHold,
    releaseHold: calls.releaseHold,
  },
  guards: {
    quoteNotOfThisTransaction: ({ context, event }) => event.type === 'ORDER' && !context.quoteIds.includes(event.quoteId),
    quoteSuperseded: ({ context, event }) => event.type === 'ORDER' && event.quoteId !== context.quote.quoteId,
    quoteExpired: ({ context, event }) => event.type === 'ORDER' && event.at >= Date.parse(context.quote.expiresAt),
    comboNotInQuote: ({ context, event }) => event.type === 'ORDER' && !combo(context, event.comboId),
    // The expiry timer may not have fired yet (it is polled): the deadline is the order's, not the timer's.
    paymentDeadlinePassed: ({ context, event }) => event.type === 'PAY' && context.expiresAt !== null && event.at >= Date.parse(context.expiresAt),
    legsDoNotAddUp: ({ context, event }) =>
      event.type === 'PAY' && event.legs.reduce((a, l) => a + l.amount, 0) !== context.order?.payableAmount,
    legMethodNotInCombo: ({ context, event }) => {
      if (event.type !== 'PAY' || !context.order) return false;
      const allowed = combo(context, context.order.comboId)?.allowedMethods;
      return allowed !== undefined && event.legs.some((l) => !allowed.includes(l.method));
    },
    // One card per payment: a second card would need a stored-value refund to undo a confirm.
    moreThanOneCard: ({ event }) => event.type === 'PAY' && event.legs.filter((l) => l.method === 'stored_value').length > 1,
    cardLegWithoutCard: ({ event }) => event.type === 'PAY' && event.legs.some((l) => (l.method === 'stored_value') !== (l.cardNo !== undefined)),
    // DOMAIN.md: a top-up cannot be paid with stored value (the quote offers no such combination,
    // but the legs are the channel's: a card paying its own top-up would mint the bonus).
    cardPaysForTopUp: ({ context, event }) =>
      event.type === 'PAY' && event.legs.some((l) => l.method === 'stored_value') && context.quote.lines.some((l) => l.type === 'stored_value'),
    isQueryTimer: ({ event }) => event.type === 'TIMER' && event.name.startsWith(QUERY_TIMER),
    anyLegEndedUnpaid: ({ context }) => currentLegs(context).some((l) => l.status === 'failed' || l.status === 'closed'),
    legsStillOpen: ({ context }) => currentLegs(context).some((l) => !ENDED.includes(l.status)),
    unwindingDecided: ({ context }) => context.unwindTo !== null,
    moneyMovedOrConfirmFailed: ({ context }) => currentLegs(context).some((l) => l.status === 'succeeded') || context.confirmFailed,
    topUpToCredit: ({ context }) => context.topUps.some((t) => t.status === 'pending'),
    refundRefused: ({ context, event }) => event.type === 'REFUND' && !planRefund(context, event).ok,
    isChildTimer: ({ event }) => childTimer(event) !== null,
    isTimer: ({ event }, params: { name: string }) => event.type === 'TIMER' && event.name === params.name,
    allLegsSucceeded: ({ context }) => currentLegs(context).every((l) => l.status === 'succeeded'),
    holdToLockBeforeOrder: ({ context }) => context.order?.deductionMode === 'pre' && nextPending(context) !== undefined,
    holdToTakeAfterPayment: ({ context }) => nextPending(context) !== undefined,
    holdToConfirm: ({ context }) => nextLocked(context) !== undefined,
    holdToRelease: ({ context }) => newestLocked(context) !== undefined,
    unwindingToQuoted: ({ context }) => context.unwindTo === 'quoted',
    unwindingToCancelled: ({ context }) => context.unwindTo === 'cancelled',
    succeeded: (_, params: Done<unknown>) => params.output.ok,
    unavailable: (_, params: Done<unknown>) => !params.output.ok && params.output.code === 'UNAVAILABLE',
    refusedBecause: (_, params: Done<unknown> & { code: string }) => !params.output.ok && params.output.code === params.code,
  },
  actions: {
    requestReceived: assign(({ event }) => ({ pendingRequestId: 'requestId' in event ? event.requestId : null })),
    replyOk: assign(({ context }) => answerOk(context)),
    replyRefusal: assign(({ context, event }, params: { refusal: Refusal }) => {
      const requestId = 'requestId' in event ? event.requestId : context.pendingRequestId;
      return requestId ? { reply: { requestId, ok: false as const, refusal: params.refusal }, pendingRequestId: null } : {};
    }),
    replaceQuote: assign(({ context, event }) =>
      event.type === 'REQUOTE' ? { quote: event.quote, quoteIds: [...context.quoteIds, event.quote.quoteId] } : {},
    ),
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
        holds: holdsFor(context, event.orderNo, event.comboId),
        topUps: context.quote.lines.flatMap((l) =>
          l.type === 'stored_value'
            ? [{ lineNo: l.lineNo, cardNo: l.cardNo, amountFen: l.amount, bonusFen: chosen?.topUpBonuses.filter((b) => b.lineNo === l.lineNo).reduce((a, b) => a + b.bonusFen, 0) ?? 0, status: 'pending' as const }]
            : [],
        ),
        outcome: null,
      };
    }),
    forgetOrder: assign({ order: null, holds: [], unwindTo: null }),
    armPaymentExpiry: assign(({ context }) => {
      const due = Date.parse(context.order!.orderedAt) + context.paymentTtlMs;
      return { expiresAt: new Date(due).toISOString(), timers: { ...context.timers, [TIMERS.paymentExpiry]: due } };
    }),
    armRetry: assign(({ context }, params: { step: string; at: number }) => {
      const attempt = context.attempts[params.step] ?? 0;
      return {
        attempts: { ...context.attempts, [params.step]: attempt + 1 },
        timers: { ...context.timers, [TIMERS.retry]: params.at + backoff(attempt) },
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
    setHold: assign(({ context }, params: { lockKey: string; status: BenefitHold['status'] }) => ({ holds: setHold(context.holds, params.lockKey, params.status) })),
    noteShortfall: assign({ needsReview: true }),
    recordLegs: assign(({ context, event }) => {
      if (event.type !== 'PAY') return {};
      // Leg numbers continue across attempts so that every leg has its own idempotency keys.
      const attempt = Math.max(0, ...context.legs.map((l) => l.attempt)) + 1;
      const first = context.legs.length + 1;
      const added = event.legs.map(
        (l, i): LegView => ({
          legNo: first + i,
          attempt,
          legId: `leg-${first + i}`,
          paymentNo: `${context.txnNo}-P${first + i}`,
          method: l.method,
          amount: l.amount,
          ...(l.cardNo ? { cardNo: l.cardNo } : {}),
          status: 'pending',
          started: false,
        }),
      );
      return { legs: [...context.legs, ...added], confirmFailed: false, outcome: null };
    }),
    // Sync legs are locked first; async payments are created only once every lock holds, so a
    // customer is never asked to pay for a sale a card cannot cover (DOMAIN.md "Payment").
    spawnLegs: enqueueActions(({ context, enqueue }) => {
      const legs = currentLegs(context);
      const syncFirst = legs.some((l) => !ASYNC_METHODS.includes(l.method));
      for (const leg of legs.filter((l) => !syncFirst || !ASYNC_METHODS.includes(l.method))) {
        enqueue.assign(({ context: c }) => ({ legs: legStatus(c.legs, leg.legId, { started: true }) }));
        enqueue.spawnChild('paymentLeg', {
          id: leg.legId,
          input: legInput(context, leg),
        });
      }
    }),
    /**
     * Moves the legs on: once every sync leg is locked the async legs start; once every async leg
     * has succeeded the sync legs are confirmed (no async leg can fail any more).
     */
    advanceLegs: enqueueActions(({ context, enqueue }) => {
      const legs = currentLegs(context);
      const sync = legs.filter((l) => !ASYNC_METHODS.includes(l.method));
      const async = legs.filter((l) => ASYNC_METHODS.includes(l.method));
      if (!sync.every((l) => l.status === 'locked' || l.status === 'succeeded')) return;
      for (const leg of async.filter((l) => !l.started)) {
        enqueue.assign(({ context: c }) => ({ legs: legStatus(c.legs, leg.legId, { started: true }) }));
        enqueue.spawnChild('paymentLeg', { id: leg.legId, input: legInput(context, leg) });
      }
      if (async.every((l) => l.status === 'succeeded')) for (const leg of sync) if (leg.status === 'locked') enqueue.sendTo(leg.legId, { type: 'CONFIRM' });
    }),
    replyWhenAllAsyncPending: enqueueActions(({ context, enqueue }) => {
      const async = currentLegs(context).filter((l) => ASYNC_METHODS.includes(l.method));
      if (async.every((l) => l.status === 'pending' && l.payUrl)) enqueue.assign(({ context: c }) => answerOk(c));
    }),
    cancelOpenLegs: enqueueActions(({ context, enqueue }) => {
      for (const leg of currentLegs(context)) if (leg.started && (leg.status === 'pending' || leg.status === 'locked')) enqueue.sendTo(leg.legId, { type: 'CANCEL' });
      // Legs never started have nothing to undo.
      for (const leg of currentLegs(context)) if (!leg.started) enqueue.assign(({ context: c }) => ({ legs: legStatus(c.legs, leg.legId, { status: 'closed' }) }));
    }),
    routeCallback: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'PAYMENT_CALLBACK') return;
      const leg = context.legs.find((l) => l.paymentNo === event.paymentNo);
      if (!leg) return;
      if (leg.status === 'pending' && leg.started) {
        enqueue.sendTo(leg.legId, { type: 'PAYMENT_CALLBACK' });
      } else if (context.lateLegs.includes(leg.legId)) {
        // The check waiting on the gateway asks again now instead of at its timer.
        enqueue.sendTo(`late-${leg.legId}`, { type: 'PAYMENT_CALLBACK' });
      } else if (mayBeCapturedAfterClose(context, leg)) {
        enqueue.assign({ lateLegs: [...context.lateLegs, leg.legId] });
        enqueue.spawnChild('latePayment', {
          id: `late-${leg.legId}`,
          input: { txnNo: context.txnNo, legId: leg.legId, paymentNo: leg.paymentNo, merchantId: context.merchantId, amountFen: leg.amount, queryAfterMs: context.queryAfterMs },
        });
      }
    }),
    // A person's nudge: a capture after close whose callback was lost is looked for once more.
    askClosedLegsAgain: enqueueActions(({ context, enqueue }) => {
      const legs = context.legs.filter((l) => mayBeCapturedAfterClose(context, l));
      if (!legs.length) return;
      enqueue.assign({ lateLegs: [...context.lateLegs, ...legs.map((l) => l.legId)] });
      for (const leg of legs) {
        enqueue.spawnChild('latePayment', {
          id: `late-${leg.legId}`,
          input: { txnNo: context.txnNo, legId: leg.legId, paymentNo: leg.paymentNo, merchantId: context.merchantId, amountFen: leg.amount, queryAfterMs: context.queryAfterMs },
        });
      }
    }),
    /**
     * A person's nudge: refund legs and give-backs that spent their backoff and wait for a person
     * start again, as their next round (new call keys, the same refund number at the gateway).
     */
    redriveAttention: enqueueActions(({ context, enqueue }) => {
      const redrives = { ...(context.redrives ?? {}) };
      const nextRound = (refundLegNo: string) => (redrives[refundLegNo] = (redrives[refundLegNo] ?? 0) + 1);
      for (const leg of context.legs) {
        if (leg.giveBack?.status !== 'attention') continue;
        const refundNo = leg.giveBack.refundNo;
        enqueue.spawnChild('refundLeg', { id: giveBackId(leg.legId), input: giveBackInput(context, leg, refundNo, nextRound(refundNo)) });
        enqueue.assign(({ context: c }) => ({ legs: legStatus(c.legs, leg.legId, { giveBack: { refundNo, status: 'pending' } }) }));
      }
      for (const refund of context.refunds.filter((r) => r.status === 'attention')) {
        for (const rleg of refund.legs.filter((l) => l.status === 'attention')) {
          const paid = context.legs.find((l) => l.legNo === rleg.legNo);
          if (!paid) continue;
          enqueue.spawnChild('refundLeg', {
            id: redriveId(rleg.refundLegNo),
            input: {
              txnNo: context.txnNo,
              refundLegNo: rleg.refundLegNo,
              legNo: rleg.legNo,
              method: rleg.method,
              paymentNo: paid.paymentNo,
              ...(paid.cardNo ? { cardNo: paid.cardNo } : {}),
              amountFen: rleg.amount,
              queryAfterMs: context.queryAfterMs,
              round: nextRound(rleg.refundLegNo),
            },
          });
        }
        enqueue.assign(({ context: c }) => ({
          refunds: c.refunds.map((r) =>
            r.refundNo === refund.refundNo ? { ...r, status: 'processing' as const, legs: r.legs.map((l) => (l.status === 'attention' ? { ...l, status: 'pending' as const } : l)) } : r,
          ),
        }));
      }
      enqueue.assign({ redrives });
    }),
    refundLegRedone: assign(({ context, event }) => {
      if (event.type !== 'RLEG_DONE' || !event.refundLegNo || !context.redrives?.[event.refundLegNo]) return {};
      const refundLegNo = event.refundLegNo;
      const status = event.status;
      return {
        refunds: context.refunds.map((r) => {
          if (!r.legs.some((l) => l.refundLegNo === refundLegNo)) return r;
          const legs = r.legs.map((l) => (l.refundLegNo === refundLegNo ? { ...l, status } : l));
          return { ...r, legs, status: refundStatusOf(legs) };
        }),
        needsAttention: context.needsAttention || status === 'attention',
      };
    }),
    legCapturedOtherwise: assign(({ context, event }) =>
      event.type === 'LEG_CAPTURED_OTHERWISE' ? { legs: legStatus(context.legs, event.legId, { capturedOtherwise: true }), needsAttention: true } : {},
    ),
    forwardChildTimer: enqueueActions(({ event, enqueue }) => {
      const target = childTimer(event);
      if (target && event.type === 'TIMER') enqueue.sendTo(target.childId, { type: 'TIMER', name: target.name, at: event.at });
    }),
    startRefund: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'REFUND') return;
      const planned = planRefund(context, event);
      if (!planned.ok) return;
      enqueue.assign({ refunds: [...context.refunds, planned.plan.view], pendingRequestId: event.requestId });
      enqueue.spawnChild('refund', { id: `refund-${event.refundNo}`, input: { ...planned.plan.input, queryAfterMs: context.queryAfterMs } });
    }),
    refundAccepted: assign(({ context, event }) =>
      event.type === 'REFUND_ACCEPTED'
        ? { refunds: context.refunds.map((r) => (r.refundNo === event.refundNo ? { ...r, status: 'processing' as const } : r)), ...(awaitsAnswer(context, event.refundNo) ? answerOk(context) : {}) }
        : {},
    ),
    refundDebits: assign(({ context, event }) =>
      event.type === 'REFUND_DEBITS' ? { refunds: context.refunds.map((r) => (r.refundNo === event.refundNo ? { ...r, topUpDebits: event.topUpDebits } : r)) } : {},
    ),
    refundRejected: assign(({ context, event }) => {
      if (event.type !== 'REFUND_REJECTED') return {};
      const why = event.refusal ?? refusal('REFUND_EXCEEDS_PAID');
      return {
        needsAttention: context.needsAttention || event.needsAttention === true,
        refunds: context.refunds.map((r) => (r.refundNo === event.refundNo ? { ...r, status: 'rejected' as const, refusal: why } : r)),
        ...(context.pendingRequestId && awaitsAnswer(context, event.refundNo) ? { reply: { requestId: context.pendingRequestId, ok: false as const, refusal: why }, pendingRequestId: null } : {}),
      };
    }),
    refundFinished: assign(({ context, event }) => {
      if (event.type !== 'REFUND_FINISHED') return {};
      const refused = event.benefitRefusals ?? [];
      const attention = Object.values(event.legStatus).includes('attention') || refused.length > 0;
      const refund = context.refunds.find((r) => r.refundNo === event.refundNo);
      return {
        needsAttention: context.needsAttention || attention,
        tasks: refund ? [...context.tasks, ...refundReversalTasks(context, { ...refund, status: 'succeeded' })] : context.tasks,
        refunds: context.refunds.map((r) =>
          r.refundNo === event.refundNo
            ? {
                ...r,
                status: attention ? ('attention' as const) : ('succeeded' as const),
                legs: r.legs.map((l) => ({ ...l, status: event.legStatus[l.legNo] ?? l.status })),
                couponsRestored: event.couponsRestored,
                couponsExpired: event.couponsExpired,
                ...(refused.length ? { benefitRefusals: refused } : {}),
              }
            : r,
        ),
      };
    }),
    routeRefundCallback: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'REFUND_CALLBACK') return;
      const refund = context.refunds.find((r) => r.legs.some((l) => l.refundLegNo === event.refundLegNo));
      // A refund re-driven by a nudge has ended as an actor: its legs run on their own.
      const redriven = refund?.legs.some((l) => context.redrives?.[l.refundLegNo]);
      if (redriven && refund?.legs.some((l) => l.refundLegNo === event.refundLegNo && l.status === 'pending' && context.redrives?.[l.refundLegNo])) {
        enqueue.sendTo(redriveId(event.refundLegNo), { type: 'REFUND_CALLBACK' });
      } else if (refund?.status === 'processing' && !redriven) enqueue.sendTo(`refund-${refund.refundNo}`, { type: 'REFUND_CALLBACK', refundLegNo: event.refundLegNo });
      const givingBack = context.legs.find((l) => l.giveBack?.refundNo === event.refundLegNo && l.giveBack.status === 'pending');
      if (givingBack) enqueue.sendTo(giveBackId(givingBack.legId), { type: 'REFUND_CALLBACK' });
    }),
    // Captured money goes back by a refund at the gateway, followed by a child until the channel
    // has paid it (callback or query), asked again when the channel fails it, and left to a person
    // when it keeps failing: accepted is not done, a refund the channel fails is money still owed.
    giveBackCapturedLegs: enqueueActions(({ context, enqueue }) => {
      for (const g of giveBacks(context, legsToGiveBack(context), 'C')) {
        enqueue.assign(({ context: c }) => ({ legs: legStatus(c.legs, g.legId, { giveBack: { refundNo: g.input.refundLegNo, status: 'pending' } }) }));
        enqueue.spawnChild('refundLeg', { id: giveBackId(g.legId), input: g.input });
      }
    }),
    giveBackLatePayment: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'LATE_PAYMENT_CONFIRMED') return;
      for (const g of giveBacks(context, context.legs.filter((l) => l.legId === event.legId), 'L')) {
        enqueue.assign(({ context: c }) => ({ legs: legStatus(c.legs, g.legId, { giveBack: { refundNo: g.input.refundLegNo, status: 'pending' } }) }));
        enqueue.spawnChild('refundLeg', { id: giveBackId(g.legId), input: g.input });
      }
    }),
    givenBack: assign(({ context, event }) => {
      if (event.type !== 'RLEG_DONE') return {};
      // A give-back is known by its refund number (a leg's number alone could be a re-driven refund's).
      const leg = context.legs.find((l) => l.giveBack && (event.refundLegNo ? l.giveBack.refundNo === event.refundLegNo : l.legNo === event.legNo));
      if (!leg?.giveBack) return {};
      const giveBack = { ...leg.giveBack, status: event.status };
      return {
        legs: legStatus(context.legs, leg.legId, event.status === 'succeeded' ? { status: 'refunded', giveBack } : { giveBack }),
        needsAttention: context.needsAttention || event.status === 'attention',
      };
    }),
    topUpCredited: assign(({ context }, params: { lineNo: number; ok: boolean }) => ({
      topUps: context.topUps.map((t) => (t.lineNo === params.lineNo ? { ...t, status: params.ok ? ('credited' as const) : ('refused' as const) } : t)),
      needsAttention: context.needsAttention || !params.ok,
    })),
    forgetLateLeg: assign(({ context, event }) => ('legId' in event ? { lateLegs: context.lateLegs.filter((l) => l !== event.legId) } : {})),
    armQuery: assign(({ context, event }) =>
      event.type === 'LEG_PENDING' ? { timers: { ...context.timers, [`${QUERY_TIMER}${event.legId}`]: event.at + context.queryAfterMs } } : {},
    ),
    clearQuery: assign(({ context, event }) => {
      if (!('legId' in event)) return {};
      const { [`${QUERY_TIMER}${event.legId}`]: _dropped, ...rest } = context.timers;
      return { timers: rest };
    }),
    queryLeg: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'TIMER') return;
      const legId = event.name.slice(QUERY_TIMER.length);
      if (context.legs.some((l) => l.legId === legId && l.status === 'pending' && l.started)) enqueue.sendTo(legId, { type: 'QUERY' });
    }),
    rearmQuery: assign(({ context, event }) => {
      if (event.type !== 'TIMER') return {};
      const attempt = (context.attempts[event.name] ?? 0) + 1;
      const wait = Math.min(context.queryAfterMs * 2 ** attempt, 10 * 60_000);
      return { attempts: { ...context.attempts, [event.name]: attempt }, timers: { ...context.timers, [event.name]: event.at + wait } };
    }),
    legLocked: assign(({ context, event }) => (event.type === 'LEG_LOCKED' ? { legs: legStatus(context.legs, event.legId, { status: 'locked' }) } : {})),
    legPending: assign(({ context, event }) =>
      event.type === 'LEG_PENDING' ? { legs: legStatus(context.legs, event.legId, { status: 'pending', payUrl: event.payUrl }) } : {},
    ),
    legSucceeded: assign(({ context, event }) =>
      event.type === 'LEG_SUCCEEDED'
        ? { legs: legStatus(context.legs, event.legId, { status: 'succeeded', capturedAt: event.at, ...(event.channelTradeNo ? { channelTradeNo: event.channelTradeNo } : {}) }) }
        : {},
    ),
    legReleased: assign(({ context, event }) => {
      if (event.type !== 'LEG_RELEASED') return {};
      const status = event.phase === 'close' ? 'closed' : 'failed';
      return {
        legs: legStatus(context.legs, event.legId, { status, ...(event.attention ? { capturedOtherwise: true } : {}) }),
        outcome: context.outcome ?? event.refusal,
        confirmFailed: context.confirmFailed || event.phase === 'confirm',
        needsAttention: context.needsAttention || event.attention === true,
      };
    }),
    notePaid: assign(({ context, event }) => ({
      // With no legs (nothing to pay) the sale is paid by the PAY itself.
      paidAt: context.paidAt ?? new Date((event.type === 'LEG_SUCCEEDED' || event.type === 'PAY') && event.at ? event.at : Date.parse(context.createdAt)).toISOString(),
    })),
    noteOutcome: assign((_, params: { refusal: Outcome }) => ({ outcome: params.refusal })),
    unwind: assign((_, params: { to: 'quoted' | 'cancelled' | 'failed'; refusal: Outcome }) => ({ unwindTo: params.to, outcome: params.refusal })),
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
    tasks: [],
    deadTasks: [],
    doneTasks: [],
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
    TASK_DONE: {
      actions: assign(({ context, event }) => ({
        deadTasks: context.deadTasks.filter((t) => t !== event.task),
        doneTasks: (context.doneTasks ?? []).includes(event.task) ? (context.doneTasks ?? []) : [...(context.doneTasks ?? []), event.task],
      })),
    },
    TASK_DEAD: { actions: assign(({ context, event }) => ({ deadTasks: context.deadTasks.includes(event.task) ? context.deadTasks : [...context.deadTasks, event.task] })) },
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
                    description: lineDescription(l),
                    amount: l.amount,
                    netAmount: chosen?.lineNets[l.lineNo] ?? l.amount,
                    ...(l.type === 'fuel' ? { volumeMl: l.volumeMl } : {}),
                  })),
                  originalAmountFen: context.quote.originalAmount,
                  discountAmountFen: order.discountAmount,
                  payableAmountFen: order.payableAmount,
                },
              };
            },
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
            { guard: 'anyLegEndedUnpaid', target: 'compensating', actions: 'cancelOpenLegs' },
          ],
          on: {
            LEG_LOCKED: { actions: ['legLocked', 'advanceLegs'] },
            LEG_SUCCEEDED: { actions: ['legSucceeded', 'clearQuery', 'advanceLegs'] },
            CANCEL: { target: 'compensating', actions: ['requestReceived', 'cancelOpenLegs', { type: 'unwind', params: ({ event }) => ({ to: 'cancelled' as const, refusal: ended('CANCELLED', event.reason) }) }] },
            TIMER: [
              {
                guard: { type: 'isTimer', params: { name: TIMERS.paymentExpiry } },
                target: 'compensating',
                actions: ['cancelOpenLegs', { type: 'unwind', params: { to: 'cancelled', refusal: ended('PAYMENT_EXPIRED', 'payment expired') } }],
              },
              { guard: 'isQueryTimer', actions: ['queryLeg', 'rearmQuery'] },
            ],
          },
        },
        // Waiting for every open leg to end (closed, released, or paid after all).
        compensating: {
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
      entry: [{ type: 'clearTimer', params: { name: TIMERS.paymentExpiry } }, assign(({ context }) => ({ tasks: postPaymentTasks(context) }))],
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
            input: ({ context }) => {
              const hold = nextLocked(context)!;
              return { key: { txnNo: context.txnNo, step: `${hold.lockKey}:confirm` }, request: { hold } };
            },
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
            input: ({ context }) => {
              const topUp = context.topUps.find((t) => t.status === 'pending')!;
              return {
                key: { txnNo: context.txnNo, step: `${context.order!.orderNo}:topup:${topUp.lineNo}` },
                request: { cardNo: topUp.cardNo, creditNo: `${context.order!.orderNo}-T${topUp.lineNo}`, amountFen: topUp.amountFen + topUp.bonusFen, reason: 'top-up' as const },
              };
            },
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
            input: ({ context }) => ({
              key: { txnNo: context.txnNo, step: `order:paid:${context.order!.orderNo}` },
              request: { orderNo: context.order!.orderNo, paidAmountFen: context.order!.payableAmount },
            }),
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
      initial: 'nextLeg',
      states: {
        // Captured async money goes back first: its refunds start now and are followed to the end
        // by children of their own, which do not hold up the release of the locks.
        nextLeg: {
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
            input: ({ context }) => {
              const hold = newestLocked(context)!;
              return { key: { txnNo: context.txnNo, step: `${hold.lockKey}:release` }, request: { hold } };
            },
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
            input: ({ context }) => ({
              key: { txnNo: context.txnNo, step: `order:cancel:${context.order!.orderNo}` },
              request: { orderNo: context.order!.orderNo, reason: context.outcome?.message ?? 'cancelled' },
            }),
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
            TIMER: { guard: { type: 'isTimer', params: { name: TIMERS.retry } }, target: 'nextLeg', actions: { type: 'clearTimer', params: { name: TIMERS.retry } } },
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
