import type { CallKey, Outcome } from '../contract.ts';

/** A message for a station's terminals (merchant POS, big screen, dual-screen terminal). */
export interface PushRequest {
  stationId: string;
  txnNo: string;
  message: string;
}

/**
 * The push system (non-core, best effort): shows a transaction's news on the station's terminals.
 * Idempotent by key: a repeated key is not pushed twice.
 */
export interface PushPort {
  /** Pushes the message; refused with STATION_NOT_FOUND for a station push does not know. */
  notify(key: CallKey, req: PushRequest): Promise<Outcome<{}, 'STATION_NOT_FOUND'>>;
}
