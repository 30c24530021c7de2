import { Command } from 'commander';
import { DEMO_API_KEY } from '../../domain/api-key.ts';
import { HttpSource } from './http-source.ts';
import type { TradeSource } from './source.ts';

/** The options every command but `serve` shares: where to find the transactions, and the output form. */
export interface TargetOptions {
  url?: string;
  key: string;
  db?: string;
  redis?: string;
  simDb?: string;
  data?: string;
  json?: boolean;
}

export const DEFAULT_URL = 'http://127.0.0.1:3000';

/** Adds `--url/--key` (a running server) or `--db/--redis` (a store directly) and `--json`. */
export function withTarget(cmd: Command): Command {
  return cmd
    .option('--url <url>', `a running server (env TRADE_URL; default ${DEFAULT_URL})`, process.env.TRADE_URL)
    .option('--key <key>', 'admin API key (env TRADE_ADMIN_KEY; default the demo key); it sees only its merchants', process.env.TRADE_ADMIN_KEY ?? DEMO_API_KEY)
    .option('--db <file>', "the platform's SQLite file, read directly instead of a server")
    .option('--redis <url>', 'the Redis store, read directly instead of a server')
    .option('--sim-db <file>', "the simulators' SQLite file (with --db, for nudge, retry and cancel)", process.env.TRADE_SIM_DB)
    .option('--data <file>', 'dataset the simulators load when their store is new (with --db)')
    .option('--json', 'machine-readable JSON instead of tables');
}

/**
 * The source the options name: a store when `--db`/`--redis` is given, else the server at `--url`.
 * The store side is loaded on demand: it brings the whole platform, which a command talking to a
 * server never needs (every `trade …` call would otherwise pay for loading it).
 */
export async function openSource(opts: TargetOptions, pollMs?: number): Promise<TradeSource> {
  if (opts.db || opts.redis) {
    const { StoreSource } = await import('./store-source.ts');
    return new StoreSource(
      {
        ...(opts.db ? { db: opts.db } : {}),
        ...(opts.redis ? { redis: opts.redis } : {}),
        ...(opts.simDb ? { simDb: opts.simDb } : {}),
        ...(opts.data ? { data: opts.data } : {}),
      },
      pollMs,
    );
  }
  return new HttpSource(opts.url ?? DEFAULT_URL, opts.key);
}

/** Opens the source, runs the command's work, and closes the source whatever happens. */
export async function withSource<T>(opts: TargetOptions, work: (source: TradeSource) => Promise<T>, pollMs?: number): Promise<T> {
  const source = await openSource(opts, pollMs);
  try {
    return await work(source);
  } finally {
    await source.close();
  }
}
