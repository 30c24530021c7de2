import type { Outcome, Refusal } from '../domain/errors.ts';
import type { Quote } from '../domain/pricing/types.ts';
import type { TaskSpec } from './task-spec.ts';

/** Money methods (DOMAIN.md "Payment"). */
export type PaymentMethod = 'stored_value' | 'wechat' | 'alipay' | 'unionpay' | 'senseless';
const ASYNC: readonly PaymentMethod[] = ['wechat', 'alipay', 'unionpay', 'senseless'];
export const ASYNC_METHODS: readonly LegMethod[] = ASYNC;
export const PAYMENT_METHODS: readonly PaymentMethod[] = ['stored_value', ...ASYNC];

/** The leg's method as a method paid here; a cash leg (imported, never paid here) is a bug to be asked to pay. */
export function paidMethod(method: LegMethod): PaymentMethod {
  if (method === 'cash') throw new Error('a cash leg of an imported order is never paid here');
  return method;
}

/**
 * The method of a leg the transaction records: a money method, or `cash`, never paid here: the
 * cash payment of an order imported from OS's history, refunded as cash paid out at the station.
 */
export type LegMethod = PaymentMethod | 'cash';

/**
 * The scene of every order imported from OS's history (runtime/os-order-entry.ts): sold at an OS
 * dual-screen terminal, its post-payment work (settlement, invoice, points, …) done by OS, so a
 * refund of it here owes no reversal to those systems (docs/os-import.md).
 */
export const OS_TERMINAL_SCENE = 'os_terminal';

/** The legs whose money was captured: succeeded, or since refunded. */
export function capturedLegs<L extends { status: string }>(legs: readonly L[]): L[] {
  return legs.filter((l) => l.status === 'succeeded' || l.status === 'refunded');
}

/** Status of one payment leg as the API shows it. */
export type LegStatus = 'pending' | 'locked' | 'succeeded' | 'failed' | 'closed' | 'refunded';

/** The transaction's record of one payment leg; the leg's own actor holds the working state. */
export interface LegView {
  legNo: number;
  /** Which payment attempt of the order this leg belongs to; a refused attempt leaves its legs behind. */
  attempt: number;
  /** Child actor id, `leg-<legNo>`. */
  legId: string;
  /** `txnNo-P<legNo>`: the gateway's merchant order number and the card lock key. */
  paymentNo: string;
  method: LegMethod;
  amount: number;
  cardNo?: string;
  status: LegStatus;
  /** The leg's child actor has been started (async legs start once every sync leg is locked). */
  started: boolean;
  payUrl?: string;
  channelTradeNo?: string;
  /**
   * Money this leg captured for a sale that did not happen, being given back by a refund at the
   * gateway (`T…-P<n>-C` when unwinding, `T…-P<n>-L` for a payment captured after its close).
   * The leg is `refunded` only once the channel has paid it back; `attention`: the channel kept
   * failing the refund and a person must settle it.
   */
  giveBack?: { refundNo: string; status: 'pending' | 'succeeded' | 'attention' };
  /**
   * The channel captured this leg otherwise than asked (another amount or merchant): a person
   * decides, so no late query or callback gives it back automatically.
   */
  capturedOtherwise?: boolean;
}

/** A benefit the order takes from a downstream system (DOMAIN.md "Deduction modes"). */
export type HoldResource = 'coupon' | 'points' | 'goods';

/**
 * One TCC hold of the order: locked at order time in `pre` mode (taken after payment in `post`
 * mode), confirmed after payment, released on cancel, failure or expiry. `shortfall` records a
 * post-mode benefit that was gone by the time the payment arrived: flagged, never ignored.
 */
export interface BenefitHold {
  resource: HoldResource;
  /** `orderNo:resource`: the TCC identity at the callee. */
  lockKey: string;
  status: 'pending' | 'locked' | 'confirmed' | 'released' | 'shortfall';
  couponIds?: string[];
  points?: number;
  items?: { sku: string; quantity: number }[];
}

/** A stored-value top-up of the order, credited to its card after payment (a core step). */
export interface TopUpCredit {
  lineNo: number;
  cardNo: string;
  amountFen: number;
  /** Top-up bonus credited with it. */
  bonusFen: number;
  /** `refused`: the card system refused the credit (the card is gone); the sale needs a person. */
  status: 'pending' | 'credited' | 'refused';
}

/**
 * One card debit of a refunded top-up (API.md: a refund's `topUpDebits`): the first card's is
 * the call `R…:debit` with debit number `R…-D`, the n-th card's `R…:debit:n` with `R…-Dn`.
 * `skipped`: never asked, because an earlier card refused its debit and the refund was rejected;
 * `creditedBack`: debited, then given back when a later card refused; `creditBackFailed`: debited
 * and could not be given back, so the card owner is owed it (the transaction needs attention).
 */
export interface TopUpDebitView {
  /** The debit's business number at the card system, the one its ledger records. */
  debitNo: string;
  cardNo: string;
  amountFen: number;
  status: (typeof TOP_UP_DEBIT_STATUSES)[number];
}

