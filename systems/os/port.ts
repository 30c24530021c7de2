import type { CallKey, Outcome } from '../contract.ts';

/** An online order as the offline station system (OS) takes it in. */
export interface OsOrderRequest {
  txnNo: string;
  orderNo: string;
  stationId: string;
  /** What the order was paid, in fen. */
  amountFen: number;
  /** The order lines, in the platform's shape; OS keeps them as given. */
  lines: unknown[];
}

/** One order event of a station's outbox, as OS takes it in (issue 20, "OS order sync"). */
export interface OsOrderEvent {
  txnNo: string;
  orderNo: string;
  stationId: string;
  kind: 'placed' | 'paid' | 'refunded' | 'cancelled';
  /** 1, 2, … per order: OS takes an event only after its predecessor. */
  eventSeq: number;
  /** The platform's sequence of the event in its station's outbox. */
  stationSeq: number;
  /** Epoch ms the platform recorded it. */
  at: number;
  /** Amounts in fen, lines, legs, refund number, as the kind has them. */
  payload: Record<string, unknown>;
}

/**
 * The offline station system (non-core, must eventually succeed): online orders are synced to it
 * so the station's shift and stock agree. Idempotent by key and by `orderNo`: an order is synced
 * once whatever key carries it, so the platform may retry until it succeeds.
 */
export interface OsPort {
  /** Syncs the order; refused with STATION_NOT_FOUND for a station OS does not run. */
  syncOrder(key: CallKey, req: OsOrderRequest): Promise<Outcome<{ orderNo: string }, 'STATION_NOT_FOUND'>>;
  /**
   * Takes one order event. Idempotent by (orderNo, eventSeq), whatever key carries it: an event
   * delivered again (a retry, a resync) is answered as before and kept once. Refused with
   * OUT_OF_ORDER when OS has not got the order's previous event, and with STATION_NOT_FOUND.
   */
  deliverEvent(key: CallKey, event: OsOrderEvent): Promise<Outcome<{ orderNo: string; eventSeq: number }, 'STATION_NOT_FOUND' | 'OUT_OF_ORDER'>>;
}
