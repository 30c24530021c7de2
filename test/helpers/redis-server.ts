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
  const children = ports.map((port) =>
    spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--protected-mode', 'no'], { stdio: 'ignore' }),
  );
  const stop = async () => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const probe = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        probe.on('error', () => undefined);
        const up = await probe.connect().then(() => probe.ping()).then(() => true, () => false);
        probe.disconnect();
        if (up) break;
        if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await new Promise<void>((resolve, reject) => {
      const create = spawn('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'ignore' });
      create.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`redis-cli --cluster create exited with ${code}`))));
    });
    for (const port of ports) {
      const deadline = Date.now() + 15_000;
      const probe = new Redis(`redis://127.0.0.1:${port}`);
      try {
        while (!String(await probe.cluster('INFO')).includes('cluster_state:ok')) {
          if (Date.now() > deadline) throw new Error(`cluster node ${port} is not ok`);
          await new Promise((r) => setTimeout(r, 100));
        }
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
