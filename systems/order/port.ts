import type { CallKey, Outcome } from '../contract.ts';

/** One line of an order as the order system stores it. Amounts in fen, volume in ml. */
export interface OrderLine {
  lineNo: number;
  type: 'fuel' | 'goods' | 'stored_value' | 'virtual';
  description: string;
  /** Original amount in fen. */
  amount: number;
  /** Net amount in fen after the discounts allocated to this line. */
  netAmount: number;
  volumeMl?: number;
}

export interface CreateOrderRequest {
  orderNo: string;
  txnNo: string;
  merchantId: string;
  stationId: string;
  userId: string;
  lines: OrderLine[];
  originalAmountFen: number;
  discountAmountFen: number;
  payableAmountFen: number;
}

export type OrderStatus = 'created' | 'paid' | 'cancelled';

export interface OrderRecord extends CreateOrderRequest {
  status: OrderStatus;
}

/**
 * The order system (core). Paired verbs: create / cancel before payment; markPaid after it.
 * Every mutating call is idempotent by its {@link CallKey}.
 */
export interface OrderPort {
  createOrder(key: CallKey, req: CreateOrderRequest): Promise<Outcome<{ orderNo: string }, 'ORDER_CANCELLED'>>;
  /** Refused with ORDER_CANCELLED when the order was cancelled first. */
  markPaid(key: CallKey, req: { orderNo: string; paidAmountFen: number }): Promise<Outcome<{}, 'ORDER_CANCELLED' | 'ORDER_NOT_FOUND'>>;
  /**
   * Cancel an unpaid order. A cancel for an order never created is recorded and succeeds (empty
   * rollback); a create arriving after it is refused (no hanging order). Refused with ORDER_PAID
   * when the order is already paid.
   */
  cancelOrder(key: CallKey, req: { orderNo: string; reason: string }): Promise<Outcome<{}, 'ORDER_PAID'>>;
  /**
   * Records a refund of a paid order (cumulative; idempotent by key and by refundNo). Refused
   * with ORDER_NOT_PAID for an order that was never paid, REFUND_EXCEEDS_PAID past its amount.
   */
  markRefunded(key: CallKey, req: { orderNo: string; refundNo: string; amountFen: number }): Promise<Outcome<{ refundedFen: number }, 'ORDER_NOT_PAID' | 'REFUND_EXCEEDS_PAID'>>;
  getOrder(orderNo: string): Promise<OrderRecord | null>;
}
