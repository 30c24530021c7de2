import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { sha256Hex } from '../../runtime/api-keys.ts';
import { DATASET_PATH } from './harness.ts';
import { spawnTethered, STARTUP_DEADLINE_MS, type TetheredProcess } from './tethered-spawn.ts';

const TRADE_BIN = new URL('../../bin/trade.js', import.meta.url).pathname;

/** A free TCP port on loopback (so a restarted server can take the same one). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  /** SIGKILL: no shutdown hook runs, exactly like a crash. */
  crash(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The key of a server the helper gives a keys file: one with every scope for every merchant.
 * A server on real connectors (`TRADE_SYSTEMS=http`) has no demo key and will not start without keys.
 */
export const SUITE_KEY = 'tc_suite_key';

/**
 * Runs `trade serve` as its own process on the given files and port; resolves once it listens.
 * In demo mode (in-process simulators) its key is the demo key; over HTTP connectors, unless the
 * test brings its own keys, it gets a keys file in `dir` holding {@link SUITE_KEY}.
 */
export async function startServerProcess(dir: string, port: number, extraArgs: string[] = [], env: Record<string, string> = {}): Promise<ServerProcess> {
  const keys = env.TRADE_SYSTEMS === 'http' && !env.TRADE_API_KEYS_FILE && !extraArgs.includes('--keys') ? suiteKeysFile(dir) : null;
  const proc = spawnTethered(
    process.execPath,
    [TRADE_BIN, 'serve', '--port', String(port), '--db', join(dir, 'trade.db'), '--sim-db', join(dir, 'sim.db'), '--data', DATASET_PATH, '--callback-delay-ms', '0', ...extraArgs],
    { env: { ...process.env, LOG_LEVEL: 'warn', ...(keys ? { TRADE_API_KEYS_FILE: keys } : {}), ...env } },
  );
  const worker = extraArgs.some((a, i) => a === '--role' && extraArgs[i + 1] === 'worker');
  return watchStart(proc, `http://127.0.0.1:${port}`, worker ? 'Trade Center worker is running' : 'Trade Center is listening on');
}

function suiteKeysFile(dir: string): string {
  // The server makes its folder itself, but the file goes in before it starts.
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'suite-keys.json');
  const entry = { id: 'suite', system: 'suite', secretSha256: sha256Hex(SUITE_KEY), scopes: ['trade', 'refund', 'admin'], merchants: ['*'] };
  writeFileSync(file, JSON.stringify({ keys: [entry] }));
  return file;
}

/**
 * Resolves once the process prints `banner`; rejects when it exits first or is not up within
 * {@link STARTUP_DEADLINE_MS}, and then kills it: a server that failed to start in time must not
 * outlive the test that gave up on it.
 */
export async function watchStart(proc: TetheredProcess, url: string, banner: string): Promise<ServerProcess> {
  const { child } = proc;
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const started = Date.now();
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start within ${STARTUP_DEADLINE_MS} ms:\n${out}`)), STARTUP_DEADLINE_MS);
      const check = () => {
        if (out.includes(banner)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', check);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code ?? signal} after ${Date.now() - started} ms:\n${out}`));
      });
    });
  } catch (err) {
    await proc.kill('SIGKILL');
    throw err;
  }
  return {
    url,
    child,
    output: () => out,
    crash: () => proc.kill('SIGKILL'),
    stop: () => proc.kill('SIGTERM'),
  };
}
