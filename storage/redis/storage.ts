import type { Storage } from '../types.ts';
import { RedisAdminQueries } from './admin-queries.ts';
import { RedisHandle, type RedisStoreOptions } from './handle.ts';
import { RedisIdempotencyRecords } from './idempotency-records.ts';
import { RedisJournal } from './journal.ts';
import { RedisSentinelIndex } from './sentinel-index.ts';
import { RedisSnapshotStore } from './snapshot-store.ts';
import { RedisTaskStore } from './task-store.ts';
import { RedisTransitionFeed } from './transition-feed.ts';

/** The scale-out storage, with the handle its leases and start-up checks need. */
export interface RedisStorage extends Storage {
  /** The shared client and key layout (the leases take their keys from it). */
  handle: RedisHandle;
}

/** Every storage concept over one Redis (or Cluster) client. */
export function createRedisStorage(options: RedisStoreOptions): RedisStorage {
  const handle = new RedisHandle(options);
  return {
    handle,
    snapshots: new RedisSnapshotStore(handle),
    journal: new RedisJournal(handle),
    feed: new RedisTransitionFeed(handle),
    idempotency: new RedisIdempotencyRecords(handle),
    tasks: new RedisTaskStore(handle),
    sentinel: new RedisSentinelIndex(handle),
    admin: new RedisAdminQueries(handle),
    ping: () => handle.ping(),
    close: () => handle.close(),
  };
}
