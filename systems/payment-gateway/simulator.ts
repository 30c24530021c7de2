import { createHash } from 'node:crypto';
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { idempotencyKey, type CallKey, type Outcome } from '../contract.ts';
import { CallbackOutbox, type CallbackTarget, type CallbackTransport, type OutboxRow, type OutgoingCallback } from '../sim/callback-outbox.ts';
import type { FaultInjector } from '../sim/faults.ts';
import { IdempotencyConflictError, type Clock, type SimStore } from '../sim/store.ts';
import { encodePaymentCallback, encodeRefundCallback } from './callback-formats.ts';
import type {
  AcceptedRefund,
  AsyncChannel,
  CreatedPayment,
  CreatePaymentRequest,
  PaymentGatewayPort,
  PaymentRecord,
  PaymentStatus,
  RefundRecord,
  RefundRefusal,
  RefundRequest,
  RefundStatus,
} from './port.ts';

/**
 * How the simulated gateway calls back and settles refunds; changeable at run time (admin API,
 * tests). The callback knobs apply to payment and refund callbacks alike.
 */
export interface CallbackSettings {
  /** Delay between the customer's payment and the first delivery attempt, in ms. */
  callbackDelayMs: number;
  /** How many times each callback is delivered (1 = once; 3 = the platform sees it three times). */
  duplicateCallbacks: number;
  /** Deliver nothing at all: the platform must find out by querying. */
  dropCallbacks: boolean;
  /**
   * Callbacks due in the same delivery pass go out in reverse order, one after another, so a test
   * can make a later leg's (or a refund's) callback arrive before an earlier one.
   */
  reorderCallbacks: boolean;
  /** How long the channel takes to settle an accepted refund, in ms; 0 settles it on the next delivery pass. */
  refundDelayMs: number;
  /** The channel fails the refunds it settles from now on (status failed, a FAIL callback). */
  failRefunds: boolean;
}

/**
 * A payment the real channel took before the platform existed (OS history, issue 20): the channel
 * knows it by its transaction id, the platform by the payment number of the imported leg
 * (`runtime/os-order-entry.ts` derives both from the OS export). The simulator learns it only
 * through {@link PaymentGatewaySimulator.admitHistoricPayments}; an unknown payment stays refused.
 */
export interface HistoricPayment {
  /** The imported leg's payment number, `T…-P<payNo>`. */
  paymentNo: string;
  txnNo: string;
  merchantId: string;
  channel: AsyncChannel;
  amountFen: number;
  /** The channel's transaction id recorded in the history. */
  channelTradeNo: string;
  /** ISO instant OS took the payment. */
  paidAt: string;
  /** Refunds OS already made of it, which the channel counts: they are no longer refundable. */
  refunds: { refundNo: string; amountFen: number; refundedAt: string }[];
}

/** What {@link PaymentGatewaySimulator.admitHistoricPayments} did: new payments, and ones it already knew the same. */
export interface HistoricAdmission {
  admitted: number;
  alreadyAdmitted: number;
}

/** Why the simulated customer could not pay (or fail) a payment. */
export type CustomerActionRefusal = 'PAYMENT_NOT_FOUND' | 'PAYMENT_CLOSED' | 'PAYMENT_EXPIRED' | 'PAYMENT_FAILED' | 'ALREADY_PAID';

type PaymentRow = {
  payment_no: string;
  txn_no: string;
  merchant_id: string;
  channel: AsyncChannel;
  amount_fen: number;
  description: string;
  status: PaymentStatus;
  channel_trade_no: string | null;
  paid_at: string | null;
  expires_at: string;
  /** Pending and succeeded refunds, summed by the query. */
  refunded_fen: number;
};

type RefundRow = {
  refund_no: string;
  payment_no: string;
  txn_no: string;
  merchant_id: string;
  channel: AsyncChannel;
  amount_fen: number;
  status: RefundStatus;
  channel_refund_no: string;
  due_at: number;
  requested_at: string;
  refunded_at: string | null;
};

