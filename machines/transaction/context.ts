import { refusal, type Refusal } from '../../domain/errors.ts';
import type { QuoteLine } from '../../domain/pricing/types.ts';
import type { CallResult } from '../calls.ts';
import type { LegInput } from '../payment-leg.machine.ts';
import { planRefund } from '../refund-plan.ts';
import type { RefundLegInput } from '../refund-leg.machine.ts';
import { ASYNC_METHODS, paidMethod, type BenefitHold, type LegView, type RefundView, type TxnContext, type TxnEvent } from '../types.ts';

/**
 * What the transaction machine reads of its context, named once: the guards, actions and call
 * inputs (machines/transaction/) are written with these.
 */

/** The arguments XState gives a guard or an action of the transaction machine. */
export interface TxnArgs {
  context: TxnContext;
  event: TxnEvent;
}
/** What a call of the machine answers its `onDone` with. */
export type Done<T> = { output: CallResult<T> };

export function combo(context: TxnContext, comboId: string) {
  return context.quote.combos.find((c) => c.comboId === comboId);
}

/** Legs of the latest payment attempt: the only ones that still decide the outcome. */
export function currentLegs(context: TxnContext): LegView[] {
  const attempt = Math.max(0, ...context.legs.map((l) => l.attempt));
  return context.legs.filter((l) => l.attempt === attempt);
}

export function legStatus(legs: LegView[], legId: string, patch: Partial<LegView>): LegView[] {
  return legs.map((l) => (l.legId === legId ? { ...l, ...patch } : l));
}

export function legInput(context: TxnContext, leg: LegView): LegInput {
  return {
    txnNo: context.txnNo,
    legId: leg.legId,
    paymentNo: leg.paymentNo,
    merchantId: context.merchantId,
    method: paidMethod(leg.method),
    amountFen: leg.amount,
    ...(leg.cardNo ? { cardNo: leg.cardNo } : {}),
    expiresAt: context.expiresAt ?? context.createdAt,
  };
}

/** Durable timer of a pending async leg's next gateway query: `query:<legId>`. */
export const QUERY_TIMER = 'query:';

export const ENDED: LegView['status'][] = ['succeeded', 'failed', 'closed', 'refunded'];

/** Captured async legs that must be given back while unwinding (and are not yet). */
export function legsToGiveBack(context: TxnContext): LegView[] {
  return context.legs.filter((l) => l.status === 'succeeded' && ASYNC_METHODS.includes(l.method) && !l.giveBack);
}

/** Child actor id of the refund giving a leg's money back. */
export const giveBackId = (legId: string) => `giveback-${legId}`;

/** Child actor id of a refund's leg started again by a nudge after it waited for a person. */
export const redriveId = (refundLegNo: string) => `redrive-${refundLegNo}`;

export function giveBackInput(context: TxnContext, l: LegView, refundLegNo: string, round = 0): RefundLegInput {
  return { txnNo: context.txnNo, refundLegNo, legNo: l.legNo, method: l.method, paymentNo: l.paymentNo, amountFen: l.amount, queryAfterMs: context.queryAfterMs, ...(round ? { round } : {}) };
}

/**
 * The refunds that give `legs` back (those not already being given back), as refund-leg inputs:
 * refund number `T…-P<n>-C` when unwinding, `T…-P<n>-L` for a payment captured after its close.
 */
export function giveBacks(context: TxnContext, legs: LegView[], kind: 'C' | 'L'): { legId: string; input: RefundLegInput }[] {
  return legs.filter((l) => !l.giveBack).map((l) => ({ legId: l.legId, input: giveBackInput(context, l, `${l.paymentNo}-${kind}`) }));
}

/**
 * A closed async leg the channel may have captured after all (a late callback, a nudge): not
 * already being checked or given back, and not captured otherwise (that one is a person's).
 */
