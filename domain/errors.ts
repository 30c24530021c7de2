/**
 * The registry of stable error codes (API.md "Error codes" plus the platform's own).
 * Every refusal the API returns uses one of these codes; the HTTP status comes from here,
 * so the mapping lives in exactly one place.
 */
export const ERROR_CODES = {
  INVALID_REQUEST: { status: 400, message: 'The request is not valid.' },
  UNAUTHORIZED: { status: 401, message: 'Missing or invalid API key.' },
  INVALID_SIGNATURE: { status: 401, message: 'The callback signature or timestamp is not valid.' },
  FORBIDDEN: { status: 403, message: 'The API key may not do this.' },
  NOT_FOUND: { status: 404, message: 'Not found.' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'The path does not take this method.' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request did not arrive within the request timeout.' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body exceeds the body limit.' },
  INVALID_STATE: { status: 409, message: 'The transaction is not in a state that allows this.' },
  REQUEST_IN_PROGRESS: { status: 409, message: 'A request with this idempotency key is still running.' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, message: 'The idempotency key was used with a different body.' },
  QUOTE_EXPIRED: { status: 422, message: 'The quote has expired; quote again.' },
  QUOTE_SUPERSEDED: { status: 422, message: 'A newer quote replaced this one.' },
  COMBO_NOT_IN_QUOTE: { status: 422, message: 'The combination is not part of the quote.' },
  COUPON_UNAVAILABLE: { status: 422, message: 'A coupon of the combination cannot be used.' },
  INSUFFICIENT_POINTS: { status: 422, message: 'Not enough points.' },
  INSUFFICIENT_BALANCE: { status: 422, message: 'The stored-value card cannot cover its leg.' },
  OUT_OF_STOCK: { status: 422, message: 'Not enough stock.' },
  LEGS_MISMATCH: { status: 422, message: 'The payment legs do not add up to the payable amount.' },
  REFUND_EXCEEDS_PAID: { status: 422, message: 'The refund exceeds what is refundable.' },
  UNKNOWN_NOZZLE: { status: 422, message: 'The station has no such nozzle.' },
  UNKNOWN_USER: { status: 422, message: 'No such user.' },
  UNKNOWN_CARD: { status: 422, message: 'No such stored-value card.' },
  UNKNOWN_SKU: { status: 422, message: 'The station does not sell this SKU.' },
  AMOUNT_MISMATCH: { status: 422, message: 'The callback does not match our record of the payment.' },
  PAYMENT_FAILED: { status: 422, message: 'The payment did not go through.' },
  // DESIGN.md rule 10: a snapshot a newer deploy wrote (this one was rolled back) is not read into older machines.
  SNAPSHOT_TOO_NEW: { status: 409, message: 'The transaction was stored by a newer version of Trade Center; this version leaves it untouched.' },
  // DOMAIN.md "Rollout": the old system takes this sale (legacy or shadow routing), so it is not taken twice.
  NOT_ROUTED: { status: 409, message: 'This scene at this station is not taken here yet.' },
  // DOMAIN.md "Reconciliation": the channel's bill of the day is not published yet; run again later.
  BILL_NOT_READY: { status: 409, message: 'The channel has not published the bill of this day yet.' },
  // A bill whose SHA-1 or own totals do not check out is no evidence: nothing of it is recorded.
  BILL_UNUSABLE: { status: 422, message: 'The downloaded bill failed its checks.' },
  // A discrepancy is fixed or decided once; the first decision stands.
  DISCREPANCY_CLOSED: { status: 409, message: 'The discrepancy is already fixed or resolved.' },
  CORE_SYSTEM_UNAVAILABLE: { status: 503, message: 'A core downstream system is unavailable.' },
  INTERNAL: { status: 500, message: 'Internal error.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function statusOf(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}

/** A business refusal carried as a value (machines keep these in context, never throw them). */
export interface Refusal {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

export function refusal(code: ErrorCode, message?: string, details?: Record<string, unknown>): Refusal {
  return details === undefined
    ? { code, message: message ?? ERROR_CODES[code].message }
    : { code, message: message ?? ERROR_CODES[code].message, details };
}

/**
 * How a transaction ended without completing when no refusal ended it: a cancel that was asked
 * for, a payment deadline that passed. They name an outcome, not an error: no request is ever
 * refused with them, so they are not in {@link ERROR_CODES} and have no HTTP status.
 */
export const END_CODES = {
  CANCELLED: 'Cancelled on request.',
  PAYMENT_EXPIRED: 'The payment deadline passed before the payment completed.',
} as const satisfies Record<string, string>;

export type EndCode = keyof typeof END_CODES;

/** Why a transaction was cancelled or failed: the refusal that ended it, or an {@link EndCode}. */
export interface Outcome {
  code: ErrorCode | EndCode;
  message: string;
  details?: Record<string, unknown>;
}

export function ended(code: EndCode, message?: string): Outcome {
  return { code, message: message ?? END_CODES[code] };
}

/** The outcome as the refusal to answer a request with, when a refusal is what it is. */
export function refusalIn(outcome: Outcome | null, otherwise: Refusal): Refusal {
  const code = outcome?.code;
  return outcome && code !== undefined && isErrorCode(code) ? { ...outcome, code } : otherwise;
}

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

/**
 * Thrown at the edges (HTTP, runtime) to turn a refusal into an error response. Internal code
 * passes refusals as values; this class exists because fastify's error path needs an Error.
 */
export class TradeError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message?: string, details?: Record<string, unknown>) {
    super(message ?? ERROR_CODES[code].message);
    this.name = 'TradeError';
    this.code = code;
    this.details = details;
  }
  static from(r: Refusal): TradeError {
    return new TradeError(r.code, r.message, r.details);
  }
  get status(): number {
    return statusOf(this.code);
  }
}

/**
 * A command the transaction was still working on when the request stopped waiting for it: its
 * effects may yet happen (a card charged, an order placed), so the request must not be run a
 * second time under its Idempotency-Key, and the answer names the transaction to look at.
 */
export class StillWorkingError extends TradeError {
  constructor(txnNo: string) {
    // `stillWorking` tells it from a refusal with the same code (a sale a core system's outage failed).
    super('CORE_SYSTEM_UNAVAILABLE', 'the transaction is still working on this request; query it later', { txnNo, stillWorking: true });
    this.name = 'StillWorkingError';
  }
}
