import { refusal } from '../../domain/errors.ts';
import { childTimer } from '../durable-timers.ts';
import { postPaymentTasks, refundReversalTasks } from '../post-payment-tasks.ts';
import { planRefund } from '../refund-plan.ts';
import { ASYNC_METHODS, TIMERS, type LegMethod, type LegView, type RefundLegStatus } from '../types.ts';
import {
  answerOk,
  awaitsAnswer,
  combo,
  currentLegs,
  giveBackId,
  giveBackInput,
  giveBacks,
  holdsFor,
  legInput,
  legStatus,
  legsToGiveBack,
  mayBeCapturedAfterClose,
  QUERY_TIMER,
  redriveId,
  refundStatusOf,
} from './context.ts';
import { transactionSetup } from './setup.ts';

/** The transaction machine's actions: what each named effect does to the context and the children. */

export const requestReceived = transactionSetup.assign(({ event }) => ({ pendingRequestId: 'requestId' in event ? event.requestId : null }));

export const replyOk = transactionSetup.assign(({ context }) => answerOk(context));

export const replaceQuote = transactionSetup.assign(({ context, event }) =>
    event.type === 'REQUOTE' ? { quote: event.quote, quoteIds: [...context.quoteIds, event.quote.quoteId] } : {},
  );

export const placeOrder = transactionSetup.assign(({ context, event }) => {
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
  });

export const forgetOrder = transactionSetup.assign({ order: null, holds: [], unwindTo: null });

export const armPaymentExpiry = transactionSetup.assign(({ context }) => {
    const due = Date.parse(context.order!.orderedAt) + context.paymentTtlMs;
    return { expiresAt: new Date(due).toISOString(), timers: { ...context.timers, [TIMERS.paymentExpiry]: due } };
  });

export const dropStaleTimer = transactionSetup.assign(({ context, event }) => {
    if (event.type !== 'TIMER') return {};
    const { [event.name]: _dropped, ...rest } = context.timers;
    return { timers: rest };
  });

export const clearAllTimers = transactionSetup.assign({ timers: {} });

export const noteShortfall = transactionSetup.assign({ needsReview: true });

export const recordLegs = transactionSetup.assign(({ context, event }) => {
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
  });

  // Sync legs are locked first; async payments are created only once every lock holds, so a
  // customer is never asked to pay for a sale a card cannot cover (DOMAIN.md "Payment").
export const spawnLegs = transactionSetup.enqueueActions(({ context, enqueue }) => {
    const legs = currentLegs(context);
    const syncFirst = legs.some((l) => !ASYNC_METHODS.includes(l.method));
    for (const leg of legs.filter((l) => !syncFirst || !ASYNC_METHODS.includes(l.method))) {
      enqueue.assign(({ context: c }) => ({ legs: legStatus(c.legs, leg.legId, { started: true }) }));
      enqueue.spawnChild('paymentLeg', {
        id: leg.legId,
        input: legInput(context, leg),
      });
    }
  });

  /**
   * Moves the legs on: once every sync leg is locked the async legs start; once every async leg
   * has succeeded the sync legs are confirmed (no async leg can fail any more).
   */
export const advanceLegs = transactionSetup.enqueueActions(({ context, enqueue }) => {
    const legs = currentLegs(context);
    const sync = legs.filter((l) => !ASYNC_METHODS.includes(l.method));
    const async = legs.filter((l) => ASYNC_METHODS.includes(l.method));
    if (!sync.every((l) => l.status === 'locked' || l.status === 'succeeded')) return;
    for (const leg of async.filter((l) => !l.started)) {
      enqueue.assign(({ context: c }) => ({ legs: legStatus(c.legs, leg.legId, { started: true }) }));
      enqueue.spawnChild('paymentLeg', { id: leg.legId, input: legInput(context, leg) });
    }
    if (async.every((l) => l.status === 'succeeded')) for (const leg of sync) if (leg.status === 'locked') enqueue.sendTo(leg.legId, { type: 'CONFIRM' });
  });

export const replyWhenAllAsyncPending = transactionSetup.enqueueActions(({ context, enqueue }) => {
    const async = currentLegs(context).filter((l) => ASYNC_METHODS.includes(l.method));
    if (async.every((l) => l.status === 'pending' && l.payUrl)) enqueue.assign(({ context: c }) => answerOk(c));
  });

