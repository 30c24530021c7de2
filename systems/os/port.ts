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

/**
 * The offline station system (non-core, must eventually succeed): online orders are synced to it
 * so the station's shift and stock agree. Idempotent by key and by `orderNo`: an order is synced
 * once whatever key carries it, so the platform may retry until it succeeds.
 */
export interface OsPort {
  /** Syncs the order; refused with STATION_NOT_FOUND for a station OS does not run. */
  syncOrder(key: CallKey, req: OsOrderRequest): Promise<Outcome<{ orderNo: string }, 'STATION_NOT_FOUND'>>;
}
