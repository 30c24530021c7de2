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

  constructor(private readonly store: SimStore, private readonly faults: FaultInjector) {
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

  getOrder(orderNo: string): Promise<OrderRecord | null> {
    return this.faults.run('getOrder', () => this.peekOrder(orderNo));
  }

  /** The order as stored, bypassing faults (admin API, test assertions). */
  peekOrder(orderNo: string): OrderRecord | null {
    const row = this.stmts.get.get(orderNo);
    return row ? { ...(JSON.parse(row.request) as CreateOrderRequest), status: row.status } : null;
  }
}
