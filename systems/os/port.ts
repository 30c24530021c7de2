import type { CallKey, Outcome } from '../contract.ts';

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
 * The offline station system (non-core, must eventually succeed): online orders are synced to it,
 * as each station's ordered order events (issue 20), so the station's shift and stock agree. (The
 * `syncOrder` of one whole order per call, unordered, went with the retired `os-sync` task.)
 */
export interface OsPort {
  /**
   * Takes one order event. Idempotent by (orderNo, eventSeq), whatever key carries it: an event
   * delivered again (a retry, a resync) is answered as before and kept once. Refused with
   * OUT_OF_ORDER when OS has not got the order's previous event, and with STATION_NOT_FOUND.
   */
  deliverEvent(key: CallKey, event: OsOrderEvent): Promise<Outcome<{ orderNo: string; eventSeq: number }, 'STATION_NOT_FOUND' | 'OUT_OF_ORDER'>>;
}
