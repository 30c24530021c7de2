import type { Test } from 'tap';
import { record, type StoreFactory, storeTests, T0 } from './helpers.ts';

/** The SentinelIndex behaviours every storage backend shows (storage/types.ts). */
export function sentinelIndexConformance(t: Test, make: StoreFactory): void {
  const withStore = storeTests(t, make);

  withStore('lists idle transactions not at rest, oldest first, with their timers', async (t, store) => {
    await store.snapshots.save(record('T1', { state: 'paying', working: true, updatedAt: T0 + 20 }), 0, []);
    await store.snapshots.save(record('T2', { state: 'paying', timers: { paymentExpiry: T0 + 5 }, updatedAt: T0 + 10 }), 0, []);
    await store.snapshots.save(record('T3', { state: 'completed', atRest: true, updatedAt: T0 }), 0, []);
    await store.snapshots.save(record('T4', { state: 'paying', updatedAt: T0 + 5_000 }), 0, []);
    const idle = await store.sentinel.idleTransactions(T0 + 100, 10);
    t.same(idle.map((i) => i.txnNo), ['T2', 'T1']);
    t.same(idle[0], { txnNo: 'T2', version: 1, state: 'paying', updatedAt: T0 + 10, working: false, timers: { paymentExpiry: T0 + 5 }, stuck: false });
    t.equal(idle[1]?.working, true);
  });

  withStore('counts sentinel nudges per version and flags a stuck transaction until it moves on', async (t, store) => {
    await store.snapshots.save(record('T1', { state: 'paying', working: true }), 0, []);
    t.equal(await store.sentinel.recordNudge('T1', 1), 1);
    t.equal(await store.sentinel.recordNudge('T1', 1), 2);
    t.equal(await store.sentinel.recordNudge('T1', 7), 0, 'a version not stored counts nothing');
    t.equal(await store.sentinel.stuckCount(), 0);
    t.ok(await store.sentinel.markStuck('T1', 1));
    t.equal(await store.sentinel.stuckCount(), 1);
    t.equal((await store.sentinel.idleTransactions(T0 + 1, 10))[0]?.stuck, true);
    t.same((await store.admin.listTransactions({ needsAttention: true, limit: 10 })).map((r) => r.txnNo), ['T1']);
    await store.snapshots.save(record('T1', { state: 'completed', atRest: true }), 1, []);
    t.equal(await store.sentinel.stuckCount(), 0, 'it moved on');
    t.same(await store.admin.listTransactions({ needsAttention: true, limit: 10 }), []);
    t.equal(await store.sentinel.markStuck('T1', 1), false, 'a version left behind cannot be flagged');
    t.equal(await store.sentinel.recordNudge('T1', 2), 1, 'counting starts again');
  });

  withStore('grants the first scan of a period, and has nothing to repair after writes that all completed', async (t, store) => {
    await store.snapshots.save(record('T1', { state: 'paying', working: true }), 0, []);
    await store.snapshots.save(record('T1', { state: 'paying', working: true, timers: { paymentExpiry: T0 + 5 } }), 1, []);
    t.equal(await store.sentinel.claimScan(60_000), true, 'the first claim of a period is granted');
    t.equal(await store.sentinel.repairIndexes(Date.now() + 60_000), 0, 'no write was interrupted');
    t.same((await store.sentinel.idleTransactions(T0 + 1, 10)).map((i) => [i.txnNo, i.timers]), [['T1', { paymentExpiry: T0 + 5 }]], 'and the indexes are as the last save left them');
  });
}
