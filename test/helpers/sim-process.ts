import { join } from 'node:path';
import { DEFAULT_CONFIG } from '../../runtime/trade-center.ts';
import { DATASET_PATH } from './harness.ts';
import { watchStart, type ServerProcess } from './server-process.ts';
import { spawnTethered } from './tethered-spawn.ts';

const TRADE_BIN = new URL('../../bin/trade.js', import.meta.url).pathname;

/** The `/sim` admin token of every `trade sim` the suite starts, so the token path is what the suite runs on. */
export const SIM_ADMIN_TOKEN = 'suite-sim-admin-token';

/** Options of {@link startSimProcess}. */
export interface SimProcessOptions {
  /** Folder of the simulators' store (`sim.db`). */
  dir: string;
  port: number;
  /** The platform's base URL, where the gateway calls back. */
  callbackUrl: string;
  clock?: 'real' | 'follow';
  /** Dataset file; the demo dataset unless given. */
  data?: string;
}

/** Runs `trade sim` as its own process; resolves once it listens. */
export async function startSimProcess(opts: SimProcessOptions): Promise<ServerProcess> {
  const proc = spawnTethered(
    process.execPath,
    [
      TRADE_BIN, 'sim', '--port', String(opts.port), '--db', join(opts.dir, 'sim.db'), '--data', opts.data ?? DATASET_PATH,
      '--callback-url', opts.callbackUrl, '--callback-secret', DEFAULT_CONFIG.callbackSecret, '--callback-delay-ms', '0',
      '--clock', opts.clock ?? 'real',
    ],
    { env: { ...process.env, LOG_LEVEL: 'warn', TRADE_SIM_ADMIN_TOKEN: SIM_ADMIN_TOKEN } },
  );
  return watchStart(proc, `http://127.0.0.1:${opts.port}`, 'Trade Center simulators are listening on');
}
