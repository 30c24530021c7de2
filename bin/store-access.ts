import { pino } from 'pino';
import { createTradeCenter, DEFAULT_CONFIG, type TradeCenter } from '../runtime/trade-center.ts';
import { SqliteTransactionStore } from '../storage/sqlite/sqlite-store.ts';
import type { TransactionStore } from '../storage/types.ts';
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

function redisUnavailable(): Error {
  return new Error('--redis is not available in this build: the Redis store is not wired into the CLI yet; use --db or --url');
}

/**
 * Opens the store a read-only command inspects. The one place that picks a backend, so adding
 * the Redis store is one branch here.
 */
export function openStore(target: StoreTarget): TransactionStore {
  if (target.redis) throw redisUnavailable();
  if (!target.db) throw new Error('give --db <file>, --redis <url> or --url <url>');
  return new SqliteTransactionStore(target.db);
}

/**
 * Builds the whole runtime over a store, for commands that change a transaction (nudge, retry,
 * cancel): the same host, task runner and simulators the server runs, without listening or
 * starting background pollers. The caller closes it.
 */
export function openRuntime(target: StoreTarget): TradeCenter {
  if (target.redis) throw redisUnavailable();
  if (!target.db) throw new Error('give --db <file>, --redis <url> or --url <url>');
  const logLevel = process.env.LOG_LEVEL ?? 'warn';
  return createTradeCenter(
    {
      ...DEFAULT_CONFIG,
      dataset: loadDataset(target.data ?? DEMO_DATASET_URL),
      dbPath: target.db,
      simDbPath: target.simDb ?? DEFAULT_CONFIG.simDbPath,
      callbackSecret: process.env.TRADE_CALLBACK_SECRET ?? DEFAULT_CONFIG.callbackSecret,
      logLevel,
    },
    // stdout is the command's output (a table, or JSON a script parses): logs go to stderr.
    { log: pino({ level: logLevel }, pino.destination(2)) },
  );
}
