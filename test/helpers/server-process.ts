import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { DATASET_PATH } from './harness.ts';

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
  const child = spawn(
    process.execPath,
    [TRADE_BIN, 'serve', '--port', String(port), '--db', join(dir, 'trade.db'), '--sim-db', join(dir, 'sim.db'), '--data', DATASET_PATH, '--callback-delay-ms', '0', ...extraArgs],
    { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return watchStart(child, `http://127.0.0.1:${port}`, 'Trade Center is listening on');
}

/** Resolves once the child prints `banner`; rejects when it exits first or takes over 20 s. */
export async function watchStart(child: ChildProcess, url: string, banner: string): Promise<ServerProcess> {
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 20_000);
    const check = () => {
      if (out.includes(banner)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
  return {
    url,
    child,
    output: () => out,
    crash: async () => {
      child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
