import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import { feedKeepFromEnv, feedMaxLenFromEnv } from '../../runtime/bullmq-backend.ts';
import { createRedisStorage } from '../../storage/redis/storage.ts';
import type { FeedTransition, JournalEntry, SaveRecord } from '../../storage/types.ts';
import { eventually, startHarness } from '../helpers/harness.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { PATIENCE_MS } from '../helpers/deadlines.ts';

const T0 = Date.parse('2026-11-25T04:00:00Z');

function record(txnNo: string, state = 'quoted'): SaveRecord {
  return { txnNo, merchantId: 'M1', stationId: 'S1', orderNo: null, state, stateValue: state, snapshot: { value: state }, atRest: false, working: false, needsAttention: false, finalAt: null, timers: {}, tasks: [], osEvents: [], createdAt: T0, updatedAt: T0 };
}

function entry(event: string): JournalEntry {
  return { at: T0, actor: 'transaction', event, data: {}, from: 'a', to: 'b' };
}

/** The first `n` transitions of a feed, or what came within `ms`. */
async function take(feed: AsyncIterable<FeedTransition>, n: number, stop: AbortController, ms = PATIENCE_MS): Promise<FeedTransition[]> {
  const limit = setTimeout(() => stop.abort(), ms);
  const seen: FeedTransition[] = [];
  try {
    for await (const e of feed) if (seen.push(e) >= n) break;
  } finally {
    clearTimeout(limit);
  }
  return seen;
}

