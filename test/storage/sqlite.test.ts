import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { openSqliteStorage } from '../../storage/sqlite/storage.ts';
import { storeConformance } from './conformance.ts';
import { schedulingConformance } from './scheduling-conformance.ts';

t.test('the SQLite store', async (t) => {
  storeConformance(t, async (t) => openSqliteStorage(join(t.testdir(), 'trade.db')));
});

t.test('timers and tasks on SQLite (polling)', async (t) => {
  schedulingConformance(t, () => ({ storage: { kind: 'sqlite' } }));
});

t.test('purges idempotency records older than the cutoff in batches of the limit, and none younger', async (t) => {
  const T0 = Date.parse('2026-11-25T04:00:00Z');
  const store = openSqliteStorage(join(t.testdir(), 'trade.db'));
  t.teardown(() => store.close());
  const lease = { owner: 'A', leaseUntil: Number.MAX_SAFE_INTEGER, runId: 'r' };
  for (let i = 0; i < 5; i++) await store.idempotency.claimIdempotencyKey(`k${i}`, 'f1', T0 + i, lease);
  await store.idempotency.completeIdempotencyKey('k0', 'A', { statusCode: 201, body: {} });
  t.equal(await store.idempotency.purgeIdempotency(T0 + 3, 2), 2, 'a full batch');
  t.equal(await store.idempotency.purgeIdempotency(T0 + 3, 2), 1, 'the rest older than the cutoff');
  t.equal(await store.idempotency.purgeIdempotency(T0 + 3, 2), 0);
  t.equal((await store.idempotency.claimIdempotencyKey('k3', 'f1', T0 + 10, lease)).status, 'in-progress', 'a record created at the cutoff stays');
  t.equal((await store.idempotency.claimIdempotencyKey('k4', 'f1', T0 + 10, lease)).status, 'in-progress');
  for (const key of ['k0', 'k1', 'k2']) t.same(await store.idempotency.claimIdempotencyKey(key, 'f2', T0 + 10, lease), { status: 'claimed' }, `${key} is gone`);
});

t.test('a database file made before the purge gets an index on the records\' age', async (t) => {
  const path = join(t.testdir(), 'old.db');
  const old = new Database(path);
  old.exec('CREATE TABLE idempotency (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, status TEXT NOT NULL, response TEXT, created_at INTEGER NOT NULL)');
  old.close();
  await openSqliteStorage(path).close();
  const db = new Database(path, { readonly: true });
  t.teardown(() => db.close());
  const plan = db.prepare<[], { detail: string }>('EXPLAIN QUERY PLAN DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency WHERE created_at < 1 LIMIT 10)').all();
  t.match(plan.map((p) => p.detail).join('\n'), /USING (COVERING )?INDEX idempotency_created \(created_at<\?\)/, 'the purge finds old records without a scan');
});