export const cancelOpenLegs = transactionSetup.enqueueActions(({ context, enqueue }) => {
    for (const leg of currentLegs(context)) if (leg.started && (leg.status === 'pending' || leg.status === 'locked')) enqueue.sendTo(leg.legId, { type: 'CANCEL' });
    // Legs never started have nothing to undo.
    for (const leg of currentLegs(context)) if (!leg.started) enqueue.assign(({ context: c }) => ({ legs: legStatus(c.legs, leg.legId, { status: 'closed' }) }));
  });

export const routeCallback = transactionSetup.enqueueActions(({ context, event, enqueue }) => {
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
  });

  // A person's nudge: a capture after close whose callback was lost is looked for once more.
export const askClosedLegsAgain = transactionSetup.enqueueActions(({ context, enqueue }) => {
    const legs = context.legs.filter((l) => mayBeCapturedAfterClose(context, l));
    if (!legs.length) return;
    enqueue.assign({ lateLegs: [...context.lateLegs, ...legs.map((l) => l.legId)] });
    for (const leg of legs) {
      enqueue.spawnChild('latePayment', {
        id: `late-${leg.legId}`,
        input: { txnNo: context.txnNo, legId: leg.legId, paymentNo: leg.paymentNo, merchantId: context.merchantId, amountFen: leg.amount, queryAfterMs: context.queryAfterMs },
      });
    }
  });

  /**
   * A person's nudge: refund legs and give-backs that spent their backoff and wait for a person
   * start again, as their next round (new call keys, the same refund number at the gateway).
   */
export const redriveAttention = transactionSetup.enqueueActions(({ context, enqueue }) => {
    const redrives = { ...context.redrives };
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
  });

export const refundLegRedone = transactionSetup.assign(({ context, event }) => {
    if (event.type !== 'RLEG_DONE' || !event.refundLegNo || !context.redrives[event.refundLegNo]) return {};
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
  });

export const legCapturedOtherwise = transactionSetup.assign(({ context, event }) =>
    event.type === 'LEG_CAPTURED_OTHERWISE' ? { legs: legStatus(context.legs, event.legId, { capturedOtherwise: true }), needsAttention: true } : {},
  );

export const forwardChildTimer = transactionSetup.enqueueActions(({ event, enqueue }) => {
    const target = childTimer(event);
    if (target && event.type === 'TIMER') enqueue.sendTo(target.childId, { type: 'TIMER', name: target.name, at: event.at });
  });

export const startRefund = transactionSetup.enqueueActions(({ context, event, enqueue }) => {
    if (event.type !== 'REFUND') return;
    const planned = planRefund(context, event);
    if (!planned.ok) return;
    enqueue.assign({ refunds: [...context.refunds, planned.plan.view], pendingRequestId: event.requestId });
    enqueue.spawnChild('refund', { id: `refund-${event.refundNo}`, input: { ...planned.plan.input, queryAfterMs: context.queryAfterMs } });
  });

export const refundAccepted = transactionSetup.assign(({ context, event }) =>
    event.type === 'REFUND_ACCEPTED'
      ? { refunds: context.refunds.map((r) => (r.refundNo === event.refundNo ? { ...r, status: 'processing' as const } : r)), ...(awaitsAnswer(context, event.refundNo) ? answerOk(context) : {}) }
      : {},
  );

export const refundDebits = transactionSetup.assign(({ context, event }) =>
    event.type === 'REFUND_DEBITS' ? { refunds: context.refunds.map((r) => (r.refundNo === event.refundNo ? { ...r, topUpDebits: event.topUpDebits } : r)) } : {},
  );

export const refundRejected = transactionSetup.assign(({ context, event }) => {
    if (event.type !== 'REFUND_REJECTED') return {};
    const why = event.refusal ?? refusal('REFUND_EXCEEDS_PAID');
    return {
      needsAttention: context.needsAttention || event.needsAttention === true,
      refunds: context.refunds.map((r) => (r.refundNo === event.refundNo ? { ...r, status: 'rejected' as const, refusal: why } : r)),
      ...(context.pendingRequestId && awaitsAnswer(context, event.refundNo) ? { reply: { requestId: context.pendingRequestId, ok: false as const, refusal: why }, pendingRequestId: null } : {}),
    };
  });

