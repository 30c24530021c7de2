import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './server-process.ts';

/** A private redis-server for a test: own port, own folder, killed at teardown. */
export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  /** SIGKILL: Redis keeps only what its AOF holds. */
  kill(): Promise<void>;
  /** Starts it again on the same port and folder (replaying its AOF). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts `redis-server` on a free loopback port in a fresh temp folder, never the shared one on
 * 6379. `appendonly` (fsync every write) makes every acknowledged write survive a kill.
 */
export async function startRedisServer(opts: { appendonly?: boolean } = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tc-redis-'));
  let child: ChildProcess | null = null;
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--appendonly', opts.appendonly ? 'yes' : 'no', '--appendfsync', 'always',
    '--maxmemory-policy', 'noeviction', '--protected-mode', 'no',
  ];
  const url = `redis://127.0.0.1:${port}`;
  const launch = async () => {
    const proc = spawn('redis-server', args, { stdio: 'ignore' });
    child = proc;
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await probe.connect();
        // Loading an AOF answers LOADING: wait until Redis serves.
        await probe.ping();
        break;
      } catch {
        probe.disconnect();
        if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    probe.disconnect();
  };
  const exit = async (signal: NodeJS.Signals) => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    await exited;
  };
  await launch();
  return {
    url,
    port,
    dir,
    kill: () => exit('SIGKILL'),
    restart: launch,
    stop: async () => {
      await exit('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