t.test('the transition feed on Redis', async (t) => {
  const server = await startRedisServer();
  t.teardown(() => server.stop());
  const prefix = () => `tc-feed-${randomUUID().slice(0, 8)}`;

  t.test('a follower sees the saves of every store on its prefix and none of another deployment', async (t) => {
    const shared = prefix();
    const [a, b, follower, elsewhere] = [shared, shared, shared, prefix()].map((p) => createRedisStorage({ url: server.url, prefix: p }));
    t.teardown(() => Promise.all([a, b, follower, elsewhere].map((s) => s!.close())));
    const stop = new AbortController();
    const feed = await follower!.feed.follow(stop.signal);
    await elsewhere!.snapshots.save(record('T9'), 0, [entry('OTHER-DEPLOYMENT')]);
    await a!.snapshots.save(record('T1'), 0, [entry('ON-A')]);
    await b!.snapshots.save(record('T2'), 0, [entry('ON-B')]);
    const seen = await take(feed, 2, stop);
    t.same(seen.map((e) => [e.txnNo, e.event]), [['T1', 'ON-A'], ['T2', 'ON-B']]);
  });

  t.test('following from a save the capped feed has trimmed reports the gap and goes on from the latest save', async (t) => {
    const p = prefix();
    const store = createRedisStorage({ url: server.url, prefix: p });
    t.teardown(() => store.close());
    for (let i = 1; i <= 5; i++) await store.snapshots.save(record(`T${i}`), 0, [entry('xstate.init'), entry('ORDER')]);
    const ids = (await eventually(() => store.handle.redis.xrange(`${p}:{idx}:feed`, '-', '+'), (entries) => entries.length === 5)).map(([id]) => id);
    // What the cap does with MAXLEN ~, exactly: T4 and T5 are kept.
    await store.handle.redis.xtrim(`${p}:{idx}:feed`, 'MAXLEN', 2);
    const stop = new AbortController();
    t.teardown(() => stop.abort());

    const trimmed = await store.feed.follow(stop.signal, ids[0]!);
    t.same(trimmed.gap, { reason: 'trimmed', resumedAfter: ids[4] }, 'saves after T1 are gone: a gap, resumed after the latest');
    const inside = await store.feed.follow(stop.signal, `${ids[1]!}/1`);
    t.same(inside.gap, { reason: 'trimmed', resumedAfter: ids[4] }, 'the rest of a trimmed save is gone whatever follows it');
    const kept = await store.feed.follow(stop.signal, ids[3]!);
    t.equal(kept.gap, null, 'from a save still kept: exact');
    const keptInside = await store.feed.follow(stop.signal, `${ids[3]!}/1`);
    t.equal(keptInside.gap, null);

    await store.snapshots.save(record('T6'), 0, [entry('xstate.init')]);
    t.same((await take(trimmed, 1, stop)).map((e) => e.txnNo), ['T6'], 'after a gap, live');
    t.same((await take(kept, 2, stop)).map((e) => `${e.txnNo} ${e.event}`), ['T5 xstate.init', 'T5 ORDER'], 'from a kept save, the saves after it');
    t.same((await take(keptInside, 2, stop)).map((e) => `${e.txnNo} ${e.event}`), ['T4 ORDER', 'T5 xstate.init'], 'from inside a kept save, the rest of it first');
  });

  t.test('following from an id the feed never reached is a gap, not a wait until its ids catch up', async (t) => {
    const store = createRedisStorage({ url: server.url, prefix: prefix() });
    t.teardown(() => store.close());
    const stop = new AbortController();
    t.teardown(() => stop.abort());
    const feed = await store.feed.follow(stop.signal, `${Date.now() + 86_400_000}-0`);
    t.same(feed.gap, { reason: 'unknown', resumedAfter: '0-0' }, 'no feed yet: resumed from its start');
    await store.snapshots.save(record('T1'), 0, [entry('xstate.init')]);
    t.same((await take(feed, 1, stop)).map((e) => e.txnNo), ['T1']);
  });

  t.test('stays near its cap however many saves go through it, while every journal keeps its entries', async (t) => {
    const p = prefix();
    // The cap as a deployment sets it: through the storage config of a running Trade Center.
    const h = await startHarness(t, { config: { storage: { kind: 'redis', url: server.url, prefix: p, feedMaxLen: 20 } } });
    const store = h.tc.storage.snapshots;
    const SAVES = 400;
    for (let i = 0; i < SAVES / 4; i++) {
      const txnNo = `T${i}`;
      await store.save(record(txnNo), 0, [entry('xstate.init')]);
      for (let v = 1; v < 4; v++) await store.save(record(txnNo, `s${v}`), v, [entry(`E${v}`)]);
    }
    const redis = h.tc.scaleOut!.storage.handle.redis;
    const length = await eventually(() => redis.xlen(`${p}:{idx}:feed`), (n) => n >= 20);
    // MAXLEN ~ trims whole stream nodes (stream-node-max-entries, 100 by default): a node's worth over at most.
    t.ok(length <= 20 + 100, `${length} entries after ${SAVES} saves with a cap of 20`);
    t.equal((await h.tc.storage.journal.entries('T0')).length, 4, 'the journal is the record: never trimmed with the feed');
  });

  t.test('keeps the saves of its window only: a save drops those older, well below the cap', async (t) => {
    const p = prefix();
    // The window as a deployment sets it: through the storage config of a running Trade Center.
    const h = await startHarness(t, { config: { storage: { kind: 'redis', url: server.url, prefix: p, feedKeepMs: 10_000 } } });
    const redis = h.tc.scaleOut!.storage.handle.redis;
    const key = `${p}:{idx}:feed`;
    // Saves of 30 s ago (out of the window), then of 2 s ago (in it): ids are Redis's time in ms.
    const now = Number((await redis.time())[0]) * 1000;
    for (let i = 1; i <= 300; i++) await redis.xadd(key, `${now - 30_000}-${i}`, 't', `OLD${i}`, 'j', '[]');
    for (let i = 1; i <= 100; i++) await redis.xadd(key, `${now - 2_000}-${i}`, 't', `RECENT${i}`, 'j', '[]');
    const stop = new AbortController();
    t.teardown(() => stop.abort());
    await h.tc.storage.snapshots.save(record('T1'), 0, [entry('xstate.init')]);
    const kept = await eventually(() => redis.xrange(key, '-', '+'), (entries) => entries.some(([, f]) => f[1] === 'T1'));
    const txns = kept.map(([, f]) => f[1]!);
    const old = txns.filter((t) => t.startsWith('OLD')).length;
    // MINID ~ drops whole stream nodes (100 entries at most): of the old ones, a node's worth may stay.
    t.ok(old <= 100, `${old} of 300 saves older than the window left (cap 20,000: not what trimmed them)`);
    t.equal(txns.filter((t) => t.startsWith('RECENT')).length, 100, 'the saves inside the window all stay');
    const first = await h.tc.storage.feed.follow(stop.signal, `${now - 30_000}-1`);
    t.same(first.gap?.reason, 'trimmed', 'a reader resuming from a save out of the window is told of the gap');
  });

  t.test('a failed append is logged and the save stands', async (t) => {
    const p = prefix();
    const lines: { level: number; msg: string; txnNo?: string }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as (typeof lines)[number]);
        done();
      },
    });
    const store = createRedisStorage({ url: server.url, prefix: p, log: pino({ level: 'warn' }, sink) });
    t.teardown(() => store.close());
    // A key of another type in the feed's place: every XADD to it fails.
    await store.handle.redis.set(`${p}:{idx}:feed`, 'not a stream');
    t.same(await store.snapshots.save(record('T1'), 0, [entry('xstate.init')]), { ok: true, version: 1 });
    t.same(await store.snapshots.save(record('T1', 'ordered'), 1, [entry('ORDER')]), { ok: true, version: 2 }, 'the next save too');
    t.same((await store.journal.entries('T1')).map((e) => e.event), ['xstate.init', 'ORDER']);
    const warned = await eventually(async () => lines.filter((l) => l.msg === 'appending to the transition feed failed'), (ls) => ls.length === 2);
    t.same(warned.map((l) => [l.level, l.txnNo]), [[40, 'T1'], [40, 'T1']], 'one warning per lost append, naming the transaction');
  });

  t.test('TRADE_REDIS_FEED_KEEP sets the window, and a bad value stops the start with its name', async (t) => {
    t.equal(feedKeepFromEnv({}), undefined, 'unset: the store default');
    t.equal(feedKeepFromEnv({ TRADE_REDIS_FEED_KEEP: '5m' }), 300_000);
    for (const bad of ['0s', '-1s', '10', 'long', ''])
      t.throws(() => feedKeepFromEnv({ TRADE_REDIS_FEED_KEEP: bad }), /TRADE_REDIS_FEED_KEEP: not a duration/, JSON.stringify(bad));
  });

  t.test('TRADE_REDIS_FEED_MAXLEN sets the cap, and a bad value stops the start with its name', async (t) => {
    t.equal(feedMaxLenFromEnv({}), undefined, 'unset: the store default');
    t.equal(feedMaxLenFromEnv({ TRADE_REDIS_FEED_MAXLEN: '5000' }), 5000);
    for (const bad of ['0', '-1', '1.5', 'many', ''])
      t.throws(() => feedMaxLenFromEnv({ TRADE_REDIS_FEED_MAXLEN: bad }), /TRADE_REDIS_FEED_MAXLEN: not a positive integer/, JSON.stringify(bad));
  });
});
