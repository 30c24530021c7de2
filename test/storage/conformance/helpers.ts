import type { Test } from 'tap';
import type { TaskSpec } from '../../../machines/task-spec.ts';
import type { JournalEntry, SaveRecord, Storage } from '../../../storage/types.ts';

/** What a test asks of the store it is given. */
export interface StoreOptions {
  /**
   * How long an idempotency key lives, ms, for a store that expires keys by itself (Redis: the
   * keys' TTL). A store purged by age (SQLite) ignores it: the test passes the cutoff.
   */
  idempotencyRetentionMs?: number;
}

/** Builds a fresh, empty store for one test; the suite closes it. */
export type StoreFactory = (t: Test, options: StoreOptions) => Promise<Storage>;

export const T0 = Date.parse('2026-11-25T04:00:00Z');

export function record(txnNo: string, over: Partial<SaveRecord> = {}): SaveRecord {
  return {
    txnNo,
    merchantId: 'M1',
    stationId: 'S1',
    orderNo: null,
    state: 'quoted',
    stateValue: 'quoted',
    // Opaque to the store: a value it keeps, never reads (DESIGN.md rule 9).
    snapshot: { status: 'active', value: 'quoted', context: { txnNo, note: 'opaque' } },
    atRest: false,
    working: false,
    needsAttention: false,
    finalAt: null,
    timers: {},
    tasks: [],
    osEvents: [],
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

export function entry(event: string, at = T0): JournalEntry {
  return { at, actor: 'transaction', event, data: { n: 1 }, from: 'a', to: { b: 'c' } };
}

export function task(name: string, over: Partial<TaskSpec> = {}): TaskSpec {
  return { task: name, kind: name, system: 'settlement', core: false, maxAttempts: 3, payload: { amountFen: 100, lines: [], nested: { list: [1, 2] } }, ...over };
}

/** A test of `name` on a fresh storage from `make`, closed after it. */
export type WithStore = (name: string, body: (t: Test, store: Storage) => Promise<void>, options?: StoreOptions) => void;

export function storeTests(t: Test, make: StoreFactory): WithStore {
  return (name, body, options = {}) =>
    void t.test(name, async (t) => {
      const store = await make(t, options);
      t.teardown(() => store.close());
      await body(t, store);
    });
}
