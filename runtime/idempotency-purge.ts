import type { Logger } from 'pino';
import type { IdempotencyRecords } from '../storage/types.ts';
import type { Clock } from './clock.ts';
import { ConfigError } from './systems-config.ts';
import { RetentionPurge, type RetentionConfig } from './retention-purge.ts';

/** How long Idempotency-Key records are kept, and how often the older ones are deleted. */
export interface IdempotencyConfig extends RetentionConfig {
  /**
   * API.md: "Keys are kept at least 24 h". A record younger than this is never deleted; once
   * older, the key is free again (`TRADE_IDEMPOTENCY_RETENTION_HOURS`), ms.
   */
  retentionMs: number;
  /**
   * A running claim's lease, ms, renewed every third of it while its request runs: a retry takes
   * over a claim whose lease has run out (its process died), so a crash leaves a key "in
   * progress" for about this long, not for ever.
   */
  leaseMs: number;
}

/**
 * Reads `TRADE_IDEMPOTENCY_RETENTION_HOURS` (a positive number, fractions allowed) as ms, or
 * undefined when it is not set. Throws a {@link ConfigError} naming the key when it is bad.
 */
export function idempotencyRetentionFromEnv(env: Record<string, string | undefined>): number | undefined {
  const raw = env.TRADE_IDEMPOTENCY_RETENTION_HOURS;
  if (raw === undefined) return undefined;
  const hours = raw.trim() === '' ? Number.NaN : Number(raw);
  const ms = Math.round(hours * 3_600_000);
  // Redis takes the retention as a key's TTL in whole ms: at least 1, at most a safe integer.
  if (!Number.isFinite(hours) || hours <= 0 || ms < 1 || !Number.isSafeInteger(ms)) {
    throw new ConfigError([`TRADE_IDEMPOTENCY_RETENTION_HOURS: not a positive number of hours: ${JSON.stringify(raw)}`]);
  }
  return ms;
}

/**
 * Deletes the idempotency records older than the retention (see {@link RetentionPurge}). On Redis
 * each key expires by itself and a pass finds nothing to do.
 */
export class IdempotencyPurge extends RetentionPurge {
  constructor(store: IdempotencyRecords, clock: Clock, config: IdempotencyConfig, log: Logger, batch = 1_000) {
    super('idempotency records', (olderThanMs, limit) => store.purgeIdempotency(olderThanMs, limit), clock, config, log, batch);
  }
}