const TRADE_NO_PREFIX: Record<AsyncChannel, string> = { wechat: '4200', alipay: '2088', unionpay: '6225', senseless: '9100' };
const REFUND_NO_PREFIX: Record<AsyncChannel, string> = { wechat: '5030', alipay: '2089', unionpay: '6226', senseless: '9101' };

/** The channel's own number for one of ours, derived from it so a replayed simulation gets the same one. */
function channelNo(prefix: string, ours: string): string {
  const digits = BigInt(`0x${createHash('sha256').update(ours).digest('hex').slice(0, 24)}`).toString().padStart(24, '0');
  return `${prefix}${digits.slice(0, 24)}`;
}

function toRecord(row: PaymentRow): PaymentRecord {
  const record: PaymentRecord = {
    paymentNo: row.payment_no,
    txnNo: row.txn_no,
    merchantId: row.merchant_id,
    channel: row.channel,
    amountFen: row.amount_fen,
    status: row.status,
    refundedFen: row.refunded_fen,
  };
  if (row.channel_trade_no !== null) record.channelTradeNo = row.channel_trade_no;
  if (row.paid_at !== null) record.paidAt = row.paid_at;
  return record;
}

function toRefundRecord(row: RefundRow): RefundRecord {
  const record: RefundRecord = {
    refundNo: row.refund_no,
    paymentNo: row.payment_no,
    txnNo: row.txn_no,
    merchantId: row.merchant_id,
    channel: row.channel,
    amountFen: row.amount_fen,
    status: row.status,
    channelRefundNo: row.channel_refund_no,
    requestedAt: row.requested_at,
  };
  if (row.refunded_at !== null) record.refundedAt = row.refunded_at;
  return record;
}

/** The description of an admitted historic payment: how the simulator tells one from a payment created here. */
const HISTORIC_DESCRIPTION = 'historic payment (OS import)';

const REFUND_SELECT = `SELECT r.*, p.txn_no, p.merchant_id, p.channel FROM refunds r JOIN payments p ON p.payment_no = r.payment_no`;

/** An instant as ISO, truncated to the second: channels state their times to the second. */
function wholeSecondIso(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString();
}

function created(paymentNo: string, channel: AsyncChannel): CreatedPayment {
  return { paymentNo, payUrl: `https://pay.sim.local/${channel}/${paymentNo}`, prepayId: `prepay_${paymentNo}` };
}

/**
 * The payment gateway, simulated over the {@link SimStore}. Port verbs follow the callee contract
 * (idempotent create, empty-rollback close that refuses a late create, ALREADY_PAID on closing a
 * paid payment, refunds idempotent by key and refundNo and capped at the paid amount). The
 * simulator-only verbs {@link pay}, {@link fail} and {@link forcePay} play the customer and the
 * channel; the channel settles refunds on the delivery loop's passes. Every callback goes, in
 * its channel's own format, through a persisted outbox and real, signed HTTP.
 */
export class PaymentGatewaySimulator implements PaymentGatewayPort {
  private readonly stmts;
  private readonly outbox: CallbackOutbox;
  private settings: CallbackSettings;

