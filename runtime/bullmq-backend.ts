import type { Logger } from 'pino';
import { createRedisStorage, type RedisStorage } from '../storage/redis/storage.ts';
import { BullmqScheduler } from './bullmq-scheduler.ts';
import { RedisLeases } from './lease.ts';
import type { Clock } from './clock.ts';
import { parseDuration } from './archiver.ts';
import { ConfigError } from './systems-config.ts';

/** Where the scale-out deployment keeps its state (DESIGN.md "Two deployments"). */
export interface RedisStorageConfig {
  kind: 'redis';
  url: string;
  /** A Redis Cluster: `url` names one of its nodes (`TRADE_REDIS_CLUSTER=1`). */
  cluster?: boolean;
  /** Prefix of the store's keys (`tc`) and BullMQ's (`{tc-bull}`): one deployment per prefix. */
  prefix?: string;
  /** Lease lifetime and longest wait for a busy transaction, ms. */
  leaseTtlMs?: number;
  leaseWaitMs?: number;
  /** Saves the transition feed keeps, roughly (`TRADE_REDIS_FEED_MAXLEN`; the store's default otherwise). */
  feedMaxLen?: number;
  /** How long the transition feed keeps a save, ms (`TRADE_REDIS_FEED_KEEP`; the store's default otherwise). */
  feedKeepMs?: number;
  /** The order archive's PostgreSQL (`TRADE_ARCHIVE_URL`); without it nothing leaves Redis. */
  archiveUrl?: string;
  /** Its schema (`TRADE_ARCHIVE_SCHEMA`). */
  archiveSchema?: string;
}

/**
 * Reads `TRADE_REDIS_FEED_MAXLEN` (a positive integer), or undefined when it is not set. Throws
 * a {@link ConfigError} naming the key when it is bad.
 */
export function feedMaxLenFromEnv(env: Record<string, string | undefined>): number | undefined {
  const raw = env.TRADE_REDIS_FEED_MAXLEN;
  if (raw === undefined) return undefined;
  const n = raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new ConfigError([`TRADE_REDIS_FEED_MAXLEN: not a positive integer: ${JSON.stringify(raw)}`]);
  return n;
}

/**
 * Reads `TRADE_REDIS_FEED_KEEP`, a duration such as `30s` or `5m`, as ms, or undefined when it is
 * not set. Throws a {@link ConfigError} naming the key when it is bad.
 */
export function feedKeepFromEnv(env: Record<string, string | undefined>): number | undefined {
  const raw = env.TRADE_REDIS_FEED_KEEP;
  if (raw === undefined) return undefined;
  const ms = parseDuration(raw);
  if (ms === null) throw new ConfigError([`TRADE_REDIS_FEED_KEEP: not a duration such as 30s or 5m: ${JSON.stringify(raw)}`]);
  return ms;
}

/** The order archive's place beside Redis, from `TRADE_ARCHIVE_URL` and `TRADE_ARCHIVE_SCHEMA` (each absent when unset). */
export function archiveFromEnv(env: Record<string, string | undefined>): Pick<RedisStorageConfig, 'archiveUrl' | 'archiveSchema'> {
  return {
    ...(env.TRADE_ARCHIVE_URL ? { archiveUrl: env.TRADE_ARCHIVE_URL } : {}),
    ...(env.TRADE_ARCHIVE_SCHEMA ? { archiveSchema: env.TRADE_ARCHIVE_SCHEMA } : {}),
  };
}

/** The scale-out backend: snapshots in Redis, timers and tasks on BullMQ, per-transaction leases. */
export interface ScaleOutBackend {
  storage: RedisStorage;
  scheduler: BullmqScheduler;
  leases: RedisLeases;
}

/**
 * Builds the Redis store, the BullMQ scheduler and the leases for one process;
 * `idempotencyRetentionMs` is the TTL of the store's idempotency keys.
 */
export function createScaleOutBackend(config: RedisStorageConfig, log: Logger, options: { idempotencyRetentionMs?: number; clock?: Clock } = {}): ScaleOutBackend {
  const prefix = config.prefix ?? 'tc';
  const cluster = config.cluster ?? false;
  const { clock, ...storageOptions } = options;
  const storage = createRedisStorage({
    ...(clock ? { clock } : {}),
    url: config.url,
    cluster,
    prefix,
    log,
    ...(config.feedMaxLen !== undefined ? { feedMaxLen: config.feedMaxLen } : {}),
    ...(config.feedKeepMs !== undefined ? { feedKeepMs: config.feedKeepMs } : {}),
    ...(config.archiveUrl ? { archiveUrl: config.archiveUrl } : {}),
    ...(config.archiveSchema ? { archiveSchema: config.archiveSchema } : {}),
    ...storageOptions,
  });
  const handle = storage.handle;
  const scheduler = new BullmqScheduler({ url: config.url, cluster, prefix: `{${prefix}-bull}`, log, ...(clock ? { clock } : {}) });
  const leases = new RedisLeases(handle.redis, { lease: (t) => handle.leaseKey(t), txn: (t) => handle.txnKey(t) }, { ttlMs: config.leaseTtlMs ?? 10_000, waitMs: config.leaseWaitMs ?? 30_000 }, clock ? { clock } : {});
  return { storage, scheduler, leases };
}
