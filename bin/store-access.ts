import { pino } from 'pino';
import { archiveFromEnv } from '../runtime/bullmq-backend.ts';
import { createTradeCenter, DEFAULT_CONFIG, type TradeCenter } from '../runtime/trade-center.ts';
import { createRedisStorage } from '../storage/redis/storage.ts';
import { openSqliteStorage } from '../storage/sqlite/storage.ts';
import type { Storage } from '../storage/types.ts';
import { DEMO_DATASET_URL, loadDataset } from '../systems/sim/index.ts';

/** Where a `trade` command finds a store directly, instead of a running server. */
export interface StoreTarget {
  /** The platform's SQLite file. */
  db?: string;
  /** A Redis URL (scale-out backend). */
  redis?: string;
  /** The simulators' SQLite file, for commands that run the runtime (nudge, retry, cancel). */
  simDb?: string;
  /** Dataset the simulators load when their store is new. */
  data?: string;
}

/** The Redis deployment's key prefix and topology, from the same environment `trade serve` reads. */
function redisOptions(url: string) {
  return { url, cluster: process.env.TRADE_REDIS_CLUSTER === '1', ...(process.env.TRADE_REDIS_PREFIX ? { prefix: process.env.TRADE_REDIS_PREFIX } : {}), ...archiveFromEnv(process.env) };
}

/**
 * Opens the storage a read-only command inspects: the SQLite file, or the Redis deployment
 * (`TRADE_REDIS_PREFIX`, `TRADE_REDIS_CLUSTER` as for `trade serve`). `feedPollMs`: how often a
 * follower of a SQLite file looks for transitions another process (the server) stored.
 */
export function openStorage(target: StoreTarget, options: { feedPollMs?: number } = {}): Storage {
  if (target.redis) return createRedisStorage(redisOptions(target.redis));
  if (!target.db) throw new Error('give --db <file>, --redis <url> or --url <url>');
  return openSqliteStorage(target.db, options);
}

/**
 * Builds the whole runtime over a store, for commands that change a transaction (nudge, retry,
 * cancel): the same host, task runner and simulators the server runs, without listening or
 * starting background pollers. The caller closes it.
 */
export function openRuntime(target: StoreTarget): TradeCenter {
  if (!target.db && !target.redis) throw new Error('give --db <file>, --redis <url> or --url <url>');
  const logLevel = process.env.LOG_LEVEL ?? 'warn';
  return createTradeCenter(
    {
      ...DEFAULT_CONFIG,
      dataset: loadDataset(target.data ?? DEMO_DATASET_URL),
      dbPath: target.db ?? DEFAULT_CONFIG.dbPath,
      ...(target.redis ? { storage: { kind: 'redis' as const, ...redisOptions(target.redis) } } : {}),
      simDbPath: target.simDb ?? DEFAULT_CONFIG.simDbPath,
      callbackSecret: process.env.TRADE_CALLBACK_SECRET ?? DEFAULT_CONFIG.callbackSecret,
      logLevel,
    },
    // stdout is the command's output (a table, or JSON a script parses): logs go to stderr.
    { log: pino({ level: logLevel }, pino.destination(2)) },
  );
}
