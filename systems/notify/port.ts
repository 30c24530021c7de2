import type { CallKey, Outcome } from '../contract.ts';

/** A notification to a user about one of their transactions. */
export interface NotifyRequest {
  userId: string;
  txnNo: string;
  message: string;
}

/**
 * The user notification system (non-core, best effort): app, SMS or WeChat messages. Idempotent
 * by key: a repeated key does not message the user twice.
 */
export interface NotifyPort {
  /** Sends the message; refused with USER_NOT_FOUND for a user it does not know. */
  send(key: CallKey, req: NotifyRequest): Promise<Outcome<{}, 'USER_NOT_FOUND'>>;
}
