import type { Test } from 'tap';
import { entry, record, type StoreFactory, storeTests, T0 } from './helpers.ts';

/** The SnapshotStore behaviours every storage backend shows (storage/types.ts). */
export function snapshotStoreConformance(t: Test, make: StoreFactory): void {
  const withStore = storeTests(t, make);

  withStore('creates a transaction at version 1 and loads it back as stored', async (t, store) => {
    const saved = await store.snapshots.save(record('T1', { timers: { paymentExpiry: T0 + 1000 } }), 0, [entry('xstate.init')]);
    t.same(saved, { ok: true, version: 1 });
    const loaded = await store.snapshots.load('T1');
    t.equal(loaded?.version, 1);
    t.equal(loaded?.state, 'quoted');
    t.same(loaded?.snapshot, record('T1').snapshot);
    t.same(loaded?.timers, { paymentExpiry: T0 + 1000 });
    t.equal(loaded?.atRest, false);
    t.equal(loaded?.stationId, 'S1');
    t.equal(loaded?.needsAttention, false);
    t.equal(loaded?.orderNo, null);
    t.equal(await store.snapshots.load('T404'), null);
  });

  withStore('refuses a second create and a stale writer with a conflict, not a write', async (t, store) => {
    await store.snapshots.save(record('T1'), 0, []);
    t.same(await store.snapshots.save(record('T1'), 0, []), { ok: false, conflict: true, actualVersion: 1 });
    t.same(await store.snapshots.save(record('T1', { state: 'ordered' }), 1, []), { ok: true, version: 2 });
    const stale = await store.snapshots.save(record('T1', { state: 'cancelled' }), 1, [entry('LOST')]);
    t.same(stale, { ok: false, conflict: true, actualVersion: 2 });
    t.equal((await store.snapshots.load('T1'))?.state, 'ordered', 'the stale write changed nothing');
    t.notOk((await store.journal.entries('T1')).some((j) => j.event === 'LOST'), 'nor its journal');
    t.same(await store.snapshots.save(record('T9'), 3, []), { ok: false, conflict: true, actualVersion: null });
  });

  withStore('keeps concurrent writers of one version to exactly one winner', async (t, store) => {
    await store.snapshots.save(record('T1'), 0, []);
    const results = await Promise.all([1, 2, 3, 4, 5].map((i) => store.snapshots.save(record('T1', { state: `s${i}` }), 1, [])));
    t.equal(results.filter((r) => r.ok).length, 1);
    t.equal((await store.snapshots.load('T1'))?.version, 2);
  });

  withStore('finds a transaction by its order number once one is stored', async (t, store) => {
    await store.snapshots.save(record('T1'), 0, []);
    t.equal(await store.snapshots.findTxnNoByOrderNo('O1'), null);
    await store.snapshots.save(record('T1', { orderNo: 'O1', state: 'ordered' }), 1, []);
    t.equal(await store.snapshots.findTxnNoByOrderNo('O1'), 'T1');
  });

  withStore('lists due timers oldest first, and forgets timers re-armed or dropped', async (t, store) => {
    await store.snapshots.save(record('T1', { timers: { paymentExpiry: T0 + 300, 'leg-1/query': T0 + 100 } }), 0, []);
    await store.snapshots.save(record('T2', { timers: { retry: T0 + 200 } }), 0, []);
    t.same(await store.snapshots.dueTimers(T0 + 250, 10), [
      { txnNo: 'T1', name: 'leg-1/query', dueAt: T0 + 100 },
      { txnNo: 'T2', name: 'retry', dueAt: T0 + 200 },
    ]);
    t.same(await store.snapshots.dueTimers(T0 + 250, 1), [{ txnNo: 'T1', name: 'leg-1/query', dueAt: T0 + 100 }], 'limit');
    await store.snapshots.save(record('T1', { timers: { paymentExpiry: T0 + 300, 'leg-1/query': T0 + 1000 } }), 1, []);
    await store.snapshots.save(record('T2', { timers: {} }), 1, []);
    t.same(await store.snapshots.dueTimers(T0 + 400, 10), [{ txnNo: 'T1', name: 'paymentExpiry', dueAt: T0 + 300 }]);
    t.same((await store.snapshots.load('T2'))?.timers, {});
  });

  withStore('lists transactions needing work: running calls and due timers, not those at rest', async (t, store) => {
    await store.snapshots.save(record('T1', { working: true, state: 'paying' }), 0, []);
    await store.snapshots.save(record('T2', { timers: { paymentExpiry: T0 + 10 } }), 0, []);
    await store.snapshots.save(record('T3', { timers: { paymentExpiry: T0 + 10_000 } }), 0, []);
    await store.snapshots.save(record('T4', { state: 'completed', atRest: true }), 0, []);
    t.same((await store.snapshots.needingWork(T0 + 100, 10)).sort(), ['T1', 'T2']);
    await store.snapshots.save(record('T1', { working: false, state: 'completed', atRest: true }), 1, []);
    t.same(await store.snapshots.needingWork(T0 + 100, 10), ['T2']);
  });
}