  constructor(
    private readonly store: SimStore,
    private readonly faults: FaultInjector,
    private readonly clock: Clock,
    callback: CallbackTarget & { delayMs?: number; transport?: CallbackTransport; nonce?: () => string },
  ) {
    const db = store.db;
    this.stmts = {
      get: db.prepare<[string], PaymentRow>(
        `SELECT p.*, (SELECT COALESCE(SUM(r.amount_fen), 0) FROM refunds r WHERE r.payment_no = p.payment_no AND r.status != 'failed') AS refunded_fen
         FROM payments p WHERE p.payment_no = ?`),
      insert: db.prepare<[string, string, string, string, number, string, string, string]>(
        `INSERT INTO payments (payment_no, txn_no, merchant_id, channel, amount_fen, description, status, expires_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)`),
      settle: db.prepare<[PaymentStatus, string | null, string | null, string]>(
        'UPDATE payments SET status = ?, channel_trade_no = ?, paid_at = ? WHERE payment_no = ?'),
      setAmount: db.prepare<[number, string]>('UPDATE payments SET amount_fen = ? WHERE payment_no = ?'),
      getRefund: db.prepare<[string], RefundRow>(`${REFUND_SELECT} WHERE r.refund_no = ?`),
      refundsOf: db.prepare<[string], RefundRow>(`${REFUND_SELECT} WHERE r.payment_no = ? ORDER BY r.requested_at, r.refund_no`),
      insertRefund: db.prepare<[string, string, number, string, number, string]>(
        `INSERT INTO refunds (refund_no, payment_no, amount_fen, status, channel_refund_no, due_at, requested_at)
         VALUES (?, ?, ?, 'pending', ?, ?, ?)`),
      retryRefund: db.prepare<[number, string]>(
        "UPDATE refunds SET status = 'pending', due_at = ?, refunded_at = NULL WHERE refund_no = ?"),
      dueRefunds: db.prepare<[number], RefundRow>(`${REFUND_SELECT} WHERE r.status = 'pending' AND r.due_at <= ? ORDER BY r.due_at, r.refund_no`),
      nextRefundDue: db.prepare<[], { dueAt: number | null }>("SELECT min(due_at) AS dueAt FROM refunds WHERE status = 'pending'"),
      settleRefund: db.prepare<[RefundStatus, string, string]>('UPDATE refunds SET status = ?, refunded_at = ? WHERE refund_no = ?'),
      insertHistoric: db.prepare<[string, string, string, string, number, string, string, string, string, string]>(
        `INSERT INTO payments (payment_no, txn_no, merchant_id, channel, amount_fen, description, status, channel_trade_no, paid_at, expires_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?, 'succeeded', ?, ?, ?, ?)`),
      insertHistoricRefund: db.prepare<[string, string, number, string, string, string]>(
        `INSERT INTO refunds (refund_no, payment_no, amount_fen, status, channel_refund_no, due_at, requested_at, refunded_at)
         VALUES (?, ?, ?, 'succeeded', ?, 0, ?, ?)`),
    };
    this.outbox = new CallbackOutbox(store, clock, { baseUrl: callback.baseUrl, secret: callback.secret }, {
      beforePass: () => this.settleDueRefunds(),
      reverseOrder: () => this.settings.reorderCallbacks,
      ...(callback.transport ? { transport: callback.transport } : {}),
      ...(callback.nonce ? { nonce: callback.nonce } : {}),
    });
    this.settings = {
      callbackDelayMs: callback.delayMs ?? 0,
      duplicateCallbacks: 1,
      dropCallbacks: false,
      reorderCallbacks: false,
      refundDelayMs: 0,
      failRefunds: false,
    };
  }

  createPayment(key: CallKey, req: CreatePaymentRequest): Promise<Outcome<CreatedPayment, 'PAYMENT_CLOSED'>> {
    const k = idempotencyKey(key);
    return this.faults.run('createPayment', () =>
      this.store.once('paymentGateway', k, 'createPayment', req, (): Outcome<CreatedPayment, 'PAYMENT_CLOSED'> => {
        const existing = this.stmts.get.get(req.paymentNo);
        if (this.store.hasTombstone('paymentGateway', req.paymentNo) || existing?.status === 'closed') {
          return { ok: false, code: 'PAYMENT_CLOSED', message: `payment ${req.paymentNo} was closed` };
        }
        if (!existing) {
          this.stmts.insert.run(req.paymentNo, req.txnNo, req.merchantId, req.channel, req.amountFen, req.description,
            req.expiresAt, this.store.nowIso());
          this.store.recordEffect('paymentGateway', 'createPayment', k);
        }
        return { ok: true, ...created(req.paymentNo, req.channel) };
      }));
  }