/** A cash leg done is cash to pay out at the station (machines/types.ts `RefundLegStatus`). */
function refundLegStatus(method: LegMethod, status: RefundLegStatus): RefundLegStatus {
  return method === 'cash' && status === 'succeeded' ? 'to_pay_at_station' : status;
}

export const refundFinished = transactionSetup.enqueueActions(({ context, event, enqueue }) => {
    if (event.type !== 'REFUND_FINISHED') return;
    const refused = event.benefitRefusals ?? [];
    const attention = Object.values(event.legStatus).includes('attention') || refused.length > 0;
    const refund = context.refunds.find((r) => r.refundNo === event.refundNo);
    const reversals = refund ? refundReversalTasks(context, { ...refund, status: 'succeeded' }) : [];
    if (reversals.length) enqueue.emit({ type: 'tasksAsked', tasks: reversals });
    enqueue.assign({
      needsAttention: context.needsAttention || attention,
      taskNames: [...context.taskNames, ...reversals.map((t) => t.task)],
      refunds: context.refunds.map((r) =>
        r.refundNo === event.refundNo
          ? {
              ...r,
              status: attention ? ('attention' as const) : ('succeeded' as const),
              legs: r.legs.map((l) => ({ ...l, status: refundLegStatus(l.method, event.legStatus[l.legNo] ?? l.status) })),
              couponsRestored: event.couponsRestored,
              couponsExpired: event.couponsExpired,
              ...(refused.length ? { benefitRefusals: refused } : {}),
            }
          : r,
      ),
    });
  });

export const routeRefundCallback = transactionSetup.enqueueActions(({ context, event, enqueue }) => {
    if (event.type !== 'REFUND_CALLBACK') return;
    const refund = context.refunds.find((r) => r.legs.some((l) => l.refundLegNo === event.refundLegNo));
    // A refund re-driven by a nudge has ended as an actor: its legs run on their own.
    const redriven = refund?.legs.some((l) => context.redrives[l.refundLegNo]);
    if (redriven && refund?.legs.some((l) => l.refundLegNo === event.refundLegNo && l.status === 'pending' && context.redrives[l.refundLegNo])) {
      enqueue.sendTo(redriveId(event.refundLegNo), { type: 'REFUND_CALLBACK' });
    } else if (refund?.status === 'processing' && !redriven) enqueue.sendTo(`refund-${refund.refundNo}`, { type: 'REFUND_CALLBACK', refundLegNo: event.refundLegNo });
    const givingBack = context.legs.find((l) => l.giveBack?.refundNo === event.refundLegNo && l.giveBack.status === 'pending');
    if (givingBack) enqueue.sendTo(giveBackId(givingBack.legId), { type: 'REFUND_CALLBACK' });
  });

  // Captured money goes back by a refund at the gateway, followed by a child until the channel
  // has paid it (callback or query), asked again when the channel fails it, and left to a person
  // when it keeps failing: accepted is not done, a refund the channel fails is money still owed.
export const giveBackCapturedLegs = transactionSetup.enqueueActions(({ context, enqueue }) => {
    for (const g of giveBacks(context, legsToGiveBack(context), 'C')) {
      enqueue.assign(({ context: c }) => ({ legs: legStatus(c.legs, g.legId, { giveBack: { refundNo: g.input.refundLegNo, status: 'pending' } }) }));
      enqueue.spawnChild('refundLeg', { id: giveBackId(g.legId), input: g.input });
    }
  });

export const giveBackLatePayment = transactionSetup.enqueueActions(({ context, event, enqueue }) => {
    if (event.type !== 'LATE_PAYMENT_CONFIRMED') return;
    for (const g of giveBacks(context, context.legs.filter((l) => l.legId === event.legId), 'L')) {
      enqueue.assign(({ context: c }) => ({ legs: legStatus(c.legs, g.legId, { giveBack: { refundNo: g.input.refundLegNo, status: 'pending' } }) }));
      enqueue.spawnChild('refundLeg', { id: giveBackId(g.legId), input: g.input });
    }
  });

