import type { Test } from 'tap';
import { record, type StoreFactory, storeTests, T0, task } from './helpers.ts';

/** The TaskStore behaviours every storage backend shows (storage/types.ts). */
export function taskStoreConformance(t: Test, make: StoreFactory): void {
  const withStore = storeTests(t, make);

  withStore('stores each task once with its save, in order, and never replaces it', async (t, store) => {
    await store.snapshots.save(record('T1', { state: 'paid', tasks: [task('settlement'), task('invoice', { system: 'invoice' })] }), 0, []);
    t.ok(await store.tasks.claimTask('T1', 'settlement', T0 + 1));
    await store.tasks.finishTask('T1', 'settlement', { status: 'done', attempts: 1, lastError: null, nextRunAt: null, result: { couponIds: [] } }, T0 + 2);
    await store.snapshots.save(record('T1', { state: 'completed', atRest: true, tasks: [task('settlement'), task('invoice', { system: 'invoice' }), task('push', { system: 'push' })] }), 1, []);
    const tasks = await store.tasks.tasksOf('T1');
    t.same(tasks.map((x) => x.task), ['settlement', 'invoice', 'push']);
    t.same(tasks.map((x) => x.status), ['done', 'pending', 'pending'], 'the done task was not reset by the later save');
    t.same(tasks[0]?.result, { couponIds: [] });
    t.same(tasks[1]?.payload, task('invoice').payload, 'the payload round-trips, empty lists included');
    t.equal(tasks[1]?.core, false);
    t.equal(tasks[1]?.maxAttempts, 3);
    t.equal(tasks[1]?.nextRunAt, T0, 'due from the save that asked for it');
    t.same(await store.tasks.task('T1', 'settlement'), tasks[0], 'one task read by name is the same record');
    t.equal(await store.tasks.task('T1', 'refund'), null);
    t.equal(await store.tasks.task('T404', 'settlement'), null);
  });

  withStore('a job starts a task in one step: read as it stood, claimed only when pending', async (t, store) => {
    await store.snapshots.save(record('T1', { state: 'paid', tasks: [task('settlement'), task('invoice', { system: 'invoice' })] }), 0, []);
    const first = await store.tasks.startTask('T1', 'settlement', T0 + 1);
    t.equal(first?.claimed, true, 'a pending task is claimed');
    t.match(first?.task, { txnNo: 'T1', task: 'settlement', status: 'pending', attempts: 0, payload: task('settlement').payload }, 'the record as it was read');
    t.equal((await store.tasks.task('T1', 'settlement'))?.status, 'running', 'and is running now');
    t.same((await store.tasks.dueTasks(T0 + 10, 10)).map((x) => x.task), ['invoice'], 'a started task is no longer due');
    const again = await store.tasks.startTask('T1', 'settlement', T0 + 2);
    t.same({ claimed: again?.claimed, status: again?.task.status }, { claimed: false, status: 'running' }, 'a running task (a job re-run after a crash) is read, not claimed twice');
    const both = await Promise.all([store.tasks.startTask('T1', 'invoice', T0), store.tasks.startTask('T1', 'invoice', T0)]);
    t.equal(both.filter((x) => x?.claimed).length, 1, 'of two racing starts one claims');
    await store.tasks.finishTask('T1', 'settlement', { status: 'done', attempts: 1, lastError: null, nextRunAt: null }, T0 + 3);
    t.same(await store.tasks.startTask('T1', 'settlement', T0 + 4).then((x) => x && { claimed: x.claimed, status: x.task.status }), { claimed: false, status: 'done' }, 'a done task is left done');
    t.equal((await store.tasks.task('T1', 'settlement'))?.status, 'done');
    t.equal(await store.tasks.startTask('T1', 'refund', T0), null, 'no such task');
    t.equal(await store.tasks.startTask('T404', 'settlement', T0), null);
  });

  withStore('a task finishing beside a dead one leaves the transaction flagged', async (t, store) => {
    await store.snapshots.save(record('T1', { state: 'completed', atRest: true, tasks: [task('settlement'), task('invoice')] }), 0, []);
    await store.snapshots.save(record('T2', { state: 'completed', atRest: true, tasks: [task('settlement')] }), 0, []);
    await store.tasks.claimTask('T1', 'settlement', T0);
    await store.tasks.finishTask('T1', 'settlement', { status: 'dead', attempts: 3, lastError: 'down', nextRunAt: null }, T0);
    await store.tasks.claimTask('T1', 'invoice', T0);
    await store.tasks.finishTask('T1', 'invoice', { status: 'done', attempts: 1, lastError: null, nextRunAt: null }, T0);
    await store.tasks.claimTask('T2', 'settlement', T0);
    await store.tasks.finishTask('T2', 'settlement', { status: 'done', attempts: 1, lastError: null, nextRunAt: null }, T0);
    t.same((await store.admin.listTransactions({ needsAttention: true, limit: 10 })).map((r) => r.txnNo), ['T1']);
  });

  withStore('hands a due task to one claimer, and reschedules it with its attempts', async (t, store) => {
    await store.snapshots.save(record('T1', { state: 'paid', tasks: [task('settlement'), task('invoice')] }), 0, []);
    t.same((await store.tasks.dueTasks(T0, 10)).map((x) => x.task).sort(), ['invoice', 'settlement']);
    t.same(await store.tasks.dueTasks(T0 - 1, 10), [], 'not due before its time');
    const claims = await Promise.all([store.tasks.claimTask('T1', 'settlement', T0), store.tasks.claimTask('T1', 'settlement', T0)]);
    t.same(claims.filter(Boolean).length, 1, 'one claimer wins');
    t.same((await store.tasks.dueTasks(T0, 10)).map((x) => x.task), ['invoice'], 'a running task is not due');
    await store.tasks.finishTask('T1', 'settlement', { status: 'pending', attempts: 1, refusals: 1, lastError: 'down', nextRunAt: T0 + 5_000 }, T0 + 10);
    t.same((await store.tasks.dueTasks(T0 + 4_999, 10)).map((x) => x.task), ['invoice']);
    const later = await store.tasks.dueTasks(T0 + 5_000, 10);
    t.same(later.map((x) => x.task), ['invoice', 'settlement'], 'oldest first');
    t.same(later[1] && { attempts: later[1].attempts, refusals: later[1].refusals, lastError: later[1].lastError }, { attempts: 1, refusals: 1, lastError: 'down' });
  });

  withStore('a dead task flags the transaction; a manual retry revives it and clears the flag when done', async (t, store) => {
    await store.snapshots.save(record('T1', { state: 'completed', atRest: true, tasks: [task('settlement')] }), 0, []);
    await store.snapshots.save(record('T2', { state: 'completed', atRest: true }), 0, []);
    await store.tasks.claimTask('T1', 'settlement', T0);
    await store.tasks.finishTask('T1', 'settlement', { status: 'dead', attempts: 3, lastError: 'down', nextRunAt: null }, T0);
    t.same((await store.admin.listTransactions({ needsAttention: true, limit: 10 })).map((r) => r.txnNo), ['T1']);
    t.same(await store.tasks.dueTasks(T0 + 1e9, 10), [], 'a dead task is not due');
    t.equal(await store.tasks.reviveTask('T1', 'invoice', T0), false, 'no such task');
    t.ok(await store.tasks.reviveTask('T1', 'settlement', T0 + 100));
    t.equal(await store.tasks.reviveTask('T1', 'settlement', T0 + 100), false, 'only a dead task revives');
    const [revived] = await store.tasks.dueTasks(T0 + 100, 10);
    t.same(revived && { status: revived.status, attempts: revived.attempts }, { status: 'pending', attempts: 0 });
    await store.tasks.claimTask('T1', 'settlement', T0 + 100);
    await store.tasks.finishTask('T1', 'settlement', { status: 'done', attempts: 1, lastError: null, nextRunAt: null }, T0 + 200);
    t.same(await store.admin.listTransactions({ needsAttention: true, limit: 10 }), []);
  });

  withStore('puts tasks left running by a dead process back to pending', async (t, store) => {
    await store.snapshots.save(record('T1', { state: 'paid', tasks: [task('settlement'), task('invoice')] }), 0, []);
    await store.tasks.claimTask('T1', 'settlement', T0);
    t.equal(await store.tasks.requeueRunningTasks(T0 + 50), 1);
    const [requeued] = (await store.tasks.dueTasks(T0 + 50, 10)).filter((x) => x.task === 'settlement');
    t.equal(requeued?.status, 'pending');
    t.equal(await store.tasks.requeueRunningTasks(T0 + 60), 0);
  });
}
