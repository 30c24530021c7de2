import type { Cluster, Redis } from 'ioredis';
import type { CallbackNonces, NonceSighting } from '../types.ts';

/**
 * KEYS[1] the nonce's key
 * ARGV[1] the body's SHA-256, ARGV[2] ms until the nonce may be forgotten
 * Output: 'new' (stored), 'duplicate' (stored before with this body) or 'conflict' (another body).
 */
const REMEMBER = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 'new' end
if redis.call('GET', KEYS[1]) == ARGV[1] then return 'duplicate' end
return 'conflict'
`;

/**
 * KEYS[1] the nonce's key
 * ARGV[1] the body's SHA-256
 * Output: 1 when the nonce was forgotten, 0 when it was not remembered with this body.
 */
const FORGET = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

interface Scripts {
  tcRememberNonce(key: string, bodySha256: string, ttlMs: number): Promise<string>;
  tcForgetNonce(key: string, bodySha256: string): Promise<number>;
}

/**
 * Callback nonces as Redis keys `{prefix}:cbnonce:{nonce}` holding the body's hash, each expiring
 * with the signature window (PX), so Redis forgets them by itself. Uses the store's client; the
 * store closes it.
 */
export class RedisCallbackNonces implements CallbackNonces {
  private readonly redis: (Redis | Cluster) & Scripts;

  constructor(
    redis: Redis | Cluster,
    private readonly prefix: string,
  ) {
    this.redis = redis as (Redis | Cluster) & Scripts;
    this.redis.defineCommand('tcRememberNonce', { lua: REMEMBER, numberOfKeys: 1 });
    this.redis.defineCommand('tcForgetNonce', { lua: FORGET, numberOfKeys: 1 });
  }

  async remember(nonce: string, bodySha256: string, nowMs: number, expiresAt: number): Promise<NonceSighting> {
    // A nonce already past its window is refused by the signature check; keep it a moment anyway.
    const reply = await this.redis.tcRememberNonce(this.key(nonce), bodySha256, Math.max(1, expiresAt - nowMs));
    if (reply === 'new' || reply === 'duplicate' || reply === 'conflict') return reply;
    throw new Error(`unexpected reply of the nonce script: ${String(reply)}`);
  }

  async forget(nonce: string, bodySha256: string): Promise<void> {
    await this.redis.tcForgetNonce(this.key(nonce), bodySha256);
  }

  async close(): Promise<void> {}

  private key(nonce: string): string {
    return `${this.prefix}:cbnonce:${nonce}`;
  }
}
