import { NoOrderArchive } from '../archive/no-archive.ts';
import { PostgresOrderArchive } from '../postgres/order-archive.ts';
import { PostgresReconciliationRecords } from '../postgres/reconciliation-records.ts';
import type { OrderArchive, ReconciliationRecords, Storage } from '../types.ts';
import { RedisAdminQueries } from './admin-queries.ts';
import { RedisHandle, type RedisStoreOptions } from './handle.ts';
import { RedisIdempotencyRecords } from './idempotency-records.ts';
import { RedisJournal } from './journal.ts';
import { RedisQuoteRecords } from './quote-records.ts';
import { RedisReconciliationRecords } from './reconciliation-records.ts';
import { RedisSentinelIndex } from './sentinel-index.ts';
import { RedisOsOutbox } from './os-outbox.ts';
import { RedisShadowQuotes } from './shadow-quotes.ts';
import { RedisSnapshotStore } from './snapshot-store.ts';
import { RedisTaskStore } from './task-store.ts';
import { RedisTransitionFeed } from './transition-feed.ts';

/** The scale-out storage, with the handle its leases and start-up checks need. */
export interface RedisStorage extends Storage {
  /** The shared client and key layout (the leases take their keys from it). */
  handle: RedisHandle;
}

/** Options of {@link createRedisStorage}. */
export interface RedisStorageOptions extends RedisStoreOptions {
  /** The order archive's PostgreSQL (`TRADE_ARCHIVE_URL`); without it nothing is archived (see {@link NoOrderArchive}). */
  archiveUrl?: string;
  /** Its schema (`TRADE_ARCHIVE_SCHEMA`; `public` by default). */
  archiveSchema?: string;
}

/**
 * Every storage concept over one Redis (or Cluster) client, and the order archive on PostgreSQL
 * when `archiveUrl` is given. Without it there is no archive: final transactions stay in Redis
 * (memory grows with history), which the log warns of here, at start.
 */
export function createRedisStorage(options: RedisStorageOptions): RedisStorage {
  const handle = new RedisHandle(options);
  const { archiveUrl, archiveSchema } = options;
  let archive: OrderArchive;
  let reconciliation: ReconciliationRecords;
  if (archiveUrl) {
    const pg = new PostgresOrderArchive({ url: archiveUrl, ...(archiveSchema ? { schema: archiveSchema } : {}) });
    archive = pg;
    // History beside history: the records share the archive's pool (migration 003), which the archive closes.
    reconciliation = new PostgresReconciliationRecords(pg.handle);
  } else {
    archive = new NoOrderArchive();
    reconciliation = new RedisReconciliationRecords(handle.redis, handle.prefix);
    options.log?.warn('no order archive: TRADE_ARCHIVE_URL is not set, so final transactions stay in Redis and its memory grows with history');
  }
  const osOutbox = new RedisOsOutbox(handle);
  return {
    handle,
    snapshots: new RedisSnapshotStore(handle, osOutbox),
    quotes: new RedisQuoteRecords(handle),
    osOutbox,
    journal: new RedisJournal(handle),
    feed: new RedisTransitionFeed(handle),
    idempotency: new RedisIdempotencyRecords(handle),
    tasks: new RedisTaskStore(handle),
    sentinel: new RedisSentinelIndex(handle),
    admin: new RedisAdminQueries(handle),
    archive,
    shadowQuotes: new RedisShadowQuotes(handle),
    reconciliation,
    // The hot store's readiness; the archive answers its own ping (`/readyz` checks it apart).
    ping: () => handle.ping(),
    close: async () => {
      await reconciliation.close();
      await archive.close();
      await handle.close();
    },
  };
}