export const TOP_UP_DEBIT_STATUSES = ['pending', 'debited', 'refused', 'creditedBack', 'creditBackFailed', 'skipped'] as const;

/**
 * Points or coupons of a refund that their system refused to take back (a refusal, not an
 * outage, which is retried): still owed to the customer, so the refund waits for a person.
 */
export type BenefitRefusal =
  | { system: 'points'; points: number; code: string; message: string }
  | { system: 'coupon'; couponIds: string[]; code: string; message: string };

/**
 * Status of one money leg of a refund: `pending` while its money is on its way back, `succeeded`
 * once the card or the channel gave it back, `attention` when it waits for a person (the amount
 * still owed). `to_pay_at_station`: a cash leg (of an order imported from OS), recorded as cash
 * the station pays out to the customer; nothing downstream is called, and the refund counts it
 * as done (docs/os-import.md).
 */
export type RefundLegStatus = 'pending' | 'succeeded' | 'attention' | 'to_pay_at_station';

/** One refund as the transaction records it (API.md: the view's `refunds`). */
export interface RefundView {
  refundNo: string;
  amount: number;
  reason: string;
  /**
   * `requested` until its money legs start; `attention` when a leg, or a benefit the points or
   * coupon system would not take back (`benefitRefusals`), needs a person.
   */
  status: 'requested' | 'processing' | 'succeeded' | 'attention' | 'rejected';
  requestedAt: string;
  legs: { legNo: number; refundLegNo: string; method: LegMethod; amount: number; status: RefundLegStatus }[];
  /** What this refund takes back per line (fen, and units for goods). */
  lines: { lineNo: number; amountFen: number; quantity?: number }[];
  /** Points this refund owes back (what later refunds count as returned, see `benefitRefusals`). */
  pointsReturned: number;
  couponsRestored: string[];
  couponsExpired: string[];
  /**
   * Top-up (and its bonus) this refund takes back from cards before the money goes back: the sum
   * of `topUpDebits`' `amountFen`, as planned (each debit's status says whether it happened).
   */
  topUpDebitFen: number;
  /** Each card's debit, one per card, in line order; empty when no top-up is refunded. */
  topUpDebits: TopUpDebitView[];
  /** Downstream reversal records owed for this refund (tasks once post-payment work lands). */
  reversals: { system: 'settlement' | 'invoice'; status: 'recorded' }[];
  refusal?: Refusal;
  /** What the points or coupon system refused to take back; absent when everything went back. */
  benefitRefusals?: BenefitRefusal[];
}

export interface OrderRecordView {
  orderNo: string;
  quoteId: string;
  comboId: string;
  deductionMode: 'pre' | 'post';
  payableAmount: number;
  discountAmount: number;
  orderedAt: string;
}

/** The answer to the command that is waiting for one (persisted, so a replay can read it). */
export type Reply = { requestId: string; ok: true } | { requestId: string; ok: false; refusal: Refusal };

export interface TxnInput {
  txnNo: string;
  scene: string;
  merchantId: string;
  stationId: string;
  userId: string;
  quote: Quote;
  /** How long an order waits for its payment, ms. */
  paymentTtlMs: number;
  /** Callback silence after which a pending async leg asks the gateway itself, ms. */
  queryAfterMs: number;
  /**
   * How a refund is spread over the money legs (DOMAIN.md "Refund"): in proportion to what each
   * paid (the default), or in a configured priority order of methods.
   */
  refundPolicy: { kind: 'proportional' } | { kind: 'priority'; order: string[] };
  createdAt: string;
}

export interface TxnContext extends TxnInput {
  /** Every quote this transaction was given, oldest first; the last one is current. */
  quoteIds: string[];
  order: OrderRecordView | null;
  holds: BenefitHold[];
  /** Set when a post-mode benefit could not be taken after payment: a person reviews the sale. */
  needsReview: boolean;
  /** Where unwinding (release holds, cancel the order) ends: back to quoted, cancelled or failed. */
  unwindTo: 'quoted' | 'cancelled' | 'failed' | null;
  /** Payment deadline (ISO), set when the order is placed. */
  expiresAt: string | null;
  legs: LegView[];
  /** Durable timers armed by this transaction: name → due time (epoch ms). The store keeps a row per entry. */
  timers: Record<string, number>;
  /** The command currently waiting for a reply, if any. */
  pendingRequestId: string | null;
  reply: Reply | null;
  /** Why the transaction was cancelled or failed. */
  outcome: Outcome | null;
  /** Attempts of retried core steps, by step. */
  attempts: Record<string, number>;
  paidAt: string | null;
  /** Legs whose success callback came after they were closed, being checked with the gateway. */
  lateLegs: string[];
  /** A leg of the current attempt had its confirm fail (and was rolled back). */
  confirmFailed: boolean;
  topUps: TopUpCredit[];
  refunds: RefundView[];
  /** Something waits for a person (a refund leg that could not complete). */
  needsAttention: boolean;
  /**
   * Names of the post-payment tasks asked for so far (issue 21): their specs are handed to the
   * runtime as they are asked for ({@link TxnEmitted}) and stored once, as the task's own durable
   * row, with the save that first lists the name; a save does not carry them again.
   */
  taskNames: string[];
  /** Tasks out of attempts, waiting for a manual retry. */
  deadTasks: string[];
  /**
   * Re-drives so far (nudges of a refund leg or give-back that waited for a person), by gateway
   * refund number: the round of the next one. (Optional in v1 snapshots: migrated to `{}`.)
   */
  redrives: Record<string, number>;
}

