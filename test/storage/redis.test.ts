import { randomUUID } from 'node:crypto';
import t from 'tap';
import type { RedisOsOutbox } from '../../storage/redis/os-outbox.ts';
import { createRedisStorage } from '../../storage/redis/storage.ts';
import { eventually, startHarness } from '../helpers/harness.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { storeConformance } from './conformance.ts';
import { entry, record, T0, task } from './conformance/helpers.ts';
import { schedulingConformance } from './scheduling-conformance.ts';

t.test('the Redis store', async (t) => {
  let url = process.env.REDIS_URL ?? '';
  if (!url) {
    const server = await startRedisServer();
    t.teardown(() => server.stop());
    url = server.url;
  }
  // A fresh prefix per test: the tests share one server and never see each other's keys.
  storeConformance(t, async (_t, options) => createRedisStorage({ url, prefix: `tc-test-${randomUUID().slice(0, 8)}`, ...options }));

  t.test('timers and tasks on Redis (BullMQ)', async (t) => {
    schedulingConformance(t, () => ({ storage: { kind: 'redis', url, prefix: `tc-test-${randomUUID().slice(0, 8)}` } }));
  });

  t.test('is ready while its Redis answers, and says so when it does not', async (t) => {
    const own = await startRedisServer();
    t.teardown(() => own.stop());
    const h = await startHarness(t, { config: { storage: { kind: 'redis', url: own.url, prefix: 'tc-ready' } } });
    const ready = await h.api<{ checks: Record<string, string> }>('GET', '/readyz');
    t.equal(ready.status, 200);
    t.equal(ready.body.checks.redis, 'ok');
    await own.kill();
    const down = await h.api<{ checks: Record<string, string> }>('GET', '/readyz');
    t.equal(down.status, 503);
    t.match(down.body.checks.redis, /did not answer/);
    await own.restart();
    const back = await eventually(() => h.api<{ checks: Record<string, string> }>('GET', '/readyz'), (r) => r.status === 200);
    t.equal(back.body.checks.redis, 'ok', 'ready again once Redis is back');
  });

  t.test('an idempotency key carries the retention as its TTL, claimed and completed, and a key gone is not written back', async (t) => {
    const retentionMs = 60_000;
    const prefix = `tc-test-${randomUUID().slice(0, 8)}`;
    const store = createRedisStorage({ url, prefix, idempotencyRetentionMs: retentionMs });
    t.teardown(() => store.close());
    const ttl = (key: string) => store.handle.redis.pttl(`${prefix}:idem:{${key}}`);
    await store.idempotency.claimIdempotencyKey('k1', 'f1', Date.now(), { owner: 'A', leaseUntil: Number.MAX_SAFE_INTEGER, runId: 'r' });
    const claimed = await ttl('k1');
    t.ok(claimed > 0 && claimed <= retentionMs, `a claim expires within the retention (PTTL ${claimed})`);
    await new Promise((r) => setTimeout(r, 100));
    const running = await ttl('k1');
    await store.idempotency.completeIdempotencyKey('k1', 'A', { statusCode: 201, body: {} });
    const completed = await ttl('k1');
    t.ok(completed > running && completed <= retentionMs, `completing keeps an expiry, renewed to the whole retention (PTTL ${running} → ${completed})`);
    t.equal(await store.idempotency.purgeIdempotency(Date.now(), 100), 0, 'Redis expires the keys itself');
    await store.idempotency.completeIdempotencyKey('never-claimed', 'A', { statusCode: 201, body: {} });
    t.equal(await ttl('never-claimed'), -2, 'completing a key no longer stored leaves it absent, not a key without expiry');
  });

  t.test('the sentinel index repairs the index entries of a save a crash cut off after its script, once they are older than a few seconds', async (t) => {
    const prefix = `tc-test-${randomUUID().slice(0, 8)}`;
    const store = createRedisStorage({ url, prefix });
    t.teardown(() => store.close());
    const idx = (name: string) => `${prefix}:{idx}:${name}`;
    const redis = store.handle.redis;
    const T0 = Date.parse('2026-11-25T04:00:00Z');
    const base = { txnNo: 'T1', merchantId: 'M1', stationId: 'S1', orderNo: null, stateValue: 'paying', snapshot: {}, atRest: false, needsAttention: false, finalAt: null, timers: {}, tasks: [], osEvents: [], createdAt: T0, updatedAt: T0 };
    await store.snapshots.save({ ...base, state: 'paying', working: true }, 0, []);
    // The next save's script ran (the record says completed) but the process died before the index writes after it.
    await redis.hset(`${prefix}:{T1}:txn`, 'state', 'completed', 'atRest', 1, 'working', 0, 'version', 2);
    await redis.zadd(idx('dirty'), T0, 'T1');
    t.equal(await store.sentinel.repairIndexes(T0 + 1_000), 0, 'a write marked dirty a moment ago may still be running: left alone');
    t.equal(await store.sentinel.repairIndexes(T0 + 10_000), 1, 'one transaction reindexed');
    t.same(
      [await redis.zscore(idx('working'), 'T1'), await redis.zscore(idx('active'), 'T1'), await redis.zscore(idx('state:paying'), 'T1'), await redis.zscore(idx('state:completed'), 'T1'), await redis.zscore(idx('dirty'), 'T1')],
      [null, null, null, '0', null],
      'its entries are those of the record as stored, and it is no longer dirty',
    );
  });

  t.test('OS events a crash cut off between the save script and their publishing are published by the repair pass, once', async (t) => {
    const prefix = `tc-test-${randomUUID().slice(0, 8)}`;
    const store = createRedisStorage({ url, prefix });
    t.teardown(() => store.close());
    const outbox = store.osOutbox as RedisOsOutbox;
    const T0 = Date.parse('2026-11-25T04:00:00Z');
    const placed = { eventId: 'O1:placed', orderNo: 'O1', kind: 'placed' as const, payload: { payableFen: 100 } };
    const base = { txnNo: 'T1', merchantId: 'M1', stationId: 'S1', orderNo: 'O1', state: 'ordered', stateValue: 'ordered', snapshot: {}, atRest: false, working: false, needsAttention: false, finalAt: null, timers: {}, tasks: [], osEvents: [placed], createdAt: T0, updatedAt: T0 };
    // The process dies after the save script and before the publish: the save is never answered.
    const publishSaved = outbox.publishSaved.bind(outbox);
    outbox.publishSaved = () => Promise.reject(new Error('killed'));
    await t.rejects(store.snapshots.save(base, 0, []), /killed/);
    outbox.publishSaved = publishSaved;
    t.equal((await store.snapshots.load('T1'))?.version, 1, 'the snapshot is stored');
    t.same(await store.osOutbox.events('S1', 0, 10), [], 'its event is not in the station outbox yet');
    t.equal(await store.osOutbox.repair(100), 1);
    t.same((await store.osOutbox.events('S1', 0, 10)).map((e) => [e.stationSeq, e.eventId, e.eventSeq, e.at]), [[1, 'O1:placed', 1, T0]]);
    t.equal(await store.osOutbox.repair(100), 0, 'nothing left listed');
    // A new process (no memory of what it stored) saves the next version listing the event again: stored once.
    const again = createRedisStorage({ url, prefix });
    t.teardown(() => again.close());
    await again.snapshots.save({ ...base, osEvents: [placed, { ...placed, eventId: 'O1:paid', kind: 'paid' as const }], updatedAt: T0 + 1 }, 1, []);
    t.same((await again.osOutbox.events('S1', 0, 10)).map((e) => [e.stationSeq, e.eventId, e.eventSeq]), [[1, 'O1:placed', 1], [2, 'O1:paid', 2]]);
  });

  t.test('an archived transaction leaves no key of its own behind, its OS events published first if a crash cut them off (issue 18: DBSIZE stays flat)', async (t) => {
    const prefix = `tc-test-${randomUUID().slice(0, 8)}`;
    const store = createRedisStorage({ url, prefix });
    t.teardown(() => store.close());
    const outbox = store.osOutbox as RedisOsOutbox;
    const placed = { eventId: 'O1:placed', orderNo: 'O1', kind: 'placed' as const, payload: { payableFen: 100 } };
    const paid = { eventId: 'O1:paid', orderNo: 'O1', kind: 'paid' as const, payload: { amountFen: 100 } };
    const paying = record('T1', { orderNo: 'O1', state: 'paying', stateValue: 'paying', timers: { 'leg-1/query': T0 + 10 }, tasks: [task('settlement')], osEvents: [placed] });
    await store.snapshots.save(paying, 0, [entry('xstate.init')]);
    // The final save's publish is cut off: its paid event is stored in the transaction's slot only.
    const publishSaved = outbox.publishSaved.bind(outbox);
    outbox.publishSaved = () => Promise.reject(new Error('killed'));
    await t.rejects(store.snapshots.save({ ...paying, state: 'completed', stateValue: 'completed', atRest: true, timers: {}, finalAt: T0 + 5, osEvents: [placed, paid], updatedAt: T0 + 5 }, 1, [entry('DONE')]), /killed/);
    outbox.publishSaved = publishSaved;
    t.ok(await store.snapshots.removeArchived('T1', 2));
    t.same(await store.handle.redis.keys(`${prefix}:{T1}:*`), [], 'snapshot, journal, tasks and OS events all gone');
    t.same((await store.osOutbox.events('S1', 0, 10)).map((e) => [e.stationSeq, e.eventId, e.eventSeq]), [[1, 'O1:placed', 1], [2, 'O1:paid', 2]], 'the cut-off event reached its station before its copy went');
    t.equal(await store.osOutbox.repair(100), 0, 'nothing left listed');
  });

  t.test("a trim empties the station's outbox of what OS took before the window; an archived order rehydrated after it re-sends its events under their own numbers (issue 18)", async (t) => {
    const prefix = `tc-test-${randomUUID().slice(0, 8)}`;
    const store = createRedisStorage({ url, prefix });
    t.teardown(() => store.close());
    const placed = { eventId: 'O1:placed', orderNo: 'O1', kind: 'placed' as const, payload: { payableFen: 100 } };
    const paid = { eventId: 'O1:paid', orderNo: 'O1', kind: 'paid' as const, payload: { amountFen: 100 } };
    const refunded = { eventId: 'O1:refunded:R1', orderNo: 'O1', kind: 'refunded' as const, payload: { amountFen: 10 } };
    const done = record('T1', { orderNo: 'O1', state: 'completed', atRest: true, finalAt: T0, osEvents: [placed, paid] });
    await store.snapshots.save(done, 0, [entry('DONE')]);
    t.ok(await store.osOutbox.advance('S1', 0, 2, T0 + 10));
    const archived = (await store.snapshots.load('T1'))!;
    const journal = await store.journal.entries('T1');
    t.ok(await store.snapshots.removeArchived('T1', archived.version));
    t.equal(await store.osOutbox.trim('S1', T0 + 1, 100), 2);
    const r = store.handle.redis;
    t.same([await r.hlen(`${prefix}:{os:S1}:events`), await r.hlen(`${prefix}:{os:S1}:ids`), await r.zcard(`${prefix}:{os:S1}:at`)], [0, 0, 0], 'events, ids and times all gone');
    t.ok(await store.snapshots.reinstate(archived, journal, []));
    await store.snapshots.save({ ...done, osEvents: [placed, paid, refunded], updatedAt: T0 + 20 }, archived.version, [entry('REFUND')]);
    t.same((await store.osOutbox.events('S1', 2, 10)).map((e) => [e.stationSeq, e.eventId, e.eventSeq]), [[3, 'O1:placed', 1], [4, 'O1:paid', 2], [5, 'O1:refunded:R1', 3]], 'OS gets the first two again under the numbers it has (it keeps them once) and the refund third');
  });

  t.test('warns when Redis could lose or evict acknowledged transactions', async (t) => {
    const store = createRedisStorage({ url, prefix: 'tc-durability' });
    t.teardown(() => store.close());
    const warnings = await store.handle.checkDurability();
    if (process.env.REDIS_URL) t.pass('an external Redis: its settings are its own');
    else t.same(warnings.map((w) => w.split(':')[0]), ['Redis runs with appendonly=no'], 'the test server runs without AOF and with noeviction');
  });
});
