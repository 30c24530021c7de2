import type { Test } from 'tap';
import { record, type StoreFactory, storeTests, T0, task } from './helpers.ts';

/** The AdminQueries behaviours every storage backend shows (storage/types.ts). */
export function adminQueriesConformance(t: Test, make: StoreFactory): void {
  const withStore = storeTests(t, make);

  withStore('lists transactions newest first, by state, by attention, page by page', async (t, store) => {
    for (const [n, state] of [['T1', 'completed'], ['T2', 'paying'], ['T3', 'completed'], ['T4', 'quoted']] as const) {
      await store.snapshots.save(record(n, { state, atRest: state === 'completed', updatedAt: T0 + Number(n.slice(1)) }), 0, []);
    }
    const all = await store.admin.listTransactions({ limit: 10 });
    t.same(all.map((r) => r.txnNo), ['T4', 'T3', 'T2', 'T1']);
    t.same(all[0], { txnNo: 'T4', state: 'quoted', updatedAt: T0 + 4 });
    t.same((await store.admin.listTransactions({ state: 'completed', limit: 10 })).map((r) => r.txnNo), ['T3', 'T1']);
    t.same((await store.admin.listTransactions({ limit: 2 })).map((r) => r.txnNo), ['T4', 'T3']);
    t.same((await store.admin.listTransactions({ limit: 2, before: 'T3' })).map((r) => r.txnNo), ['T2', 'T1']);
    await store.snapshots.save(record('T2', { state: 'completed', atRest: true }), 1, []);
    t.same((await store.admin.listTransactions({ state: 'paying', limit: 10 })).map((r) => r.txnNo), [], 'a state left is unlisted');
    await store.snapshots.save(record('T4', { needsAttention: true }), 1, []);
    t.same((await store.admin.listTransactions({ needsAttention: true, limit: 10 })).map((r) => r.txnNo), ['T4']);
    await store.snapshots.save(record('T4', { needsAttention: false }), 2, []);
    t.same(await store.admin.listTransactions({ needsAttention: true, limit: 10 }), []);
  });

  withStore('counts the final transactions past a moment and the oldest finalAt: the archiver backlog (issue 18)', async (t, store) => {
    t.same(await store.admin.finalBacklog(T0 + 1_000), { count: 0, oldestFinalAt: null }, 'none final');
    await store.snapshots.save(record('T1', { state: 'completed', atRest: true, finalAt: T0 + 10 }), 0, []);
    await store.snapshots.save(record('T2', { state: 'cancelled', atRest: true, finalAt: T0 + 20 }), 0, []);
    await store.snapshots.save(record('T3', { state: 'completed', atRest: true, finalAt: T0 + 30 }), 0, []);
    await store.snapshots.save(record('T4', { state: 'paying' }), 0, []);
    t.same(await store.admin.finalBacklog(T0 + 20), { count: 2, oldestFinalAt: T0 + 10 }, 'final at or before the moment; the oldest of all');
    t.ok(await store.snapshots.removeArchived('T1', 1));
    t.same(await store.admin.finalBacklog(T0 + 20), { count: 1, oldestFinalAt: T0 + 20 }, 'an archived one is no longer counted');
    await store.snapshots.save(record('T2', { state: 'cancelled', atRest: true, finalAt: null }), 1, []);
    t.same(await store.admin.finalBacklog(T0 + 1_000), { count: 1, oldestFinalAt: T0 + 30 }, 'one that moved on is no longer final');
  });

  withStore("lists only the asked merchants' transactions, page by page (issue 17)", async (t, store) => {
    for (const [n, merchantId] of [['T1', 'M1'], ['T2', 'M2'], ['T3', 'M1'], ['T4', 'M3'], ['T5', 'M1']] as const) {
      await store.snapshots.save(record(n, { merchantId, state: n === 'T3' ? 'paying' : 'quoted' }), 0, []);
    }
    t.same((await store.admin.listTransactions({ merchantIds: ['M1'], limit: 10 })).map((r) => r.txnNo), ['T5', 'T3', 'T1']);
    t.same((await store.admin.listTransactions({ merchantIds: ['M1', 'M3'], limit: 2 })).map((r) => r.txnNo), ['T5', 'T4']);
    t.same((await store.admin.listTransactions({ merchantIds: ['M1', 'M3'], limit: 2, before: 'T4' })).map((r) => r.txnNo), ['T3', 'T1']);
    t.same((await store.admin.listTransactions({ merchantIds: ['M1'], state: 'paying', limit: 10 })).map((r) => r.txnNo), ['T3']);
    t.same(await store.admin.listTransactions({ merchantIds: [], limit: 10 }), [], 'no merchant, no transaction');
    t.same((await store.admin.listTransactions({ limit: 10 })).length, 5, 'without a merchant filter, all');
  });

  withStore('indexes what the save record says, never what the snapshot holds (DESIGN.md rule 9, issue 18)', async (t, store) => {
    const misleading = { status: 'active', value: 'paying', context: { needsAttention: true, deadTasks: ['settlement'], merchantId: 'M9' } };
    await store.snapshots.save(record('T1', { snapshot: misleading }), 0, []);
    t.same(await store.admin.listTransactions({ needsAttention: true, limit: 10 }), [], 'a flag in the snapshot alone lists nothing');
    await store.snapshots.save(record('T1', { snapshot: misleading, needsAttention: true }), 1, []);
    t.same((await store.admin.listTransactions({ needsAttention: true, limit: 10 })).map((r) => r.txnNo), ['T1']);
    t.equal((await store.snapshots.load('T1'))?.needsAttention, true);
    await store.snapshots.save(record('T1', { snapshot: misleading }), 2, []);
    t.same(await store.admin.listTransactions({ needsAttention: true, limit: 10 }), [], 'the record clears it');
  });

  withStore('counts transactions by state, those waiting for a person, and those idle on the way to rest', async (t, store) => {
    await store.snapshots.save(record('T1', { state: 'paying', updatedAt: T0 }), 0, []);
    await store.snapshots.save(record('T2', { state: 'quoted', updatedAt: T0 }), 0, []);
    await store.snapshots.save(record('T3', { state: 'completed', atRest: true, tasks: [task('settlement')] }), 0, []);
    await store.snapshots.save(record('T4', { state: 'paying', updatedAt: T0 + 10_000 }), 0, []);
    await store.tasks.claimTask('T3', 'settlement', T0);
    await store.tasks.finishTask('T3', 'settlement', { status: 'dead', attempts: 3, lastError: 'down', nextRunAt: null }, T0);
    const stats = await store.admin.stats(T0 + 5_000);
    t.same(stats, { byState: { paying: 2, quoted: 1, completed: 1 }, needsAttention: 1, idle: 1 });
  });
}
