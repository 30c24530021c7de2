import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DEFAULT_CONFIG } from '../runtime/trade-center.ts';
import { loadDataset } from '../systems/sim/index.ts';
import { buildSimServer } from '../systems/sim/server.ts';

export interface SimOptions {
  port: number;
  host: string;
  db: string;
  data: string;
  callbackUrl: string;
  callbackSecret: string;
  callbackDelayMs?: number;
  clock: 'real' | 'follow';
  reset?: boolean;
}

/**
 * `trade sim`: every simulator served over HTTP from one process, on its own durable store, so
 * that several platform processes share it and a platform crash leaves it running. Stops cleanly
 * on SIGINT/SIGTERM.
 */
export async function sim(options: SimOptions): Promise<void> {
  mkdirSync(dirname(resolve(options.db)), { recursive: true });
  const server = await buildSimServer({
    dbPath: options.db,
    dataset: loadDataset(options.data),
    callback: { baseUrl: options.callbackUrl, secret: options.callbackSecret, ...(options.callbackDelayMs !== undefined ? { delayMs: options.callbackDelayMs } : {}) },
    clock: options.clock,
    ...(options.reset ? { reset: true } : {}),
    logLevel: process.env.LOG_LEVEL ?? 'warn',
  });
  const url = await server.listen(options.port, options.host);
  process.stdout.write(
    [
      '',
      `Trade Center simulators are listening on ${url}  (store: ${options.db}, clock: ${options.clock})`,
      `Payment callbacks go to ${options.callbackUrl}`,
      `Point a platform at them: TRADE_SYSTEMS=http TRADE_SIM_URL=${url} npx trade serve`,
      `Admin: ${url}/sim/faults, ${url}/sim/gateway, ${url}/sim/effects, ${url}/sim/stats`,
      '',
    ].join('\n'),
  );
  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    await server.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
}

export const SIM_DEFAULTS = {
  port: Number(process.env.TRADE_SIM_PORT ?? 4000),
  db: process.env.TRADE_SIM_DB ?? 'data/sim.db',
  callbackUrl: process.env.TRADE_CALLBACK_URL ?? 'http://127.0.0.1:3000',
  callbackSecret: process.env.TRADE_CALLBACK_SECRET ?? DEFAULT_CONFIG.callbackSecret,
};
