import type { Storage } from '../types.ts';
import { SqliteAdminQueries } from './admin-queries.ts';
import { SqliteHandle, type SqliteOptions } from './handle.ts';
import { SqliteIdempotencyRecords } from './idempotency-records.ts';
import { SqliteJournal } from './journal.ts';
import { SqliteOrderArchive } from './order-archive.ts';
import { SqliteReconciliationRecords } from './reconciliation-records.ts';
import { SqliteSentinelIndex } from './sentinel-index.ts';
import { SqliteOsOutbox } from './os-outbox.ts';
import { SqliteQuoteRecords } from './quote-records.ts';
import { SqliteShadowQuotes } from './shadow-quotes.ts';
import { SqliteSnapshotStore } from './snapshot-store.ts';
import { SqliteTaskStore } from './task-store.ts';
import { SqliteTransitionFeed } from './transition-feed.ts';

/** Options of {@link openSqliteStorage}. */
export interface SqliteStorageOptions extends SqliteOptions {
  /** How often a follower of the feed looks for transitions another process stored, ms. */
  feedPollMs?: number;
}

/** The embedded default's storage, with the simulation's crash. */
export interface SqliteStorage extends Storage {
  /** kill -9 (simulation/): the open group commit is lost and never answered; see {@link SqliteHandle.crash}. */
  crash(): void;
  /** The shared handle: what the leases of processes sharing the file and the role split use. */
  handle: SqliteHandle;
}

/** The embedded default's storage: every concept over one SQLite file (one handle, one group commit). */
export function openSqliteStorage(path: string, options: SqliteStorageOptions = {}): SqliteStorage {
  const handle = new SqliteHandle(path, options);
  const reconciliation = new SqliteReconciliationRecords(path);
  return {
    snapshots: new SqliteSnapshotStore(handle),
    quotes: new SqliteQuoteRecords(handle),
    journal: new SqliteJournal(handle),
    feed: new SqliteTransitionFeed(handle, options.feedPollMs),
    idempotency: new SqliteIdempotencyRecords(handle),
    tasks: new SqliteTaskStore(handle),
    sentinel: new SqliteSentinelIndex(handle),
    admin: new SqliteAdminQueries(handle),
    // The archive's tables are in the same file, written through the same group commit.
    archive: new SqliteOrderArchive(handle),
    shadowQuotes: new SqliteShadowQuotes(handle),
    osOutbox: new SqliteOsOutbox(handle),
    // Its tables are in the same file, on a connection of its own (a run's records are one transaction).
    reconciliation,
    ping: async () => handle.ping(),
    close: async () => {
      await reconciliation.close();
      await handle.close();
    },
    crash: () => handle.crash(),
    handle,
  };
}