export function mayBeCapturedAfterClose(context: TxnContext, leg: LegView): boolean {
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
export function refundStatusOf(legs: RefundView['legs']): RefundView['status'] {
  // Cash to pay out at the station is done as far as the platform goes (machines/types.ts RefundLegStatus).
  if (legs.every((l) => l.status === 'succeeded' || l.status === 'to_pay_at_station')) return 'succeeded';
  return legs.some((l) => l.status === 'pending') ? 'processing' : 'attention';
}

export function refundRefusal(context: TxnContext, event: TxnEvent): Refusal {
  const planned = event.type === 'REFUND' ? planRefund(context, event) : null;
  return planned && !planned.ok ? planned.refusal : refusal('INVALID_REQUEST');
}

export function lineDescription(l: QuoteLine): string {
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
export function awaitsAnswer(context: TxnContext, refundNo: string): boolean {
  return context.refunds.at(-1)?.refundNo === refundNo;
}

/** The context patch that answers the waiting command with success. */
export function answerOk(context: TxnContext): Partial<TxnContext> {
  return context.pendingRequestId ? { reply: { requestId: context.pendingRequestId, ok: true }, pendingRequestId: null } : {};
}

/** The holds an order takes, from its combination and lines. */
export function holdsFor(context: TxnContext, orderNo: string, comboId: string): BenefitHold[] {
  const chosen = combo(context, comboId);
  const holds: BenefitHold[] = [];
  if (chosen?.couponIds.length) holds.push({ resource: 'coupon', lockKey: `${orderNo}:coupon`, status: 'pending', couponIds: chosen.couponIds });
  if (chosen?.points) holds.push({ resource: 'points', lockKey: `${orderNo}:points`, status: 'pending', points: chosen.points });
  const items = context.quote.lines.flatMap((l) => (l.type === 'goods' ? [{ sku: l.sku, quantity: l.quantity }] : []));
  if (items.length) holds.push({ resource: 'goods', lockKey: `${orderNo}:goods`, status: 'pending', items });
  return holds;
}

/** The try of the next pending hold: before the order in pre mode, after payment in post mode. */
export function lockHoldInput(context: TxnContext) {
  const hold = nextPending(context)!;
  return { key: { txnNo: context.txnNo, step: `${hold.lockKey}:lock` }, request: { hold, userId: context.userId, stationId: context.stationId } };
}

export const nextPending = (c: TxnContext) => c.holds.find((h) => h.status === 'pending');
export const nextLocked = (c: TxnContext) => c.holds.find((h) => h.status === 'locked');
/** Compensation runs newest-first. */
export const newestLocked = (c: TxnContext) => [...c.holds].reverse().find((h) => h.status === 'locked');

export function withHoldStatus(holds: BenefitHold[], lockKey: string, status: BenefitHold['status']): BenefitHold[] {
  return holds.map((h) => (h.lockKey === lockKey ? { ...h, status } : h));
}

// ── inputs of the calls the machine invokes, keyed `txnNo:step` (DESIGN.md rule 3) ──

/** The order system's create of the placed order: its lines with their nets after the chosen combination. */
export function createOrderInput(context: TxnContext) {
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
}

/** The confirm of the oldest locked hold, once the money is in. */
export function confirmHoldInput(context: TxnContext) {
  const hold = nextLocked(context)!;
  return { key: { txnNo: context.txnNo, step: `${hold.lockKey}:confirm` }, request: { hold } };
}

/** The credit of the next paid top-up to its card, bonus included. */
export function creditTopUpInput(context: TxnContext) {
  const topUp = context.topUps.find((t) => t.status === 'pending')!;
  return {
    key: { txnNo: context.txnNo, step: `${context.order!.orderNo}:topup:${topUp.lineNo}` },
    request: { cardNo: topUp.cardNo, creditNo: `${context.order!.orderNo}-T${topUp.lineNo}`, amountFen: topUp.amountFen + topUp.bonusFen, reason: 'top-up' as const },
  };
}

/** Marks the order paid at the order system (a core step: retried until it lands). */
export function markOrderPaidInput(context: TxnContext) {
  return {
    key: { txnNo: context.txnNo, step: `order:paid:${context.order!.orderNo}` },
    request: { orderNo: context.order!.orderNo, paidAmountFen: context.order!.payableAmount },
  };
}

/** The release of the newest locked hold (compensation runs newest-first). */
export function releaseHoldInput(context: TxnContext) {
  const hold = newestLocked(context)!;
  return { key: { txnNo: context.txnNo, step: `${hold.lockKey}:release` }, request: { hold } };
}

/** The cancel of the order at the order system (also of one never created: an empty rollback). */
export function cancelOrderInput(context: TxnContext) {
  return {
    key: { txnNo: context.txnNo, step: `order:cancel:${context.order!.orderNo}` },
    request: { orderNo: context.order!.orderNo, reason: context.outcome?.message ?? 'cancelled' },
  };
}