  queryPayment(paymentNo: string): Promise<PaymentRecord | null> {
    return this.faults.run('queryPayment', () => this.peekPayment(paymentNo));
  }

  /** The payment as stored, bypassing faults (admin API, test assertions). */
  peekPayment(paymentNo: string): PaymentRecord | null {
    const row = this.stmts.get.get(paymentNo);
    return row ? toRecord(row) : null;
  }

  closePayment(key: CallKey, req: { paymentNo: string }): Promise<Outcome<{}, 'ALREADY_PAID'>> {
    const k = idempotencyKey(key);
    return this.faults.run('closePayment', () =>
      this.store.once('paymentGateway', k, 'closePayment', req, (): Outcome<{}, 'ALREADY_PAID'> => {
        const existing = this.stmts.get.get(req.paymentNo);
        if (!existing) {
          // Empty rollback: the create may still be on its way; the tombstone makes it refuse.
          if (!this.store.hasTombstone('paymentGateway', req.paymentNo)) {
            this.store.addTombstone('paymentGateway', req.paymentNo);
            this.store.recordEffect('paymentGateway', 'closePayment', k, 'empty-rollback');
          }
          return { ok: true };
        }
        if (existing.status === 'succeeded') return { ok: false, code: 'ALREADY_PAID', message: `payment ${req.paymentNo} is already paid` };
        if (existing.status === 'pending') {
          this.stmts.settle.run('closed', null, null, req.paymentNo);
          this.store.recordEffect('paymentGateway', 'closePayment', k);
        }
        return { ok: true };
      }));
  }

  refundPayment(key: CallKey, req: RefundRequest): Promise<Outcome<AcceptedRefund, RefundRefusal>> {
    const k = idempotencyKey(key);
    return this.faults.run('refundPayment', () => {
      const outcome = this.store.once('paymentGateway', k, 'refundPayment', req, () => this.acceptRefund(k, req));
      // Settling is the channel's work on the delivery loop; a due refund should not wait for its idle poll.
      this.outbox.kick();
      return outcome;
    });
  }

  queryRefund(refundNo: string): Promise<RefundRecord | null> {
    return this.faults.run('queryRefund', () => this.peekRefund(refundNo));
  }

  /** The refund as stored, bypassing faults (admin API, test assertions). */
  peekRefund(refundNo: string): RefundRecord | null {
    const row = this.stmts.getRefund.get(refundNo);
    return row ? toRefundRecord(row) : null;
  }

  /** Every refund of a payment, oldest first, bypassing faults. */
  peekRefunds(paymentNo: string): RefundRecord[] {
    return this.stmts.refundsOf.all(paymentNo).map(toRefundRecord);
  }

  /**
   * The customer pays: pending → succeeded, and a SUCCESS callback is queued in the same
   * transaction. Paying a succeeded payment again changes nothing (the channel does not charge twice).
   */
  pay(paymentNo: string, opts: { capturedFen?: number } = {}): Promise<Outcome<{ payment: PaymentRecord }, CustomerActionRefusal>> {
    return this.customerAction(paymentNo, 'succeeded', false, opts.capturedFen);
  }

  /**
   * Test only: the channel captured the money although the payment was closed (or had expired)
   * meanwhile: the real-world race between our close and the customer's payment. Marks the payment
   * succeeded whatever its pending or closed state and queues a SUCCESS callback, which the
   * platform must refund automatically (DOMAIN.md, Payment). A failed payment stays refused.
   */
  forcePay(paymentNo: string): Promise<Outcome<{ payment: PaymentRecord }, CustomerActionRefusal>> {
    return this.customerAction(paymentNo, 'succeeded', true);
  }

  /** The channel declines: pending → failed, and a FAILED callback is queued. */
  fail(paymentNo: string): Promise<Outcome<{ payment: PaymentRecord }, CustomerActionRefusal>> {
    return this.customerAction(paymentNo, 'failed', false);
  }

