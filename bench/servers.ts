import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import type { TradeCenter } from '../runtime/trade-center.ts';

/** Production settings (DESIGN.md): AOF on (fsync once a second, Redis's default), no eviction. */
const PRODUCTION = ['--save', '', '--appendonly', 'yes', '--maxmemory-policy', 'noeviction'];

/**
 * A private redis-server for one benchmark, on a random port with its files in `dir`, answered
 * PING before this returns; `settings` replaces the production ones. Killed by `stop()`.
 */
export async function startRedisServer(dir: string, settings: string[] = PRODUCTION): Promise<{ url: string; port: number; pid: number; stop(): void }> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, ...settings], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const stop = () => child.kill('SIGKILL');
  for (let i = 0; ; i++) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      return { url, port, pid: child.pid!, stop };
    } catch {
      probe.disconnect();
      if (i > 100) {
        stop();
        throw new Error('redis-server did not start');
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Waits until no post-payment task is pending and no save has happened for three looks in a row
 * (each task runs in well under the 100 ms left after): a task done in the store still has its
 * TASK_DONE to store, which would otherwise land in whatever is measured next.
 */
export async function tasksDrained(tc: TradeCenter): Promise<void> {
  let saves = -1;
  for (let quiet = 0; quiet < 3; ) {
    await new Promise((r) => setTimeout(r, 50));
    const now = tc.host.saves.snapshots + tc.host.saves.quotes;
    quiet = (await tc.storage.tasks.dueTasks(Number.MAX_SAFE_INTEGER, 1)).length || now !== saves ? 0 : quiet + 1;
    saves = now;
  }
}
