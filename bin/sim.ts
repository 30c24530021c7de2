import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { loadDataset } from '../systems/sim/index.ts';
import { buildSimServer } from '../systems/sim/server.ts';

export interface SimOptions {
  port: number;
  host: string;
  db: string;
  data: string;
  callbackUrl: string;
  /** Defaults to `TRADE_CALLBACK_SECRET`, else the demo secret of `DEFAULT_CONFIG`. */
  callbackSecret?: string;
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
  // Read here, not from DEFAULT_CONFIG: importing the platform's runtime would double the start time.
  const callbackSecret = options.callbackSecret ?? process.env.TRADE_CALLBACK_SECRET ?? 'demo-callback-secret';
  const adminToken = process.env.TRADE_SIM_ADMIN_TOKEN;
  const loopback = ['127.0.0.1', '::1', 'localhost'].includes(options.host);
  const server = await buildSimServer({
    dbPath: options.db,
    dataset: loadDataset(options.data),
    callback: { baseUrl: options.callbackUrl, secret: callbackSecret, ...(options.callbackDelayMs !== undefined ? { delayMs: options.callbackDelayMs } : {}) },
    clock: options.clock,
    ...(options.reset ? { reset: true } : {}),
    logLevel: process.env.LOG_LEVEL ?? 'warn',
    ...(adminToken ? { adminToken } : {}),
  });
  const url = await server.listen(options.port, options.host);
  process.stdout.write(
    [
      '',
      `Trade Center simulators are listening on ${url}  (store: ${options.db}, clock: ${options.clock})`,
      `Payment callbacks go to ${options.callbackUrl}`,
      `Point a platform at them: TRADE_SYSTEMS=http TRADE_SIM_URL=${url} npx trade serve`,
      `Admin: ${url}/sim/faults, ${url}/sim/gateway, ${url}/sim/effects, ${url}/sim/stats (${adminToken ? 'Bearer TRADE_SIM_ADMIN_TOKEN' : 'no token: set TRADE_SIM_ADMIN_TOKEN to require one'})`,
      ...(!loopback && !adminToken ? [`warning: bound to ${options.host} without TRADE_SIM_ADMIN_TOKEN: anyone who reaches this port can mark payments paid`] : []),
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
