import { refusal, type Refusal } from '../domain/errors.ts';
import { allocateRefund, pointsToReturn, refundableByLines, topUpDebitFen } from '../domain/refund-allocation.ts';
import { isImported } from './post-payment-tasks.ts';
import { debitIds, type RefundInput } from './refund.machine.ts';
import type { RefundView, TopUpDebitView, TxnCommand, TxnContext } from './types.ts';

type RefundCommand = Extract<TxnCommand, { type: 'REFUND' }>;

export interface RefundPlan {
  view: RefundView;
  input: Omit<RefundInput, 'queryAfterMs'>;
}

/** The legs that paid for the sale: the latest attempt's, all succeeded once completed. */
function paidLegs(context: TxnContext) {
  const attempt = Math.max(0, ...context.legs.map((l) => l.attempt));
  return context.legs.filter((l) => l.attempt === attempt && l.status === 'succeeded');
}

const counted = (context: TxnContext) => context.refunds.filter((r) => r.status !== 'rejected');

/**
 * Plans one refund (DOMAIN.md "Refund"): how much, from which money legs (largest remainder on
 * the cumulative refunded amount), which lines, how many points go back, whether the coupons go
 * back (full refund only), and whether a top-up must be debited from its card first.
 * Pure: the machine calls it in a guard and again in the action, and both see the same answer.
 */