  /**
   * Simulator only (issue 20): the channel's knowledge of payments taken before the platform, from
   * the same OS export the archive imports. Each is stored as the succeeded payment it was, under
   * the imported leg's payment number and with its recorded channel transaction id, and OS's own
   * refunds of it as succeeded refunds; from then on it is refunded exactly like a live payment
   * (capped at what is left, settled by the channel, a signed callback, the query). Nothing is
   * called back for the admission itself. Idempotent: a payment admitted again with the same
   * content changes nothing; the same payment number with other content is refused (a caller bug),
   * and so is one the platform took here. All of `payments` or none.
   */
  admitHistoricPayments(payments: readonly HistoricPayment[]): HistoricAdmission {
    return this.store.db.transaction((): HistoricAdmission => {
      let admitted = 0;
      let alreadyAdmitted = 0;
      for (const p of payments) {
        if (!Number.isSafeInteger(p.amountFen) || p.amountFen <= 0) throw new RangeError(`historic payment ${p.paymentNo}: ${p.amountFen} is not a positive number of fen`);
        const refunded = p.refunds.reduce((a, r) => a + r.amountFen, 0);
        if (p.refunds.some((r) => !Number.isSafeInteger(r.amountFen) || r.amountFen <= 0) || refunded > p.amountFen) {
          throw new RangeError(`historic payment ${p.paymentNo}: its refunds do not fit in ${p.amountFen} fen`);
        }
        const existing = this.stmts.get.get(p.paymentNo);
        if (existing) {
          const same = existing.txn_no === p.txnNo && existing.merchant_id === p.merchantId && existing.channel === p.channel
            && existing.amount_fen === p.amountFen && existing.channel_trade_no === p.channelTradeNo && existing.description === HISTORIC_DESCRIPTION;
          if (!same) throw new IdempotencyConflictError('paymentGateway', p.paymentNo, 'another payment under the same paymentNo');
          alreadyAdmitted++;
          continue;
        }
        this.stmts.insertHistoric.run(p.paymentNo, p.txnNo, p.merchantId, p.channel, p.amountFen, HISTORIC_DESCRIPTION, p.channelTradeNo, p.paidAt, p.paidAt, p.paidAt);
        for (const r of p.refunds) {
          this.stmts.insertHistoricRefund.run(r.refundNo, p.paymentNo, r.amountFen, channelNo(REFUND_NO_PREFIX[p.channel], r.refundNo), r.refundedAt, r.refundedAt);
        }
        this.store.recordEffect('paymentGateway', 'admitHistoricPayment', p.paymentNo, p.channelTradeNo);
        admitted++;
      }
      return { admitted, alreadyAdmitted };
    }).immediate();
  }

  /** Changes how callbacks are delivered from now on; returns the settings in force. */
  configureCallbacks(settings: Partial<CallbackSettings>): CallbackSettings {
    this.settings = { ...this.settings, ...settings };
    return this.callbackSettings();
  }

  callbackSettings(): CallbackSettings {
    return { ...this.settings };
  }

  /** Points callbacks at the platform; it learns its own port only after it listens. */
  setCallbackTarget(baseUrl: string, secret: string): void {
    this.outbox.setTarget({ baseUrl, secret });
  }

  /**
   * The outbox rows (all, or one payment's, its refunds' included): what was sent, how often, and
   * the last error.
   */
  callbacks(paymentNo?: string): OutboxRow[] {
    return this.outbox.rows(paymentNo);
  }

  /** The outbox rows of one refund. */
  refundCallbacks(refundNo: string): OutboxRow[] {
    return this.outbox.refundRows(refundNo);
  }

  /** Starts delivering callbacks, resuming whatever an earlier process left undelivered. */
  start(): void {
    this.outbox.start();
  }