export interface LegRequest {
  method: PaymentMethod;
  amount: number;
  cardNo?: string;
}

/** Events from outside (HTTP, callbacks, timers), stamped by the runtime with `at` (epoch ms). */
export type TxnCommand =
  | { type: 'REQUOTE'; requestId: string; at: number; quote: Quote }
  | { type: 'ORDER'; requestId: string; at: number; orderNo: string; quoteId: string; comboId: string; deductionMode: 'pre' | 'post' }
  | { type: 'PAY'; requestId: string; at: number; legs: LegRequest[] }
  | { type: 'CANCEL'; requestId: string; at: number; reason: string }
  | { type: 'REFUND'; requestId: string; at: number; refundNo: string; reason: string; amountFen?: number; lines?: { lineNo: number; quantity?: number; amountFen?: number }[] }
  | { type: 'PAYMENT_CALLBACK'; at: number; paymentNo: string }
  | { type: 'REFUND_CALLBACK'; at: number; refundLegNo: string }
  /** From the task runner: a post-payment task finished, or ran out of attempts. */
  | { type: 'TASK_DONE'; at: number; task: string }
  | { type: 'TASK_DEAD'; at: number; task: string; error: string }
  | { type: 'TIMER'; at: number; name: string }
  /**
   * A person (admin nudge, `trade nudge`) re-drives the transaction: refund legs and give-backs
   * that wait for a person start again, and closed async legs are asked about once more.
   */
  | { type: 'NUDGE'; at: number };

/** Events the payment-leg children send to their transaction. */
export type LegEvent =
  | { type: 'LEG_LOCKED'; legId: string }
  | { type: 'LEG_PENDING'; legId: string; payUrl: string; at: number }
  | { type: 'LEG_SUCCEEDED'; legId: string; channelTradeNo?: string; at: number }
  /**
   * The leg ended unpaid; `phase` says whether it failed at try, confirm or close. `attention`: the
   * channel captured money otherwise than the leg asked (another amount or merchant), for a person.
   */
  | { type: 'LEG_RELEASED'; legId: string; phase: 'try' | 'confirm' | 'close'; refusal: Refusal | null; attention?: boolean }
  /** A closed leg was captured after all, but otherwise than it asked (another amount or merchant): for a person. */
  | { type: 'LEG_CAPTURED_OTHERWISE'; legId: string }
  /** A closed leg was captured after all (a late callback's check, or the leg's own query after its close): the money must go back. */
  | { type: 'LATE_PAYMENT_CONFIRMED'; legId: string }
  /** The refund giving a leg's captured money back ended (from the `giveback-<legId>` child). */
  | { type: 'RLEG_DONE'; legNo: number; refundLegNo?: string; status: 'succeeded' | 'attention'; error?: string }
  /** A late callback turned out not to be a payment (the gateway says it is not paid). */
  | { type: 'LATE_PAYMENT_IGNORED'; legId: string }
  | { type: 'REFUND_ACCEPTED'; refundNo: string }
  /** A refund's top-up debits as they stand after one of them was settled (debited, refused, credited back). */
  | { type: 'REFUND_DEBITS'; refundNo: string; topUpDebits: TopUpDebitView[] }
  /** `needsAttention`: a card debited for it could not be credited back. */
  | { type: 'REFUND_REJECTED'; refundNo: string; refusal: Refusal | null; needsAttention?: boolean }
  | {
      type: 'REFUND_FINISHED';
      refundNo: string;
      legStatus: Record<number, 'pending' | 'succeeded' | 'attention'>;
      couponsRestored: string[];
      couponsExpired: string[];
      benefitRefusals?: BenefitRefusal[];
    };

/**
 * What the transaction machine hands the runtime outside its context: the specs of tasks it asks
 * for, which the runtime stores with the next save (as task rows, not in the snapshot).
 */
export type TxnEmitted = { type: 'tasksAsked'; tasks: TaskSpec[] };

export type TxnEvent = TxnCommand | LegEvent;

/** Names of the durable timers. */
export const TIMERS = {
  paymentExpiry: 'payment-expiry',
  /** Backoff before a core step is tried again (mark paid, cancel order, confirm or release a hold). */
  retry: 'retry',
} as const;

/** States in which a transaction is at rest: nothing runs, nothing is due. */
export const AT_REST_STATES = ['completed', 'cancelled', 'failed'] as const;
