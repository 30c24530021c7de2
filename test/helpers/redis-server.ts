import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './server-process.ts';
import { spawnTethered, STARTUP_DEADLINE_MS, waitUntil, type TetheredProcess } from './tethered-spawn.ts';

/** True once Redis on `port` answers PING (not LOADING an AOF, not refusing the connection). */
async function serves(port: number): Promise<boolean> {
  const probe = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

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
  let proc: TetheredProcess | null = null;
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--appendonly', opts.appendonly ? 'yes' : 'no', '--appendfsync', 'always',
    '--maxmemory-policy', 'noeviction', '--protected-mode', 'no',
  ];
  const url = `redis://127.0.0.1:${port}`;
  const launch = async () => {
    const started = spawnTethered('redis-server', args, { stdout: 'ignore' });
    proc = started;
    let exited = false;
    void started.exited.then(() => (exited = true));
    try {
      await waitUntil(`redis-server on ${port} did not serve`, async () => {
        if (exited) throw new Error(`redis-server on ${port} exited before it served`);
        return serves(port);
      });
    } catch (err) {
      await started.kill('SIGKILL');
      throw err;
    }
  };
  const exit = async (signal: NodeJS.Signals) => {
    await proc?.kill(signal);
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

/** A private Redis Cluster for a test: `nodes` masters, no replicas, own ports and folders. */
export interface RedisCluster {
  /** One node's URL; a cluster client finds the others. */
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts `nodes` cluster-enabled `redis-server`s and joins them with `redis-cli --cluster
 * create` (all slots spread over them); resolves once every node reports `cluster_state:ok`.
 */
export async function startRedisCluster(nodes = 3): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'tc-redis-cluster-'));
  const ports: number[] = [];
  for (let i = 0; i < nodes; i++) ports.push(await freePort());
  const nodesRunning = ports.map((port) =>
    spawnTethered('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--protected-mode', 'no'], { stdout: 'ignore' }),
  );
  const stop = async () => {
    await Promise.all(nodesRunning.map((n) => n.kill('SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) await waitUntil(`redis-server on ${port} did not serve`, () => serves(port));
    await new Promise<void>((resolve, reject) => {
      // Short-lived, but killed with the test all the same should it hang.
      const create = spawnTethered('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { stdout: 'ignore' });
      const timer = setTimeout(() => void create.kill('SIGKILL'), STARTUP_DEADLINE_MS);
      create.child.once('exit', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(`redis-cli --cluster create exited with ${code}`));
      });
    });
    for (const port of ports) {
      const probe = new Redis(`redis://127.0.0.1:${port}`);
      try {
        await waitUntil(`cluster node ${port} is not ok`, async () => String(await probe.cluster('INFO')).includes('cluster_state:ok'), STARTUP_DEADLINE_MS, 100);
      } finally {
        probe.disconnect();
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `redis://127.0.0.1:${ports[0]}`, stop };
}
