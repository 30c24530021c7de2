import type { Test } from 'tap';
import type { TaskSpec } from '../../machines/task-spec.ts';
import type { FeedTransition, JournalEntry, SaveRecord, Storage } from '../../storage/types.ts';
import { PATIENCE_MS } from '../helpers/deadlines.ts';

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

const T0 = Date.parse('2026-11-25T04:00:00Z');

function record(txnNo: string, over: Partial<SaveRecord> = {}): SaveRecord {
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
    timers: {},
    tasks: [],
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

function entry(event: string, at = T0): JournalEntry {
  return { at, actor: 'transaction', event, data: { n: 1 }, from: 'a', to: { b: 'c' } };
}

function task(name: string, over: Partial<TaskSpec> = {}): TaskSpec {
  return { task: name, kind: name, system: 'settlement', core: false, maxAttempts: 3, payload: { amountFen: 100, lines: [], nested: { list: [1, 2] } }, ...over };
}

/**
 * One suite for every storage backend (STYLE.md: "Storage backends implement one interface and
 * pass one conformance suite"). Each test gets a fresh store from `make`.
 */
export function storeConformance(t: Test, make: StoreFactory): void {
  const withStore = (name: string, body: (t: Test, store: Storage) => Promise<void>, options: StoreOptions = {}) =>
    t.test(name, async (t) => {
      const store = await make(t, options);
      t.teardown(() => store.close());
      await body(t, store);
    });

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

  withStore('appends the journal of every save in order, with its data', async (t, store) => {
    await store.snapshots.save(record('T1'), 0, [entry('xstate.init'), entry('ORDER', T0 + 1)]);
    await store.snapshots.save(record('T1', { state: 'ordered' }), 1, [entry('PAY', T0 + 2)]);
    const journal = await store.journal.entries('T1');
    t.same(journal.map((j) => j.event), ['xstate.init', 'ORDER', 'PAY']);
    t.ok(journal.every((j, i) => i === 0 || j.seq > journal[i - 1]!.seq), 'sequence grows');
    t.same(journal[1], { ...journal[1], at: T0 + 1, actor: 'transaction', data: { n: 1 }, from: 'a', to: { b: 'c' } });
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

  /** A lease of owner `owner` ending at `leaseUntil`, under run `runId`. */
  const leaseOf = (owner: string, leaseUntil: number, runId = `run-${owner}`) => ({ owner, leaseUntil, runId });
  const A = leaseOf('A', T0 + 60_000);

  withStore('claims an idempotency key once, and replays the stored answer for the same body', async (t, store) => {
    t.same(await store.idempotency.claimIdempotencyKey('k1', 'f1', T0, A), { status: 'claimed' });
    t.same(await store.idempotency.claimIdempotencyKey('k1', 'f1', T0, A), { status: 'in-progress', owner: 'A', leaseUntil: A.leaseUntil });
    t.same(await store.idempotency.claimIdempotencyKey('k1', 'f2', T0, A), { status: 'mismatch' });
    await store.idempotency.completeIdempotencyKey('k1', 'A', { statusCode: 201, body: { txnNo: 'T1', list: [] } });
    t.same(await store.idempotency.claimIdempotencyKey('k1', 'f1', T0, A), { status: 'done', response: { statusCode: 201, body: { txnNo: 'T1', list: [] } } });
    await store.idempotency.releaseIdempotencyKey('k1', 'A');
    t.equal((await store.idempotency.claimIdempotencyKey('k1', 'f1', T0, A)).status, 'done', 'a finished claim is never released');
    t.same(await store.idempotency.claimIdempotencyKey('k2', 'f1', T0, A), { status: 'claimed' });
    await store.idempotency.releaseIdempotencyKey('k2', 'A');
    t.same(await store.idempotency.claimIdempotencyKey('k2', 'f9', T0, A), { status: 'claimed' }, 'a released claim can be made again');
  });

  withStore('a claim whose lease ran out is taken over with its run id and transaction; a live one is in progress under its owner (issue 15)', async (t, store) => {
    t.same(await store.idempotency.claimIdempotencyKey('k', 'f1', T0, leaseOf('A', T0 + 1_000)), { status: 'claimed' });
    t.equal(await store.idempotency.noteIdempotencyTxn('k', 'B', 'T8'), false, 'only the owner notes its transaction');
    t.equal(await store.idempotency.noteIdempotencyTxn('k', 'A', 'T9'), true);
    t.same(await store.idempotency.claimIdempotencyKey('k', 'f1', T0 + 500, leaseOf('B', T0 + 5_000)), { status: 'in-progress', owner: 'A', leaseUntil: T0 + 1_000 });
    t.equal(await store.idempotency.renewIdempotencyKey('k', 'A', T0 + 2_000), true, 'the owner renews its lease');
    t.equal(await store.idempotency.renewIdempotencyKey('k', 'B', T0 + 9_000), false, 'another process cannot');
    t.same(await store.idempotency.claimIdempotencyKey('k', 'f1', T0 + 2_000, leaseOf('B', T0 + 5_000)), { status: 'in-progress', owner: 'A', leaseUntil: T0 + 2_000 }, 'a lease lasts to its last instant');
    t.same(await store.idempotency.claimIdempotencyKey('k', 'f2', T0 + 2_001, leaseOf('B', T0 + 5_000)), { status: 'mismatch' }, 'a lapsed claim still refuses another body');
    t.same(await store.idempotency.claimIdempotencyKey('k', 'f1', T0 + 2_001, leaseOf('B', T0 + 5_000)), { status: 'taken-over', runId: 'run-A', txnNo: 'T9' }, 'lapsed: taken over, keeping what the first run recorded');
    t.same(await store.idempotency.claimIdempotencyKey('k', 'f1', T0 + 2_002, leaseOf('C', T0 + 9_000)), { status: 'in-progress', owner: 'B', leaseUntil: T0 + 5_000 });

    await store.idempotency.completeIdempotencyKey('k', 'A', { statusCode: 201, body: { from: 'A' } });
    await store.idempotency.releaseIdempotencyKey('k', 'A');
    t.equal(await store.idempotency.renewIdempotencyKey('k', 'A', T0 + 9_000), false, 'the first owner lost it');
    t.same(await store.idempotency.claimIdempotencyKey('k', 'f1', T0 + 2_003, leaseOf('C', T0 + 9_000)), { status: 'in-progress', owner: 'B', leaseUntil: T0 + 5_000 }, 'the first owner can neither answer nor release it');
    await store.idempotency.completeIdempotencyKey('k', 'B', { statusCode: 201, body: { from: 'B' } });
    t.same(await store.idempotency.claimIdempotencyKey('k', 'f1', T0 + 9_001, leaseOf('C', T0 + 9_000)), { status: 'done', response: { statusCode: 201, body: { from: 'B' } } }, 'the new owner answers it');

    t.same(await store.idempotency.claimIdempotencyKey('bare', 'f1', T0, leaseOf('A', T0 + 1_000, 'run-bare')), { status: 'claimed' });
    t.same(await store.idempotency.claimIdempotencyKey('bare', 'f1', T0 + 1_001, leaseOf('B', T0 + 5_000)), { status: 'taken-over', runId: 'run-bare', txnNo: null }, 'no transaction noted: none handed on');
  });

  withStore('of three retries racing for a lapsed claim exactly one takes it over', async (t, store) => {
    await store.idempotency.claimIdempotencyKey('k', 'f1', T0, leaseOf('A', T0 + 1_000));
    const claims = await Promise.all(['B', 'C', 'D'].map((owner) => store.idempotency.claimIdempotencyKey('k', 'f1', T0 + 2_000, leaseOf(owner, T0 + 6_000))));
    t.equal(claims.filter((c) => c.status === 'taken-over').length, 1);
    t.equal(claims.filter((c) => c.status === 'in-progress').length, 2, 'the others see it running under the winner');
  });

  // Each backend keeps its own time here (Redis expires a key on its own clock), so the test runs
  // on real time: a short retention (long enough that a busy machine does not outlast it between
  // two calls), and the purge's cutoff is now minus that retention.
  const RETENTION_MS = 2_500;
  withStore(
    'a record younger than the retention is replayed; one older is gone and the key can be claimed afresh',
    async (t, store) => {
      const purge = () => store.idempotency.purgeIdempotency(Date.now() - RETENTION_MS, 100);
      const answer = { statusCode: 201, body: { txnNo: 'T1' } };
      const live = () => leaseOf('A', Date.now() + 60_000);
      await store.idempotency.claimIdempotencyKey('done', 'f1', Date.now(), live());
      await store.idempotency.completeIdempotencyKey('done', 'A', answer);
      await store.idempotency.claimIdempotencyKey('cut-off', 'f1', Date.now(), live());
      await purge();
      t.same(await store.idempotency.claimIdempotencyKey('done', 'f1', Date.now(), live()), { status: 'done', response: answer }, 'replayed while younger than the retention');
      t.same(await store.idempotency.claimIdempotencyKey('done', 'f2', Date.now(), live()), { status: 'mismatch' }, 'and still refuses another body');
      t.equal((await store.idempotency.claimIdempotencyKey('cut-off', 'f1', Date.now(), live())).status, 'in-progress');
      await new Promise((r) => setTimeout(r, RETENTION_MS + 200));
      await purge();
      t.same(await store.idempotency.claimIdempotencyKey('done', 'f2', Date.now(), live()), { status: 'claimed' }, 'older: another body claims the key afresh');
      t.same(await store.idempotency.claimIdempotencyKey('cut-off', 'f2', Date.now(), live()), { status: 'claimed' }, 'a claim a crash left running goes too');
    },
    { idempotencyRetentionMs: RETENTION_MS },
  );

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

  withStore('feeds a follower every save stored after it starts, each transition with its txnNo, in order, and no stale write', async (t, store) => {
    await store.snapshots.save(record('T0'), 0, [entry('BEFORE')]);
    const stop = new AbortController();
    const limit = setTimeout(() => stop.abort(), PATIENCE_MS);
    t.teardown(() => {
      clearTimeout(limit);
      stop.abort();
    });
    const feed = await store.feed.follow(stop.signal);
    t.equal(feed.gap, null);
    await store.snapshots.save(record('T1'), 0, [entry('xstate.init'), entry('ORDER', T0 + 1)]);
    await store.snapshots.save(record('T1', { state: 'cancelled' }), 0, [entry('LOST')]);
    await store.snapshots.save(record('T2'), 0, [entry('xstate.init')]);
    await store.snapshots.save(record('T1', { state: 'ordered' }), 1, []);
    await store.snapshots.save(record('T1', { state: 'ordered' }), 2, [entry('PAY', T0 + 2)]);
    const seen: FeedTransition[] = [];
    for await (const e of feed) if (seen.push(e) === 4) break;
    t.same(seen.map((e) => [e.txnNo, e.event]), [['T1', 'xstate.init'], ['T1', 'ORDER'], ['T2', 'xstate.init'], ['T1', 'PAY']]);
    const { cursor, ...order } = seen[1]!;
    t.same(order, { txnNo: 'T1', ...entry('ORDER', T0 + 1) }, 'the journal entry as stored');
    const pattern = new RegExp(store.feed.cursorPattern);
    t.ok(seen.every((e) => pattern.test(e.cursor)), 'every cursor has the form the feed declares');
    t.not(seen[0]!.cursor, cursor, 'each transition has a place of its own, inside its save too');
    const resumed = await store.feed.follow(stop.signal, cursor);
    t.equal(resumed.gap, null);
    for await (const e of resumed) {
      t.same([e.txnNo, e.event], ['T2', 'xstate.init'], 'following from a cursor resumes with the transition after it');
      break;
    }
    const inside = await store.feed.follow(stop.signal, seen[0]!.cursor);
    const rest: string[] = [];
    for await (const e of inside) if (rest.push(`${e.txnNo} ${e.event}`) === 2) break;
    t.same(rest, ['T1 ORDER', 'T2 xstate.init'], 'following from inside a save resumes with the rest of it');
  });

  withStore('answers a cursor it never issued with a gap, and follows live from its latest place', async (t, store) => {
    await store.snapshots.save(record('T1'), 0, [entry('xstate.init')]);
    const stop = new AbortController();
    const limit = setTimeout(() => stop.abort(), PATIENCE_MS);
    t.teardown(() => {
      clearTimeout(limit);
      stop.abort();
    });
    const here = await store.feed.follow(stop.signal);
    await store.snapshots.save(record('T2'), 0, [entry('xstate.init')]);
    let latest = '';
    for await (const e of here) {
      latest = e.cursor;
      break;
    }
    const strange = await store.feed.follow(stop.signal, 'not a cursor');
    t.same(strange.gap, { reason: 'unknown', resumedAfter: latest }, 'resumed after the latest transition');
    await store.snapshots.save(record('T3'), 0, [entry('xstate.init')]);
    for await (const e of strange) {
      t.equal(e.txnNo, 'T3', 'then live');
      break;
    }
  });

  withStore('answers a ping', async (t, store) => {
    await store.ping();
    t.pass();
  });
}
