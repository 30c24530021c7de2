import type { Test } from 'tap';
import { adminQueriesConformance } from './conformance/admin-queries.ts';
import { storeTests, type StoreFactory } from './conformance/helpers.ts';
import { idempotencyRecordsConformance } from './conformance/idempotency-records.ts';
import { journalConformance } from './conformance/journal.ts';
import { osOutboxConformance } from './conformance/os-outbox.ts';
import { quoteRecordsConformance } from './conformance/quote-records.ts';
import { reconciliationRecordsConformance } from './conformance/reconciliation-records.ts';
import { sentinelIndexConformance } from './conformance/sentinel-index.ts';
import { shadowQuotesConformance } from './conformance/shadow-quotes.ts';
import { snapshotStoreConformance } from './conformance/snapshot-store.ts';
import { taskStoreConformance } from './conformance/task-store.ts';
import { transitionFeedConformance } from './conformance/transition-feed.ts';

export type { StoreFactory, StoreOptions } from './conformance/helpers.ts';

/**
 * One suite for every storage backend (STYLE.md: "Storage backends implement one interface and
 * pass one conformance suite"), one part per storage interface; every backend runs all of them.
 * Each test gets a fresh storage from `make`.
 */
export function storeConformance(t: Test, make: StoreFactory): void {
  t.test('SnapshotStore', async (t) => snapshotStoreConformance(t, make));
  t.test('QuoteRecords', async (t) => quoteRecordsConformance(t, make));
  t.test('Journal', async (t) => journalConformance(t, make));
  t.test('TransitionFeed', async (t) => transitionFeedConformance(t, make));
  t.test('IdempotencyRecords', async (t) => idempotencyRecordsConformance(t, make));
  t.test('TaskStore', async (t) => taskStoreConformance(t, make));
  t.test('SentinelIndex', async (t) => sentinelIndexConformance(t, make));
  t.test('AdminQueries', async (t) => adminQueriesConformance(t, make));
  t.test('ShadowQuotes', async (t) => shadowQuotesConformance(t, make));
  t.test('OsOutbox', async (t) => osOutboxConformance(t, make));
  t.test('ReconciliationRecords', async (t) =>
    reconciliationRecordsConformance(t, async (t) => {
      // The bundle's records, closed with the bundle they belong to.
      const store = await make(t, {});
      return Object.assign(Object.create(store.reconciliation) as typeof store.reconciliation, { close: () => store.close() });
    }));
  storeTests(t, make)('answers a ping', async (t, store) => {
    await store.ping();
    t.pass();
  });
}