  /**
   * One delivery pass now (refunds due are settled first), finished when its deliveries are: how
   * the simulation runs the channel on its virtual clock instead of {@link start}. Returns how many it sent.
   */
  deliverDue(): Promise<number> {
    return this.outbox.deliverDue();
  }

  /** Stops delivering; undelivered callbacks stay in the outbox. */
  stop(): Promise<void> {
    return this.outbox.stop();
  }

  /** Runs inside the refundPayment key's transaction; the caps are checked on rows read in it. */
  private acceptRefund(k: string, req: RefundRequest): Outcome<AcceptedRefund, RefundRefusal> {
    if (!Number.isSafeInteger(req.amountFen) || req.amountFen <= 0) {
      throw new RangeError(`refund ${req.refundNo}: ${req.amountFen} is not a positive number of fen`);
    }
    const earlier = this.stmts.getRefund.get(req.refundNo);
    if (earlier && (earlier.payment_no !== req.paymentNo || earlier.amount_fen !== req.amountFen)) {
      // Refund numbers are ours and deterministic: the same one for another refund is a caller bug.
      throw new IdempotencyConflictError('paymentGateway', req.refundNo, 'a different refund under the same refundNo');
    }
    if (earlier && earlier.status !== 'failed') return { ok: true, refundNo: req.refundNo, status: earlier.status };
    const payment = this.stmts.get.get(req.paymentNo);
    if (!payment) return { ok: false, code: 'PAYMENT_NOT_FOUND', message: `no payment ${req.paymentNo}` };
    if (payment.status !== 'succeeded') return { ok: false, code: 'PAYMENT_NOT_PAID', message: `payment ${req.paymentNo} is ${payment.status}` };
    const refundable = payment.amount_fen - payment.refunded_fen;
    if (req.amountFen > refundable) {
      return { ok: false, code: 'REFUND_EXCEEDS_PAID', message: `payment ${req.paymentNo} has ${refundable} fen left to refund, not ${req.amountFen}` };
    }
    const dueAt = this.clock.now() + this.settings.refundDelayMs;
    if (earlier) {
      // Like wechat: a failed refund is retried by asking again under the same refund number.
      this.stmts.retryRefund.run(dueAt, req.refundNo);
      this.store.recordEffect('paymentGateway', 'refundPayment', k, 'retry');
    } else {
      this.stmts.insertRefund.run(req.refundNo, req.paymentNo, req.amountFen, channelNo(REFUND_NO_PREFIX[payment.channel], req.refundNo),
        dueAt, this.store.nowIso());
      this.store.recordEffect('paymentGateway', 'refundPayment', k);
    }
    return { ok: true, refundNo: req.refundNo, status: 'pending' };
  }

  /**
   * The channel's side of refunds, run at the start of every delivery pass: due refunds succeed
   * (or fail, under `failRefunds`) and their callbacks are queued in the same transaction.
   * Returns when the next pending refund is due.
   */
  private settleDueRefunds(): number | null {
    // Most passes find nothing due: asked with a read, not a write transaction each time.
    const next = this.stmts.nextRefundDue.get()?.dueAt ?? null;
    if (next === null || next > this.clock.now()) return next;
    return this.settleRefunds();
  }

  /** Settles every refund due, in one write transaction; returns when the next pending one is due. */
  private settleRefunds(): number | null {
    return this.store.db.transaction((): number | null => {
      for (const row of this.stmts.dueRefunds.all(this.clock.now())) {
        const status = this.settings.failRefunds ? 'failed' : 'succeeded';
        const at = wholeSecondIso(this.clock.now());
        this.stmts.settleRefund.run(status, at, row.refund_no);
        this.store.recordEffect('paymentGateway', 'settleRefund', row.refund_no, status);
        const { contentType, raw } = encodeRefundCallback(row.channel, {
          refundNo: row.refund_no,
          paymentNo: row.payment_no,
          txnNo: row.txn_no,
          merchantId: row.merchant_id,
          channel: row.channel,
          amountFen: row.amount_fen,
          status: status === 'succeeded' ? 'SUCCESS' : 'FAIL',
          channelRefundNo: row.channel_refund_no,
          refundedAt: at,
        });
        this.send({ paymentNo: row.payment_no, refundNo: row.refund_no, path: `/v1/callbacks/refunds/${row.channel}`, contentType, body: raw });
      }
      return this.stmts.nextRefundDue.get()?.dueAt ?? null;
    }).immediate();
  }

