import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Callback signing shared by the payment gateway and the platform:
 * `hex(HMAC-SHA256(secret, timestamp + "\n" + nonce + "\n" + rawBody))`, sent in the headers
 * below. The timestamp is epoch seconds; the receiver refuses anything outside its window so a
 * captured callback cannot be replayed later.
 */
export const SIGNATURE_HEADERS = {
  timestamp: 'x-tc-timestamp',
  nonce: 'x-tc-nonce',
  signature: 'x-tc-signature',
} as const;

export function sign(secret: string, timestamp: string, nonce: string, rawBody: string): string {
  return createHmac('sha256', secret).update(`${timestamp}\n${nonce}\n${rawBody}`).digest('hex');
}

export interface SignatureCheck {
  secret: string;
  timestamp: string | undefined;
  nonce: string | undefined;
  signature: string | undefined;
  rawBody: string;
  /** Now, in epoch milliseconds (injected clock). */
  nowMs: number;
  /** Accepted clock skew either way, in seconds. */
  windowSeconds: number;
}

/** True when the signature is valid and the timestamp within the window. Constant-time compare. */
export function verify(check: SignatureCheck): boolean {
  const { timestamp, nonce, signature } = check;
  if (!timestamp || !nonce || !signature || !/^\d+$/.test(timestamp)) return false;
  if (Math.abs(check.nowMs / 1000 - Number(timestamp)) > check.windowSeconds) return false;
  const expected = Buffer.from(sign(check.secret, timestamp, nonce, check.rawBody), 'hex');
  const given = Buffer.from(signature, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
