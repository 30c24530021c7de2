import type { TaskSpec } from './task-spec.ts';
import { capturedLegs, OS_TERMINAL_SCENE, type RefundView, type TxnContext } from './types.ts';

/**
 * The post-payment work of a sale (DOMAIN.md systems and tiers), as durable tasks keyed
 * `txnNo:task`. None of it can undo the payment (DESIGN.md rule 6): settlement must eventually
 * succeed and waits for a person when its attempts run out; push and notify are best effort; the
 * rest retry with backoff and then wait for a manual retry. The OS sync is no task: the order's
 * events go to its station's ordered outbox with the saves (runtime/os-events.ts, runtime/os-sync.ts);
 * the `os-sync` task earlier versions asked for is retired ({@link RETIRED_TASK_KINDS}).
 */
const ATTEMPTS = { mustSucceed: 8, normal: 5, bestEffort: 3 } as const;

/** One point and one growth per yuan paid. */
const perYuan = (fen: number) => Math.floor(fen / 100);

function spec(task: string, system: string, maxAttempts: number, payload: Record<string, unknown>, kind = task): TaskSpec {
  return { task, kind, system, core: false, maxAttempts, payload };
}

export function postPaymentTasks(c: TxnContext): TaskSpec[] {
  const order = c.order!;
  const paid = c.legs.filter((l) => l.status === 'succeeded');
  const amountFen = paid.reduce((a, l) => a + l.amount, 0);
  const combo = c.quote.combos.find((x) => x.comboId === order.comboId);
  const base = { txnNo: c.txnNo, orderNo: order.orderNo, userId: c.userId, stationId: c.stationId, merchantId: c.merchantId, amountFen };
  return [
    spec('settlement', 'settlement', ATTEMPTS.mustSucceed, { ...base, legs: paid.map((l) => ({ method: l.method, amountFen: l.amount })) }),
    spec('marketing', 'marketing', ATTEMPTS.normal, { ...base, discounts: (combo?.discounts ?? []).map((d) => ({ kind: d.kind, ...('id' in d ? { id: d.id } : {}), amountFen: d.amount })) }),
    spec('campaign', 'campaign', ATTEMPTS.normal, base),
    spec('points-award', 'points', ATTEMPTS.normal, { userId: c.userId, points: perYuan(amountFen) }),
    spec('growth', 'level', ATTEMPTS.normal, { userId: c.userId, growth: perYuan(amountFen) }),
    spec('invoice', 'invoice', ATTEMPTS.normal, base),
    spec('push', 'push', ATTEMPTS.bestEffort, { stationId: c.stationId, message: `order ${order.orderNo} paid: ${amountFen} fen` }),
    spec('notify', 'notify', ATTEMPTS.bestEffort, { userId: c.userId, message: `Thank you: ${amountFen} fen paid at ${c.stationId}` }),
    // Virtual items are delivered by the fulfilment hook their code names.
    ...c.quote.lines.flatMap((l) =>
      l.type === 'virtual' ? [spec(`fulfil:${l.lineNo}`, 'fulfilment', ATTEMPTS.mustSucceed, { txnNo: c.txnNo, lineNo: l.lineNo, userId: c.userId, code: l.code, amountFen: l.amount }, 'fulfil-virtual')] : [],
    ),
  ];
}

/**
 * Reversal records a finished refund owes (DOMAIN.md "Refund"): settlement, invoice, marketing, and
 * the rewards. None for an order imported from OS: those systems never recorded its sale (OS did),
 * so there is nothing of theirs to reverse (docs/os-import.md says what the station does instead).
 */
export function refundReversalTasks(c: TxnContext, refund: RefundView): TaskSpec[] {
  if (isImported(c)) return [];
  const paidTotal = capturedLegs(c.legs).reduce((a, l) => a + l.amount, 0);
  const refundedBefore = c.refunds.filter((r) => r.refundNo !== refund.refundNo && r.status === 'succeeded').reduce((a, r) => a + r.amount, 0);
  const full = refundedBefore + refund.amount >= paidTotal;
  // Rewards awarded on the paid amount are reversed in proportion to what this refund gives back.
  const share = (awarded: number) => Math.floor((awarded * (refundedBefore + refund.amount)) / paidTotal) - Math.floor((awarded * refundedBefore) / paidTotal);
  const base = { txnNo: c.txnNo, refundNo: refund.refundNo, amountFen: refund.amount, userId: c.userId };
  const tasks = [
    spec(`order-refunded:${refund.refundNo}`, 'order', ATTEMPTS.mustSucceed, { ...base, orderNo: c.order!.orderNo }, 'order-refunded'),
    spec(`settlement-reverse:${refund.refundNo}`, 'settlement', ATTEMPTS.mustSucceed, base, 'settlement-reverse'),
    spec(`invoice-reverse:${refund.refundNo}`, 'invoice', ATTEMPTS.normal, base, 'invoice-reverse'),
    spec(`marketing-reverse:${refund.refundNo}`, 'marketing', ATTEMPTS.normal, base, 'marketing-reverse'),
    spec(`points-reverse:${refund.refundNo}`, 'points', ATTEMPTS.normal, { ...base, points: share(perYuan(paidTotal)) }, 'points-reverse'),
    spec(`growth-reverse:${refund.refundNo}`, 'level', ATTEMPTS.normal, { ...base, growth: share(perYuan(paidTotal)) }, 'growth-reverse'),
  ];
  if (full) tasks.push(spec(`campaign-reverse:${refund.refundNo}`, 'campaign', ATTEMPTS.normal, base, 'campaign-reverse'));
  return tasks;
}

/**
 * Task kinds earlier versions asked for and this one does not. Their rows may still be in a
 * store (pending, retrying, dead) and their names in stored snapshots (migrated away on restore,
 * machines/migrations/transaction-v3-to-v4.ts): each such row, when run, is done at once
 * without a call (runtime/task-handlers.ts), its work being done elsewhere now.
 */
export const RETIRED_TASK_KINDS = {
  /**
   * `syncOrder` once per paid order, unordered and blind to the group switch: the per-station
   * ordered outbox of order events replaced it (issue 20). The transaction's events reach its
   * outbox with its next save, which the task's TASK_DONE brings.
   */
  'os-sync': 'the order events go through the station outbox (runtime/os-sync.ts)',
} as const satisfies Record<string, string>;

/** Why a task kind is retired, or null for a kind of this version. */
export function retiredTaskKind(kind: string): string | null {
  return Object.hasOwn(RETIRED_TASK_KINDS, kind) ? RETIRED_TASK_KINDS[kind as keyof typeof RETIRED_TASK_KINDS] : null;
}

/** An order imported from OS's history: its post-payment work happened at OS, none here. */
export function isImported(c: Pick<TxnContext, 'scene'>): boolean {
  return c.scene === OS_TERMINAL_SCENE;
}
