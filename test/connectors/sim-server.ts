import type { Test } from 'tap';
import { join } from 'node:path';
import { DEFAULT_CONFIG } from '../../runtime/trade-center.ts';
import { simUrls, type SystemsConfig } from '../../runtime/systems-config.ts';
import { loadDataset } from '../../systems/sim/index.ts';
import { buildSimServer, type SimServer } from '../../systems/sim/server.ts';
import { DATASET_PATH } from '../helpers/harness.ts';

/** A `trade sim` server in this process on a free loopback port, closed when the test ends. */
export async function startSimServer(t: Test, opts: { clock?: 'real' | 'follow' } = {}): Promise<{ url: string; server: SimServer }> {
  const server = await buildSimServer({
    dbPath: join(t.testdir(), 'sim.db'),
    dataset: loadDataset(DATASET_PATH),
    callback: { baseUrl: 'http://127.0.0.1:1', secret: DEFAULT_CONFIG.callbackSecret, delayMs: 0 },
    clock: opts.clock ?? 'real',
    logLevel: 'silent',
  });
  const url = await server.listen(0, '127.0.0.1');
  t.teardown(() => server.close());
  return { url, server };
}

/** The platform's `systems` configuration for every system behind the sim at `url`. */
export function httpSystems(url: string, poolSize = 8): SystemsConfig {
  return { mode: 'http', urls: simUrls(url), poolSize, sendClock: false };
}