  /** Queues a callback as the settings say: dropped, once, or duplicated, after the delay. */
  private send(callback: OutgoingCallback): void {
    const copies = this.settings.dropCallbacks ? 0 : Math.max(1, this.settings.duplicateCallbacks);
    this.outbox.enqueue(callback, copies, this.settings.callbackDelayMs);
  }

  private async customerAction(
    paymentNo: string,
    to: 'succeeded' | 'failed',
    force: boolean,
    /**
     * Test only: the channel captured another amount than the payment asked for (a tampered
     * payment code, a channel's bug); its record, queries and callback say so. The platform must
     * never take it for the payment it asked for (DESIGN.md rule 7).
     */
    capturedFen?: number,
  ): Promise<Outcome<{ payment: PaymentRecord }, CustomerActionRefusal>> {
    await nextMacrotask();
    const act = this.store.db.transaction((): Outcome<{ payment: PaymentRecord }, CustomerActionRefusal> => {
      const row = this.stmts.get.get(paymentNo);
      if (!row) return { ok: false, code: 'PAYMENT_NOT_FOUND', message: `no payment ${paymentNo}` };
      if (row.status === to) return { ok: true, payment: toRecord(row) };
      if (row.status === 'closed' && !force) return { ok: false, code: 'PAYMENT_CLOSED', message: `payment ${paymentNo} was closed` };
      if (row.status === 'succeeded') return { ok: false, code: 'ALREADY_PAID', message: `payment ${paymentNo} is already paid` };
      if (row.status === 'failed') return { ok: false, code: 'PAYMENT_FAILED', message: `payment ${paymentNo} has failed` };
      if (to === 'succeeded' && !force && this.clock.now() > Date.parse(row.expires_at)) {
        return { ok: false, code: 'PAYMENT_EXPIRED', message: `payment ${paymentNo} expired at ${row.expires_at}` };
      }
      const tradeNo = channelNo(TRADE_NO_PREFIX[row.channel], paymentNo);
      // Channels report times to the second. For a FAILED callback `paidAt` carries the time the channel declined.
      const at = wholeSecondIso(this.clock.now());
      this.stmts.settle.run(to, tradeNo, to === 'succeeded' ? at : null, paymentNo);
      const otherAmount = to === 'succeeded' && capturedFen !== undefined && capturedFen !== row.amount_fen;
      if (otherAmount) this.stmts.setAmount.run(capturedFen, paymentNo);
      const verb = to === 'failed' ? 'fail' : force ? 'forcePay' : 'pay';
      this.store.recordEffect('paymentGateway', verb, paymentNo, otherAmount ? 'other-amount' : force && row.status === 'closed' ? 'after-close' : null);
      const { contentType, raw } = encodePaymentCallback(row.channel, {
        paymentNo,
        txnNo: row.txn_no,
        merchantId: row.merchant_id,
        channel: row.channel,
        amountFen: otherAmount ? capturedFen : row.amount_fen,
        status: to === 'succeeded' ? 'SUCCESS' : 'FAILED',
        channelTradeNo: tradeNo,
        paidAt: at,
      });
      this.send({ paymentNo, path: `/v1/callbacks/payments/${row.channel}`, contentType, body: raw });
      const updated = this.stmts.get.get(paymentNo);
      return { ok: true, payment: toRecord(updated ?? row) };
    });
    const outcome = act.immediate();
    this.outbox.kick();
    return outcome;
  }
}
