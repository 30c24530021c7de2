import { randomBytes } from 'node:crypto';
import { Redis, type Command } from 'ioredis';
import { RedisLeases } from '../runtime/lease.ts';
import type { TradeCenterDeps } from '../runtime/trade-center.ts';
import { RedisCallbackNonces } from '../storage/redis/callback-nonces.ts';
import { RedisRoutingStore } from '../storage/redis/routing-store.ts';
import { createRedisStorage } from '../storage/redis/storage.ts';
import { SqliteHandle } from '../storage/sqlite/handle.ts';
import { SqliteOrderArchive } from '../storage/sqlite/order-archive.ts';
import type { Storage } from '../storage/types.ts';
import type { Prng } from './prng.ts';
import type { IoGate, VirtualTime } from './virtual-time.ts';

/** What one incarnation of the platform runs on, and how kill -9 cuts it off. */
export interface OpenedStore {
  storage: Storage;
  crash: () => void;
  /** The store's other parts on the same connection (leases, callback nonces, routing table). */
  deps?: Pick<TradeCenterDeps, 'leases' | 'callbackNonces' | 'routingStore'>;
}

interface Out {
  seq: number;
  /** Hands the reply (or the error) over to ioredis's own promise; null until it arrived. */
  settle: (() => void) | null;
}

type SendCommand = (command: Command, stream?: unknown, node?: unknown) => unknown;

/**
 * The simulation's hold on real Redis I/O ({@link IoGate}): every command a client of the run
 * sends is numbered, its reply (or error) held back when it arrives, and all replies handed over
 * together, in send order, when the turn is otherwise quiet. So what runs next never depends on
 * how fast the server answered, and a seed replays on Redis as on SQLite.
 *
 * A cut client (kill -9) sends nothing more: whatever it has not yet written is lost (an
 * auto-pipeline still waiting for its immediate, a MULTI not yet exec'd, anything issued after
 * the crash), while what it wrote is executed by the server, as bytes already in a dead
 * process's socket are; the run waits for those to answer, so the store the next incarnation
 * finds does not depend on timing either.
 */
export class RedisReplyGate implements IoGate {
  private seq = 0;
  private readonly out = new Map<Command, Out>();
  private arrived = 0;
  private wake: (() => void) | null = null;
  private stirred: (() => void)[] = [];
  /** Commands sent and flushes made (reported: each flush is a wait on a real round trip). */
  readonly counters = { commands: 0, flushes: 0 };
  /** Past the run (closing): replies are handed over as they arrive. */
  private open = false;

  pending(): boolean {
    return this.out.size > 0;
  }

  /** Replies arrived and held back, waiting for a flush. */
  held(): number {
    return this.arrived;
  }

  /** Resolves at the next command sent or reply arrived (for work awaited outside a turn). */
  activity(): Promise<void> {
    return new Promise((resolve) => this.stirred.push(resolve));
  }

  private stir(): void {
    for (const s of this.stirred.splice(0)) s();
  }

  async flush(): Promise<void> {
    while (this.arrived < this.out.size) await new Promise<void>((resolve) => (this.wake = resolve));
    if (this.out.size) this.counters.flushes++;
    const ready = [...this.out.values()].sort((a, b) => a.seq - b.seq);
    this.out.clear();
    this.arrived = 0;
    for (const o of ready) o.settle!();
  }

  /** Hands over everything held and stops holding: the run is over, the platform closes on real I/O. */
  async release(): Promise<void> {
    await this.flush();
    this.open = true;
  }

  /** Puts `client` (connected already) behind the gate; returns its kill -9. */
  attach(client: Redis): () => void {
    const send = client.sendCommand.bind(client) as SendCommand;
    let cut = false;
    const seen = new WeakSet<Command>();
    const gated: SendCommand = (command, stream, node) => {
      // Never written: lost with the process, and never answered.
      if (cut) return command.promise;
      if (this.open) return send(command, stream, node);
      // ioredis sends a command again from its offline queue after a reconnect: it is counted once.
      if (!seen.has(command)) {
        seen.add(command);
        const entry: Out = { seq: this.seq++, settle: null };
        this.counters.commands++;
        this.out.set(command, entry);
        const resolve = command.resolve;
        const reject = command.reject;
        const arrive = (settle: () => void) => {
          if (entry.settle) return;
          entry.settle = settle;
          this.arrived++;
          if (this.arrived >= this.out.size) this.wake?.();
          this.stir();
        };
        command.resolve = (reply: unknown) => arrive(() => resolve(reply));
        command.reject = (err: Error) => arrive(() => reject(err));
        this.stir();
      }
      return send(command, stream, node);
    };
    client.sendCommand = gated as Redis['sendCommand'];
    return () => {
      cut = true;
    };
  }
}

/** A fresh key prefix per run: runs of the same seed on one server never meet. */
export function runPrefix(seed: number): string {
  return `sim:${seed}:${randomBytes(6).toString('hex')}`;
}

export interface RedisBackendOptions {
  url: string;
  seed: number;
  time: VirtualTime;
  /** The order archive's SQLite file (PostgreSQL's stand-in beside Redis). */
  archivePath: string;
  /** Seeded jitter for the leases. */
  prng: Prng;
}

