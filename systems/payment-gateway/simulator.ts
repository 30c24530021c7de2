import { createHash } from 'node:crypto';
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { idempotencyKey, type CallKey, type Outcome } from '../contract.ts';
import { CallbackOutbox, type CallbackTarget, type OutboxRow } from '../sim/callback-outbox.ts';
import type { FaultInjector } from '../sim/faults.ts';
import type { Clock, SimStore } from '../sim/store.ts';
import type {
  AsyncChannel,
  CreatedPayment,
  CreatePaymentRequest,
  PaymentCallbackBody,
  PaymentGatewayPort,
  PaymentRecord,
  PaymentStatus,
} from './port.ts';

/** How the simulated gateway calls back; changeable at run time (admin API, tests). */
export interface CallbackSettings {
  /** Delay between the customer's payment and the first delivery attempt, in ms. */
  callbackDelayMs: number;
  /** How many times each callback is delivered (1 = once; 3 = the platform sees it three times). */
  duplicateCallbacks: number;
  /** Deliver nothing at all: the platform must find out by querying. */
  dropCallbacks: boolean;
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
};

const TRADE_NO_PREFIX: Record<AsyncChannel, string> = { wechat: '4200', alipay: '2088', unionpay: '6225', senseless: '9100' };

/** The channel's own trade number, derived from ours so a replayed simulation gets the same one. */
function channelTradeNo(channel: AsyncChannel, paymentNo: string): string {
  const digits = BigInt(`0x${createHash('sha256').update(paymentNo).digest('hex').slice(0, 24)}`).toString().padStart(24, '0');
  return `${TRADE_NO_PREFIX[channel]}${digits.slice(0, 24)}`;
}

function toRecord(row: PaymentRow): PaymentRecord {
  const record: PaymentRecord = {
    paymentNo: row.payment_no,
    txnNo: row.txn_no,
    merchantId: row.merchant_id,
    channel: row.channel,
    amountFen: row.amount_fen,
    status: row.status,
  };
  if (row.channel_trade_no !== null) record.channelTradeNo = row.channel_trade_no;
  if (row.paid_at !== null) record.paidAt = row.paid_at;
  return record;
}

function created(paymentNo: string, channel: AsyncChannel): CreatedPayment {
  return { paymentNo, payUrl: `https://pay.sim.local/${channel}/${paymentNo}`, prepayId: `prepay_${paymentNo}` };
}

/**
 * The payment gateway, simulated over the {@link SimStore}. Port verbs follow the callee contract
 * (idempotent create, empty-rollback close that refuses a late create, ALREADY_PAID on closing a
 * paid payment). The simulator-only verbs {@link pay} and {@link fail} play the customer and the
 * channel; their callbacks go through a persisted outbox and real, signed HTTP.
 */
export class PaymentGatewaySimulator implements PaymentGatewayPort {
  private readonly stmts;
  private readonly outbox: CallbackOutbox;
  private settings: CallbackSettings;

  constructor(
    private readonly store: SimStore,
    private readonly faults: FaultInjector,
    private readonly clock: Clock,
    callback: CallbackTarget & { delayMs?: number },
  ) {
    const db = store.db;
    this.stmts = {
      get: db.prepare<[string], PaymentRow>('SELECT * FROM payments WHERE payment_no = ?'),
      insert: db.prepare<[string, string, string, string, number, string, string, string]>(
        `INSERT INTO payments (payment_no, txn_no, merchant_id, channel, amount_fen, description, status, expires_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)`),
      settle: db.prepare<[PaymentStatus, string | null, string | null, string]>(
        'UPDATE payments SET status = ?, channel_trade_no = ?, paid_at = ? WHERE payment_no = ?'),
    };
    this.outbox = new CallbackOutbox(store, clock, { baseUrl: callback.baseUrl, secret: callback.secret });
    this.settings = { callbackDelayMs: callback.delayMs ?? 0, duplicateCallbacks: 1, dropCallbacks: false };
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

  /**
   * The customer pays: pending → succeeded, and a SUCCESS callback is queued in the same
   * transaction. Paying a succeeded payment again changes nothing (the channel does not charge twice).
   */
  pay(paymentNo: string): Promise<Outcome<{ payment: PaymentRecord }, CustomerActionRefusal>> {
    return this.customerAction(paymentNo, 'succeeded');
  }

  /** The channel declines: pending → failed, and a FAILED callback is queued. */
  fail(paymentNo: string): Promise<Outcome<{ payment: PaymentRecord }, CustomerActionRefusal>> {
    return this.customerAction(paymentNo, 'failed');
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

  /** The outbox rows (all, or one payment's): what was sent, how often, and the last error. */
  callbacks(paymentNo?: string): OutboxRow[] {
    return this.outbox.rows(paymentNo);
  }

  /** Starts delivering callbacks, resuming whatever an earlier process left undelivered. */
  start(): void {
    this.outbox.start();
  }

  /** Stops delivering; undelivered callbacks stay in the outbox. */
  stop(): Promise<void> {
    return this.outbox.stop();
  }

  private async customerAction(
    paymentNo: string,
    to: 'succeeded' | 'failed',
  ): Promise<Outcome<{ payment: PaymentRecord }, CustomerActionRefusal>> {
    await nextMacrotask();
    const act = this.store.db.transaction((): Outcome<{ payment: PaymentRecord }, CustomerActionRefusal> => {
      const row = this.stmts.get.get(paymentNo);
      if (!row) return { ok: false, code: 'PAYMENT_NOT_FOUND', message: `no payment ${paymentNo}` };
      if (row.status === to) return { ok: true, payment: toRecord(row) };
      if (row.status === 'closed') return { ok: false, code: 'PAYMENT_CLOSED', message: `payment ${paymentNo} was closed` };
      if (row.status === 'succeeded') return { ok: false, code: 'ALREADY_PAID', message: `payment ${paymentNo} is already paid` };
      if (row.status === 'failed') return { ok: false, code: 'PAYMENT_FAILED', message: `payment ${paymentNo} has failed` };
      if (to === 'succeeded' && this.clock.now() > Date.parse(row.expires_at)) {
        return { ok: false, code: 'PAYMENT_EXPIRED', message: `payment ${paymentNo} expired at ${row.expires_at}` };
      }
      const tradeNo = channelTradeNo(row.channel, paymentNo);
      // For a FAILED callback `paidAt` carries the time the channel declined.
      const at = this.store.nowIso();
      this.stmts.settle.run(to, tradeNo, to === 'succeeded' ? at : null, paymentNo);
      this.store.recordEffect('paymentGateway', to === 'succeeded' ? 'pay' : 'fail', paymentNo);
      const body: PaymentCallbackBody = {
        paymentNo,
        txnNo: row.txn_no,
        merchantId: row.merchant_id,
        channel: row.channel,
        amountFen: row.amount_fen,
        status: to === 'succeeded' ? 'SUCCESS' : 'FAILED',
        channelTradeNo: tradeNo,
        paidAt: at,
      };
      const copies = this.settings.dropCallbacks ? 0 : Math.max(1, this.settings.duplicateCallbacks);
      this.outbox.enqueue(paymentNo, `/v1/callbacks/payments/${row.channel}`, JSON.stringify(body), copies, this.settings.callbackDelayMs);
      const updated = this.stmts.get.get(paymentNo);
      return { ok: true, payment: toRecord(updated ?? row) };
    });
    const outcome = act.immediate();
    this.outbox.kick();
    return outcome;
  }
}