export const givenBack = transactionSetup.assign(({ context, event }) => {
    if (event.type !== 'RLEG_DONE') return {};
    // A give-back is known by its refund number (a leg's number alone could be a re-driven refund's).
    const leg = context.legs.find((l) => l.giveBack && (event.refundLegNo ? l.giveBack.refundNo === event.refundLegNo : l.legNo === event.legNo));
    if (!leg?.giveBack) return {};
    const giveBack = { ...leg.giveBack, status: event.status };
    return {
      legs: legStatus(context.legs, leg.legId, event.status === 'succeeded' ? { status: 'refunded', giveBack } : { giveBack }),
      needsAttention: context.needsAttention || event.status === 'attention',
    };
  });

export const forgetLateLeg = transactionSetup.assign(({ context, event }) => ('legId' in event ? { lateLegs: context.lateLegs.filter((l) => l !== event.legId) } : {}));

export const armQuery = transactionSetup.assign(({ context, event }) =>
    event.type === 'LEG_PENDING' ? { timers: { ...context.timers, [`${QUERY_TIMER}${event.legId}`]: event.at + context.queryAfterMs } } : {},
  );

export const clearQuery = transactionSetup.assign(({ context, event }) => {
    if (!('legId' in event)) return {};
    const { [`${QUERY_TIMER}${event.legId}`]: _dropped, ...rest } = context.timers;
    return { timers: rest };
  });

export const queryLeg = transactionSetup.enqueueActions(({ context, event, enqueue }) => {
    if (event.type !== 'TIMER') return;
    const legId = event.name.slice(QUERY_TIMER.length);
    if (context.legs.some((l) => l.legId === legId && l.status === 'pending' && l.started)) enqueue.sendTo(legId, { type: 'QUERY' });
  });

export const rearmQuery = transactionSetup.assign(({ context, event }) => {
    if (event.type !== 'TIMER') return {};
    const attempt = (context.attempts[event.name] ?? 0) + 1;
    const wait = Math.min(context.queryAfterMs * 2 ** attempt, 10 * 60_000);
    return { attempts: { ...context.attempts, [event.name]: attempt }, timers: { ...context.timers, [event.name]: event.at + wait } };
  });

export const legLocked = transactionSetup.assign(({ context, event }) => (event.type === 'LEG_LOCKED' ? { legs: legStatus(context.legs, event.legId, { status: 'locked' }) } : {}));

export const legPending = transactionSetup.assign(({ context, event }) =>
    event.type === 'LEG_PENDING' ? { legs: legStatus(context.legs, event.legId, { status: 'pending', payUrl: event.payUrl }) } : {},
  );

export const legSucceeded = transactionSetup.assign(({ context, event }) =>
    event.type === 'LEG_SUCCEEDED'
      ? { legs: legStatus(context.legs, event.legId, { status: 'succeeded', ...(event.channelTradeNo ? { channelTradeNo: event.channelTradeNo } : {}) }) }
      : {},
  );

export const legReleased = transactionSetup.assign(({ context, event }) => {
    if (event.type !== 'LEG_RELEASED') return {};
    const status = event.phase === 'close' ? 'closed' : 'failed';
    return {
      legs: legStatus(context.legs, event.legId, { status, ...(event.attention ? { capturedOtherwise: true } : {}) }),
      outcome: context.outcome ?? event.refusal,
      confirmFailed: context.confirmFailed || event.phase === 'confirm',
      needsAttention: context.needsAttention || event.attention === true,
    };
  });

export const notePaid = transactionSetup.assign(({ context, event }) => ({
    // With no legs (nothing to pay) the sale is paid by the PAY itself.
    paidAt: context.paidAt ?? new Date((event.type === 'LEG_SUCCEEDED' || event.type === 'PAY') && event.at ? event.at : Date.parse(context.createdAt)).toISOString(),
  }));

/** The post-payment tasks, asked for as soon as the money is in (they need nothing of what follows). */
export const enqueuePostPaymentTasks = transactionSetup.enqueueActions(({ context, enqueue }) => {
  const tasks = postPaymentTasks(context);
  enqueue.emit({ type: 'tasksAsked', tasks });
  enqueue.assign({ taskNames: tasks.map((t) => t.task) });
});

export const taskDone = transactionSetup.assign(({ context, event }) => (event.type === 'TASK_DONE' ? { deadTasks: context.deadTasks.filter((t) => t !== event.task) } : {}));

export const taskDead = transactionSetup.assign(({ context, event }) =>
  event.type === 'TASK_DEAD' ? { deadTasks: context.deadTasks.includes(event.task) ? context.deadTasks : [...context.deadTasks, event.task] } : {},
);
