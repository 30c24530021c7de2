import { RecordBook } from '../sim/records.ts';
import { SimVerbs } from '../sim/verb.ts';
import { idempotencyKey, type CallKey, type Outcome } from '../contract.ts';
import type { FaultInjector } from '../sim/faults.ts';
import type { SimStore } from '../sim/store.ts';
import type { CreateOrderRequest, OrderPort, OrderRecord, OrderStatus } from './port.ts';

type OrderRow = { request: string; status: OrderStatus };

/**
 * The order system, simulated over the {@link SimStore}. Enforces the callee contract: idempotent
 * by key, a cancel of an unknown order is an empty rollback that refuses a later create, and a
 * paid order cannot be cancelled nor a cancelled one paid.
 */
export class OrderSimulator implements OrderPort {
  private readonly stmts;

  private readonly book: RecordBook;
  private readonly verbs: SimVerbs;

  constructor(private readonly store: SimStore, private readonly faults: FaultInjector) {
    this.book = new RecordBook(store, 'order');
    this.verbs = new SimVerbs(store, faults);
    const db = store.db;
    this.stmts = {
      get: db.prepare<[string], OrderRow>('SELECT request, status FROM orders WHERE order_no = ?'),
      insert: db.prepare<[string, string, string, string]>(
        "INSERT INTO orders (order_no, txn_no, request, status, updated_at) VALUES (?, ?, ?, 'created', ?)"),
      setStatus: db.prepare<[OrderStatus, number | null, string, string]>(
        'UPDATE orders SET status = ?, paid_amount_fen = coalesce(?, paid_amount_fen), updated_at = ? WHERE order_no = ?'),
    };
  }

  createOrder(key: CallKey, req: CreateOrderRequest): Promise<Outcome<{ orderNo: string }, 'ORDER_CANCELLED'>> {
    const k = idempotencyKey(key);
    return this.faults.run('createOrder', () =>
      this.store.once('order', k, 'createOrder', req, (): Outcome<{ orderNo: string }, 'ORDER_CANCELLED'> => {
        const existing = this.stmts.get.get(req.orderNo);
        if (this.store.hasTombstone('order', req.orderNo) || existing?.status === 'cancelled') {
          return { ok: false, code: 'ORDER_CANCELLED', message: `order ${req.orderNo} was cancelled before it was created` };
        }
        // Same order number under another key: the order exists, creating it again changes nothing.
        if (existing) return { ok: true, orderNo: req.orderNo };
        this.stmts.insert.run(req.orderNo, req.txnNo, JSON.stringify(req), this.store.nowIso());
        this.store.recordEffect('order', 'createOrder', k);
        return { ok: true, orderNo: req.orderNo };
      }));
  }

  markPaid(key: CallKey, req: { orderNo: string; paidAmountFen: number }): Promise<Outcome<{}, 'ORDER_CANCELLED' | 'ORDER_NOT_FOUND'>> {
    const k = idempotencyKey(key);
    return this.faults.run('markPaid', () =>
      this.store.once('order', k, 'markPaid', req, (): Outcome<{}, 'ORDER_CANCELLED' | 'ORDER_NOT_FOUND'> => {
        const existing = this.stmts.get.get(req.orderNo);
        if (!existing) {
          return this.store.hasTombstone('order', req.orderNo)
            ? { ok: false, code: 'ORDER_CANCELLED', message: `order ${req.orderNo} was cancelled` }
            : { ok: false, code: 'ORDER_NOT_FOUND', message: `no order ${req.orderNo}` };
        }
        if (existing.status === 'cancelled') return { ok: false, code: 'ORDER_CANCELLED', message: `order ${req.orderNo} was cancelled` };
        if (existing.status === 'paid') return { ok: true };
        this.stmts.setStatus.run('paid', req.paidAmountFen, this.store.nowIso(), req.orderNo);
        this.store.recordEffect('order', 'markPaid', k);
        return { ok: true };
      }));
  }

  cancelOrder(key: CallKey, req: { orderNo: string; reason: string }): Promise<Outcome<{}, 'ORDER_PAID'>> {
    const k = idempotencyKey(key);
    return this.faults.run('cancelOrder', () =>
      this.store.once('order', k, 'cancelOrder', req, (): Outcome<{}, 'ORDER_PAID'> => {
        const existing = this.stmts.get.get(req.orderNo);
        if (!existing) {
          // Empty rollback: the create may still be on its way; the tombstone makes it refuse.
          if (!this.store.hasTombstone('order', req.orderNo)) {
            this.store.addTombstone('order', req.orderNo);
            this.store.recordEffect('order', 'cancelOrder', k, 'empty-rollback');
          }
          return { ok: true };
        }
        if (existing.status === 'paid') return { ok: false, code: 'ORDER_PAID', message: `order ${req.orderNo} is already paid` };
        if (existing.status === 'cancelled') return { ok: true };
        this.stmts.setStatus.run('cancelled', null, this.store.nowIso(), req.orderNo);
        this.store.recordEffect('order', 'cancelOrder', k);
        return { ok: true };
      }));
  }

  markRefunded(key: CallKey, req: { orderNo: string; refundNo: string; amountFen: number }): Promise<Outcome<{ refundedFen: number }, 'ORDER_NOT_PAID' | 'REFUND_EXCEEDS_PAID'>> {
    return this.verbs.run('markRefunded', key, req, req.refundNo, (k): Outcome<{ refundedFen: number }, 'ORDER_NOT_PAID' | 'REFUND_EXCEEDS_PAID'> => {
      const order = this.peekOrder(req.orderNo);
      if (!order || order.status !== 'paid') return { ok: false, code: 'ORDER_NOT_PAID', message: `order ${req.orderNo} is not paid` };
      const before = this.book.all<{ orderNo: string; amountFen: number }>('refund').filter((r) => r.body.orderNo === req.orderNo).reduce((a, r) => a + r.body.amountFen, 0);
      if (before + req.amountFen > order.payableAmountFen) {
        return { ok: false, code: 'REFUND_EXCEEDS_PAID', message: `order ${req.orderNo}: ${before} of ${order.payableAmountFen} fen refunded, ${req.amountFen} asked` };
      }
      this.book.put('refund', req.refundNo, order.txnNo, { orderNo: req.orderNo, amountFen: req.amountFen });
      this.store.recordEffect('order', 'markRefunded', k);
      return { ok: true, refundedFen: before + req.amountFen };
    });
  }

  getOrder(orderNo: string): Promise<OrderRecord | null> {
    return this.faults.run('getOrder', () => this.peekOrder(orderNo));
  }

  /** The order as stored, bypassing faults (admin API, test assertions). */
  peekOrder(orderNo: string): OrderRecord | null {
    const row = this.stmts.get.get(orderNo);
    return row ? { ...(JSON.parse(row.request) as CreateOrderRequest), status: row.status } : null;
  }
}
