/** What a key may do (API.md "Auth"): sell, refund, or operate. */
export type Scope = 'trade' | 'refund' | 'admin';

export const SCOPES: readonly Scope[] = ['trade', 'refund', 'admin'];

/** The key of demo mode (API.md "Auth"): every scope, every merchant. Public, hence demo only. */
export const DEMO_API_KEY = 'tc_demo_key';

/** The merchants entry of a key that may act for every merchant. */
export const ALL_MERCHANTS = '*';

/**
 * An API key of one calling system (API.md "Auth"), as the keys file lists it. The secret itself
 * is never kept, only its SHA-256: a leaked file lets nobody call. A system may hold several keys
 * at once, so a new one can be rolled out before the old one is withdrawn.
 */
export interface ApiKey {
  /** Names the key in logs and in errors about the keys file; unique. */
  id: string;
  /** The calling system (`pos`, `app`, …): idempotency keys are scoped by it, so a rotated key replays. */
  system: string;
  /** SHA-256 of the secret, 64 lowercase hex digits. */
  secretSha256: string;
  scopes: Scope[];
  /** Merchant ids this key may act for; `["*"]` for all. */
  merchants: string[];
}

/** Whether the key may see and act on a transaction, order or refund of `merchantId`. */
export function mayActFor(key: ApiKey, merchantId: string): boolean {
  return key.merchants.includes(ALL_MERCHANTS) || key.merchants.includes(merchantId);
}

/** The merchants a list or stream of this key is limited to; null when it sees them all. */
export function merchantLimit(key: ApiKey): string[] | null {
  return key.merchants.includes(ALL_MERCHANTS) ? null : key.merchants;
}