export interface RedisBackend {
  prefix: string;
  /** The gate's counts: commands sent by the platform, flushes (round trips waited on). */
  counters: () => Record<string, number>;
  /**
   * Readies the next incarnation's store on a new connection, once the last one's was cut and
   * drained: real I/O, so the run awaits it outside any turn, before {@link open}.
   */
  prepare(): Promise<void>;
  /** Incarnation `n`'s store, as {@link prepare} readied it. */
  open(n: number): OpenedStore;
  /**
   * Awaits work of the run's own outside a turn (a boot, the janitor's and the end's reads):
   * it is let run as a turn would be, its replies handed over at quiet points, until it is done.
   * Virtual time does not move meanwhile; other real I/O (a boot reads files) is simply awaited.
   */
  through<T>(work: Promise<T>): Promise<T>;
  /** Before the platform closes at the end of the run: Redis answers as it comes again. */
  release(): Promise<void>;
  /** Deletes every key of this run's prefix (and nothing else) and closes the run's connections. */
  close(): Promise<void>;
}

/**
 * The simulation's Redis backend: one key prefix per run on the given server, one connection
 * per incarnation of the platform behind the run's {@link RedisReplyGate}, the real store, leases,
 * callback nonces and routing table on it, and the order archive in a SQLite file beside it
 * (standing in for PostgreSQL, crashed with the platform as its group commit would be).
 *
 * Timers and tasks stay the in-process ones the run drives on virtual time (PollingScheduler):
 * BullMQ keeps its delays on Redis's own clock and its workers poll in real time, so a seed
 * could neither replay nor run a day of traffic in seconds on it.
 */
export async function openRedisBackend(options: RedisBackendOptions): Promise<RedisBackend> {
  const prefix = runPrefix(options.seed);
  const gate = new RedisReplyGate();
  // Outside any turn (set-up, between incarnations, the end): not gated.
  const admin = new Redis(options.url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  admin.on('error', () => undefined);
  await admin.connect().catch((err: unknown) => {
    throw new Error(`the simulation cannot reach Redis at ${options.url} (${err instanceof Error ? err.message : String(err)}): start a redis-server there, or pass --redis-url (TRADE_REDIS_URL)`);
  });
  options.time.io = gate;
  const jitter = options.prng.fork('lease-jitter');
  const dead: Redis[] = [];
  let openArchive: SqliteHandle | null = null;
  let incarnations = 0;
  let ready: OpenedStore | null = null;

  const deleteKeys = async (pattern: string) => {
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await admin.unlink(...keys);
    } while (cursor !== '0');
  };

  return {
    prefix,
    counters: () => ({ 'redis:commands': gate.counters.commands, 'redis:flushes': gate.counters.flushes }),
    async prepare() {
      // What the dead incarnation wrote has answered (its replies go nowhere): the store is as
      // the server left it, whatever the timing.
      await gate.flush();
      for (const c of dead.splice(0)) c.disconnect();
      // Its leases lapsed while it was down (the restart comes later than their TTL would
      // matter to one process): otherwise they would expire on the server's real clock, which
      // no seed controls.
      if (incarnations > 0) await deleteKeys(`${prefix}:{*}:lease`);
      await openArchive?.close();
      const storage = createRedisStorage({
        url: options.url,
        prefix,
        clock: options.time.clock,
        redis: { lazyConnect: true },
      });
      const client = storage.handle.redis as Redis;
      client.on('error', () => undefined);
      await client.connect();
      const cut = gate.attach(client);
      const archiveHandle = new SqliteHandle(options.archivePath, { syncFile: (_fd, done) => setImmediate(() => done(null)) });
      openArchive = archiveHandle;
      const archive = new SqliteOrderArchive(archiveHandle);
      const time = options.time;
      incarnations++;
      ready = {
        storage: { ...storage, archive },
        crash: () => {
          cut();
          // kill -9 of the archive's file too: its open group commit is lost (crash closes it).
          archiveHandle.crash();
          if (openArchive === archiveHandle) openArchive = null;
          dead.push(client);
        },
        deps: {
          leases: new RedisLeases(
            client,
            { lease: (t) => storage.handle.leaseKey(t), txn: (t) => storage.handle.txnKey(t) },
            { ttlMs: 10_000, waitMs: 30_000 },
            { clock: time.clock, sleep: time.sleep, after: time.after, random: () => jitter.next() },
          ),
          callbackNonces: new RedisCallbackNonces(client, prefix),
          routingStore: new RedisRoutingStore(client, prefix),
        },
      };
    },
    open(n) {
      if (!ready || n !== incarnations) throw new Error(`incarnation ${n}'s Redis store was not prepared`);
      const opened = ready;
      ready = null;
      return opened;
    },
    async through(work) {
      let done = false;
      const watched = work.finally(() => (done = true));
      const ended = watched.then(
        () => undefined,
        () => undefined,
      );
      for (;;) {
        await options.time.settle();
        if (done) return watched;
        await Promise.race([ended, gate.activity()]);
      }
    },
    release: () => gate.release(),
    async close() {
      await gate.release().catch(() => undefined);
      for (const c of dead.splice(0)) c.disconnect();
      options.time.io = null;
      await openArchive?.close().catch(() => undefined);
      try {
        await deleteKeys(`${prefix}:*`);
      } finally {
        admin.disconnect();
      }
    },
  };
}
