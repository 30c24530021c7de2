import type { TxnContext } from '../machines/types.ts';
import type { TaskRecord } from '../storage/types.ts';

/** The transaction view of API.md: what every endpoint returns about a transaction. */
export interface TransactionView {
  txnNo: string;
  orderNo: string | null;
  state: string;
  stateValue: unknown;
  scene: string;
  merchantId: string;
  stationId: string;
  userId: string;
  quote: TxnContext['quote'];
  comboId: string | null;
  originalAmount: number;
  discountAmount: number;
  payableAmount: number;
  paidAmount: number;
  /** Sum of the refunds accepted so far (being paid back or paid back). */
  refundedAmount: number;
  /** Each refund with its money legs and, for a refunded top-up, each card's debit (`topUpDebits`). */
  refunds: TxnContext['refunds'];
  /** Something waits for a person (a refund leg out of attempts, captured money the channel would not give back, a top-up that could not be credited). */
  needsAttention: boolean;
  /** Coupons, points and stock the order holds, and what became of them. */
  holds: TxnContext['holds'];
  /** A post-mode benefit could not be taken after payment: a person should look at this sale. */
  needsReview: boolean;
  legs: {
    legNo: number;
    attempt: number;
    method: string;
    amount: number;
    status: string;
    paymentNo: string;
    cardNo?: string;
    payUrl?: string;
    channelTradeNo?: string;
    /** Captured money of a sale that did not happen, on its way back (see LegView.giveBack). */
    giveBack?: { refundNo: string; status: string };
  }[];
  expiresAt: string | null;
  paidAt: string | null;
  outcome: { code: string; message: string } | null;
  createdAt: string;
  updatedAt: string;
  version: number;
}

/**
 * The API state (API.md "Transaction states") of a statechart value. Working states between two
 * API states report the state the transaction is still in: placing an order is still `quoted`;
 * unwinding is still where it started until it reaches `quoted`, `cancelled` or `failed`.
 */
export function apiState(value: unknown, context: TxnContext): string {
  const top = topState(value);
  if (top === 'ordering') return 'quoted';
  if (top === 'unwinding') return context.unwindTo === 'quoted' || !context.order ? 'quoted' : context.legs.length ? 'paying' : 'ordered';
  return top;
}

export function topState(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') return Object.keys(value)[0] ?? 'unknown';
  return 'unknown';
}

/** A person must look at the transaction: the machine flagged it, or a post-payment task is dead. */
export function needsAttention(context: TxnContext): boolean {
  return context.needsAttention || context.deadTasks.length > 0;
}

export function buildView(context: TxnContext, stateValue: unknown, version: number, updatedAtMs: number): TransactionView {
  const combo = context.order ? context.quote.combos.find((c) => c.comboId === context.order?.comboId) : undefined;
  const state = apiState(stateValue, context);
  return {
    txnNo: context.txnNo,
    orderNo: context.order?.orderNo ?? null,
    state,
    stateValue,
    scene: context.scene,
    merchantId: context.merchantId,
    stationId: context.stationId,
    userId: context.userId,
    quote: context.quote,
    comboId: context.order?.comboId ?? null,
    originalAmount: context.quote.originalAmount,
    discountAmount: combo?.discountAmount ?? 0,
    payableAmount: combo?.payableAmount ?? 0,
    paidAmount: context.legs.filter((l) => l.status === 'succeeded').reduce((a, l) => a + l.amount, 0),
    refundedAmount: context.refunds.filter((r) => r.status !== 'rejected' && r.status !== 'requested').reduce((a, r) => a + r.amount, 0),
    // A refund stored before debits were itemised (issue 15) lists none; its total stays in topUpDebitFen.
    refunds: context.refunds.map((r) => (r.topUpDebits ? r : { ...r, topUpDebits: [] })),
    needsAttention: needsAttention(context),
    holds: context.holds,
    needsReview: context.needsReview,
    legs: context.legs.map((l) => ({
      legNo: l.legNo,
      attempt: l.attempt,
      method: l.method,
      amount: l.amount,
      status: l.status,
      paymentNo: l.paymentNo,
      ...(l.cardNo ? { cardNo: l.cardNo } : {}),
      ...(l.payUrl ? { payUrl: l.payUrl } : {}),
      ...(l.channelTradeNo ? { channelTradeNo: l.channelTradeNo } : {}),
      ...(l.giveBack ? { giveBack: l.giveBack } : {}),
    })),
    expiresAt: context.expiresAt,
    paidAt: context.paidAt,
    outcome: context.outcome ? { code: context.outcome.code, message: context.outcome.message } : null,
    createdAt: context.createdAt,
    updatedAt: new Date(updatedAtMs).toISOString(),
    version,
  };
}

/** A post-payment task as the transaction view lists it. */
export interface TaskView {
  task: string;
  system: string;
  status: string;
  attempts: number;
  maxAttempts: number;
  lastError: string | null;
  nextRunAt: string | null;
}

/** A stored task as the view lists it: status, attempts, last error, next run. */
export function taskView(t: TaskRecord): TaskView {
  return {
    task: t.task,
    system: t.system,
    status: t.status,
    attempts: t.attempts,
    maxAttempts: t.maxAttempts,
    lastError: t.lastError,
    nextRunAt: t.nextRunAt === null ? null : new Date(t.nextRunAt).toISOString(),
  };
}
