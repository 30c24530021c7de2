import type { Test } from 'tap';
import { entry, record, task, type StoreFactory, storeTests, T0 } from './helpers.ts';

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

  withStore('lists transactions final before a cutoff, longest final first, paging on from the last one listed (issue 18)', async (t, store) => {
    const final = (txnNo: string, finalAt: number | null) => record(txnNo, { state: 'completed', atRest: true, finalAt });
    await store.snapshots.save(final('T3', T0 + 30), 0, []);
    await store.snapshots.save(final('T1', T0 + 10), 0, []);
    await store.snapshots.save(final('T2', T0 + 10), 0, []);
    await store.snapshots.save(final('T4', T0 + 500), 0, []);
    await store.snapshots.save(record('T5'), 0, []);
    t.same(await store.snapshots.finalTransactions(T0 + 100, 10, null), [
      { txnNo: 'T1', version: 1, finalAt: T0 + 10 },
      { txnNo: 'T2', version: 1, finalAt: T0 + 10 },
      { txnNo: 'T3', version: 1, finalAt: T0 + 30 },
    ]);
    const first = await store.snapshots.finalTransactions(T0 + 100, 1, null);
    t.same(first.map((f) => f.txnNo), ['T1']);
    t.same((await store.snapshots.finalTransactions(T0 + 100, 10, first[0]!)).map((f) => f.txnNo), ['T2', 'T3'], 'pages on after the same finalAt');
    await store.snapshots.save(final('T1', null), 1, []);
    t.same((await store.snapshots.finalTransactions(T0 + 100, 10, null)).map((f) => f.txnNo), ['T2', 'T3'], 'a transaction no longer final is no longer listed');
    await store.snapshots.save(final('T1', T0 + 20), 2, []);
    t.same(await store.snapshots.finalTransactions(T0 + 100, 10, null), [
      { txnNo: 'T2', version: 1, finalAt: T0 + 10 },
      { txnNo: 'T1', version: 3, finalAt: T0 + 20 },
      { txnNo: 'T3', version: 1, finalAt: T0 + 30 },
    ], 'final again: listed at its new finalAt and version');
  });

  withStore('removes an archived transaction with its journal, timers and tasks, only while it is still at the archived version (issue 18)', async (t, store) => {
    await store.snapshots.save(record('T1', { orderNo: 'O1', state: 'paying', timers: { 'leg-1/query': T0 + 10 }, tasks: [task('settlement')] }), 0, [entry('xstate.init')]);
    await store.snapshots.save(record('T1', { orderNo: 'O1', state: 'completed', atRest: true, finalAt: T0 + 5, tasks: [task('settlement')] }), 1, [entry('DONE')]);
    await store.snapshots.save(record('T2', { state: 'completed', atRest: true, finalAt: T0 + 5 }), 0, []);
    t.equal(await store.snapshots.removeArchived('T1', 1), false, 'a stale version stays');
    t.ok(await store.snapshots.load('T1'));
    t.equal(await store.snapshots.removeArchived('T1', 2), true);
    t.equal(await store.snapshots.load('T1'), null);
    t.same(await store.journal.entries('T1'), []);
    t.same(await store.tasks.tasksOf('T1'), []);
    t.equal(await store.snapshots.findTxnNoByOrderNo('O1'), null);
    t.same(await store.snapshots.dueTimers(T0 + 1000, 10), []);
    t.same((await store.snapshots.finalTransactions(T0 + 100, 10, null)).map((f) => f.txnNo), ['T2']);
    t.same((await store.admin.listTransactions({ limit: 10 })).map((r) => r.txnNo), ['T2']);
    t.equal(await store.snapshots.removeArchived('T1', 2), false, 'gone already');
  });

  withStore('reinstates an archived transaction once, at its archived version, with its journal and task records (issue 18)', async (t, store) => {
    await store.snapshots.save(record('T1', { orderNo: 'O1', state: 'completed', atRest: true, finalAt: T0 + 5, tasks: [task('campaign')] }), 0, [entry('xstate.init'), entry('DONE')]);
    await store.tasks.finishTask('T1', 'campaign', { status: 'done', attempts: 1, lastError: null, nextRunAt: null, result: { couponIds: ['CP1'] } }, T0 + 3);
    const archived = (await store.snapshots.load('T1'))!;
    const journal = await store.journal.entries('T1');
    const tasks = await store.tasks.tasksOf('T1');
    t.ok(await store.snapshots.removeArchived('T1', archived.version));
    const racing = await Promise.all([store.snapshots.reinstate(archived, journal, tasks), store.snapshots.reinstate(archived, journal, tasks)]);
    t.same(racing.filter(Boolean).length, 1, 'of two racing, one puts it back');
    t.same(await store.snapshots.load('T1'), archived);
    t.same(await store.journal.entries('T1'), journal);
    t.same(await store.tasks.tasksOf('T1'), tasks);
    t.equal(await store.snapshots.findTxnNoByOrderNo('O1'), 'T1');
    t.same(await store.tasks.dueTasks(T0 + 1_000_000, 10), [], 'a done task does not run again');
    t.same(await store.snapshots.save(record('T1', { orderNo: 'O1', state: 'completed', atRest: true, finalAt: null, tasks: [task('campaign'), task('campaign-reverse')] }), archived.version, [entry('REFUND')]), { ok: true, version: archived.version + 1 });
    t.same((await store.tasks.tasksOf('T1')).map((x) => [x.task, x.status]), [['campaign', 'done'], ['campaign-reverse', 'pending']], 'a new task is added beside the done one');
    t.same((await store.journal.entries('T1')).map((j) => j.event), ['xstate.init', 'DONE', 'REFUND']);
    t.equal(await store.snapshots.reinstate(archived, journal, tasks), false, 'stored already: left alone');
  });

  withStore("gives the archiver's turn to a caller", async (t, store) => {
    t.equal(await store.snapshots.claimArchiveScan(60_000), true);
  });
}
