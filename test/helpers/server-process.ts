import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
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

/** Runs `trade serve` as its own process on the given files and port; resolves once it listens. */
export async function startServerProcess(dir: string, port: number, extraArgs: string[] = [], env: Record<string, string> = {}): Promise<ServerProcess> {
  const proc = spawnTethered(
    process.execPath,
    [TRADE_BIN, 'serve', '--port', String(port), '--db', join(dir, 'trade.db'), '--sim-db', join(dir, 'sim.db'), '--data', DATASET_PATH, '--callback-delay-ms', '0', ...extraArgs],
    { env: { ...process.env, LOG_LEVEL: 'warn', ...env } },
  );
  return watchStart(proc, `http://127.0.0.1:${port}`, 'Trade Center is listening on');
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