export function planRefund(context: TxnContext, event: RefundCommand): { ok: true; plan: RefundPlan } | { ok: false; refusal: Refusal } {
  const legs = paidLegs(context);
  const paidTotal = legs.reduce((a, l) => a + l.amount, 0);
  const previous = counted(context);
  const refundedSoFar = previous.reduce((a, r) => a + r.amount, 0);
  const remaining = paidTotal - refundedSoFar;
  const combo = context.quote.combos.find((c) => c.comboId === context.order?.comboId);
  const topUpLines = context.quote.lines.filter((l) => l.type === 'stored_value');
  const refundedOfLine = (lineNo: number) => previous.flatMap((r) => r.lines).filter((l) => l.lineNo === lineNo);

  let amount: number;
  let lines: RefundView['lines'] = [];
  if (event.lines?.length) {
    const result = refundableByLines(
      context.quote.lines.map((l) => ({
        lineNo: l.lineNo,
        type: l.type,
        ...(l.type === 'goods' ? { quantity: l.quantity } : {}),
        amount: l.amount,
        netAmount: combo?.lineNets[l.lineNo] ?? l.amount,
        refundedFen: refundedOfLine(l.lineNo).reduce((a, x) => a + x.amountFen, 0),
        refundedQuantity: refundedOfLine(l.lineNo).reduce((a, x) => a + (x.quantity ?? 0), 0),
      })),
      event.lines,
    );
    if (!result.ok) return { ok: false, refusal: refusal(result.code, result.message) };
    lines = result.lines;
    amount = lines.reduce((a, l) => a + l.amountFen, 0);
  } else if (event.amountFen !== undefined) {
    // A top-up is refunded by its line: an amount cannot say how much of it is card credit.
    if (topUpLines.length) return { ok: false, refusal: refusal('INVALID_REQUEST', 'this sale includes a stored-value top-up: refund it by lines, or refund everything') };
    amount = event.amountFen;
  } else {
    amount = remaining;
    lines = context.quote.lines
      .map((l) => ({ lineNo: l.lineNo, amountFen: (combo?.lineNets[l.lineNo] ?? l.amount) - refundedOfLine(l.lineNo).reduce((a, x) => a + x.amountFen, 0) }))
      .filter((l) => l.amountFen > 0);
  }
  if (amount <= 0 || amount > remaining) {
    return { ok: false, refusal: refusal('REFUND_EXCEEDS_PAID', `${amount} fen asked, ${remaining} fen left to refund`, { remaining }) };
  }

  const refundedPerLeg = (legNo: number) => previous.flatMap((r) => r.legs).filter((l) => l.legNo === legNo).reduce((a, l) => a + l.amount, 0);
  const shares = allocateRefund({
    legs: legs.map((l) => ({ legNo: l.legNo, paidFen: l.amount, refundedFen: refundedPerLeg(l.legNo) })),
    amountFen: amount,
    policy: context.refundPolicy,
    methods: Object.fromEntries(legs.map((l) => [l.legNo, l.method])),
  }).filter((s) => s.amountFen > 0);
  const refundLegs = shares.map((s, i) => {
    const leg = legs.find((l) => l.legNo === s.legNo)!;
    return { legNo: leg.legNo, refundLegNo: `${event.refundNo}-${i + 1}`, method: leg.method, paymentNo: leg.paymentNo, amount: s.amountFen, ...(leg.cardNo ? { cardNo: leg.cardNo } : {}) };
  });

  // Each refunded top-up is taken back from its own card, with its share of the bonus; one the
  // card system refused to credit never reached the card, and its money goes back as it is.
  const perCard: { cardNo: string; amountFen: number }[] = [];
  for (const l of lines) {
    const line = topUpLines.find((t) => t.lineNo === l.lineNo);
    const credit = context.topUps.find((t) => t.lineNo === l.lineNo);
    if (line?.type !== 'stored_value' || credit?.status !== 'credited') continue;
    const bonus = credit.bonusFen;
    const before = refundedOfLine(l.lineNo).reduce((a, x) => a + x.amountFen, 0);
    const debit = topUpDebitFen(combo?.lineNets[line.lineNo] ?? line.amount, bonus, before, l.amountFen);
    const sameCard = perCard.find((d) => d.cardNo === line.cardNo);
    if (sameCard) sameCard.amountFen += debit;
    else if (debit > 0) perCard.push({ cardNo: line.cardNo, amountFen: debit });
  }
  const topUpDebits: TopUpDebitView[] = perCard.map((d, i) => ({ debitNo: debitIds(event.refundNo, i).debitNo, cardNo: d.cardNo, amountFen: d.amountFen, status: 'pending' }));
  const topUpDebitTotal = perCard.reduce((a, d) => a + d.amountFen, 0);

  const pointsHold = context.holds.find((h) => h.resource === 'points' && h.status === 'confirmed');
  const couponHold = context.holds.find((h) => h.resource === 'coupon' && h.status === 'confirmed');
  const full = refundedSoFar + amount === paidTotal;
  const points = pointsToReturn(pointsHold?.points ?? 0, refundedSoFar + amount, paidTotal, previous.reduce((a, r) => a + r.pointsReturned, 0));

  const view: RefundView = {
    refundNo: event.refundNo,
    amount,
    reason: event.reason,
    status: 'requested',
    requestedAt: new Date(event.at).toISOString(),
    legs: refundLegs.map((l) => ({ legNo: l.legNo, refundLegNo: l.refundLegNo, method: l.method, amount: l.amount, status: 'pending' })),
    lines,
    pointsReturned: points,
    couponsRestored: [],
    couponsExpired: [],
    topUpDebitFen: topUpDebitTotal,
    topUpDebits,
    // An imported order's sale was recorded by OS, not by settlement or invoice: nothing to reverse there.
    reversals: isImported(context)
      ? []
      : [
          { system: 'settlement', status: 'recorded' },
          { system: 'invoice', status: 'recorded' },
        ],
  };
  return {
    ok: true,
    plan: {
      view,
      input: {
        txnNo: context.txnNo,
        refundNo: event.refundNo,
        userId: context.userId,
        legs: refundLegs.map((l) => ({ refundLegNo: l.refundLegNo, legNo: l.legNo, method: l.method, paymentNo: l.paymentNo, amountFen: l.amount, ...(l.cardNo ? { cardNo: l.cardNo } : {}) })),
        topUpDebits,
        pointsToReturn: points,
        couponsToRestore: full ? (couponHold?.couponIds ?? []) : [],
      },
    },
  };
}
