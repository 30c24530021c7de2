import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { openSqliteStorage } from '../../storage/sqlite/storage.ts';
import type { SaveRecord } from '../../storage/types.ts';

function record(txnNo: string, needsAttention = false): SaveRecord {
  return {
    txnNo, merchantId: 'M1', stationId: 'S1', orderNo: null, state: 'quoted', stateValue: 'quoted', snapshot: { value: 'quoted' },
    atRest: false, working: false, needsAttention, finalAt: null, timers: {}, osEvents: [], createdAt: 1, updatedAt: 1,
    tasks: [{ task: 'settlement', kind: 'settlement', system: 'settlement', core: false, maxAttempts: 3, payload: {} }],
  };
}

t.test('writes of one turn share a commit, and a failing write is rejected alone', async (t) => {
  const store = openSqliteStorage(join(t.testdir(), 'trade.db'));
  t.teardown(() => store.close());
  await store.snapshots.save(record('T1'), 0, []);

  // Issued in one turn: they land in one group commit.
  const saved = store.snapshots.save(record('T2'), 0, [{ at: 1, actor: 'transaction', event: 'xstate.init', data: {}, from: null, to: 'quoted' }]);
  const claimed = store.tasks.claimTask('T1', 'settlement', 2);
  const broken = store.snapshots.save({ ...record('T3'), snapshot: { amount: 1n } }, 0, []); // BigInt: JSON.stringify throws
  const conflict = store.snapshots.save(record('T1'), 0, []);

  t.same(await saved, { ok: true, version: 1 });
  t.equal(await claimed, true, 'the task claim in the same commit took effect');
  await t.rejects(broken, /BigInt/, 'the write that failed is rejected');
  t.same(await conflict, { ok: false, conflict: true, actualVersion: 1 }, 'a compare-and-set conflict is a value, not a failure');

  t.equal(await store.snapshots.load('T3'), null, 'nothing of the failed write is stored');
  t.equal((await store.snapshots.load('T2'))?.version, 1, 'the others are stored');
  t.equal((await store.journal.entries('T2')).length, 1);
  t.equal(await store.tasks.claimTask('T1', 'settlement', 3), false, 'a claimed task cannot be claimed twice');
});

t.test('an idempotency claim is atomic with the writes around it', async (t) => {
  const store = openSqliteStorage(join(t.testdir(), 'trade.db'));
  t.teardown(() => store.close());
  const lease = { owner: 'A', leaseUntil: Number.MAX_SAFE_INTEGER, runId: 'r' };
  const [first, second] = await Promise.all([store.idempotency.claimIdempotencyKey('k', 'f', 1, lease), store.idempotency.claimIdempotencyKey('k', 'f', 1, lease)]);
  t.same([first.status, second.status], ['claimed', 'in-progress'], 'two claims in one commit: one wins');
  await store.idempotency.completeIdempotencyKey('k', 'A', { statusCode: 201, body: { ok: true } });
  t.same(await store.idempotency.claimIdempotencyKey('k', 'f', 2, lease), { status: 'done', response: { statusCode: 201, body: { ok: true } } });
  t.same(await store.idempotency.claimIdempotencyKey('k', 'other', 2, lease), { status: 'mismatch' });
});

t.test('timer rows follow every version, also when another process wrote in between', async (t) => {
  const file = join(t.testdir(), 'trade.db');
  const mine = openSqliteStorage(file);
  const other = openSqliteStorage(file);
  t.teardown(async () => {
    await mine.close();
    await other.close();
  });
  const at = (timers: Record<string, number>) => ({ ...record('T1'), timers });
  await mine.snapshots.save(at({ expiry: 100 }), 0, []);
  await mine.snapshots.save(at({ expiry: 100 }), 1, []);
  t.same((await mine.snapshots.load('T1'))?.timers, { expiry: 100 }, 'an unchanged timer is still there');
  await other.snapshots.save(at({ query: 50 }), 2, []);
  t.same(await mine.snapshots.dueTimers(1_000, 10), [{ txnNo: 'T1', name: 'query', dueAt: 50 }]);
  // `mine` last wrote version 2 with `expiry`; version 3 is someone else's, so it writes in full.
  await mine.snapshots.save(at({ expiry: 100 }), 3, []);
  t.same(await mine.snapshots.dueTimers(1_000, 10), [{ txnNo: 'T1', name: 'expiry', dueAt: 100 }]);
  await mine.snapshots.save(at({}), 4, []);
  t.same(await mine.snapshots.dueTimers(1_000, 10), [], 'a disarmed timer is gone');
});

t.test('a file made before needsAttention was a column gets it, and the next save sets it from the record', async (t) => {
  const file = join(t.testdir(), 'trade.db');
  const before = openSqliteStorage(file);
  await before.snapshots.save(record('T1'), 0, []);
  await before.snapshots.save(record('T2'), 0, []);
  await before.close();
  const old = new Database(file);
  old.exec('DROP INDEX transactions_flagged; ALTER TABLE transactions DROP COLUMN needs_attention');
  old.close();

  const store = openSqliteStorage(file);
  t.teardown(() => store.close());
  t.same(await store.admin.listTransactions({ needsAttention: true, limit: 10 }), [], 'a store does not read snapshots to backfill it (DESIGN.md rule 9)');
  await store.snapshots.save(record('T1', true), 1, []);
  t.same((await store.admin.listTransactions({ needsAttention: true, limit: 10 })).map((r) => r.txnNo), ['T1']);
  t.equal((await store.admin.stats(0)).needsAttention, 1);
});
