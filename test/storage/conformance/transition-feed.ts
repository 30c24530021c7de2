import type { Test } from 'tap';
import type { FeedTransition } from '../../../storage/types.ts';
import { PATIENCE_MS } from '../../helpers/deadlines.ts';
import { entry, record, type StoreFactory, storeTests, T0 } from './helpers.ts';

/** The TransitionFeed behaviours every storage backend shows (storage/types.ts). */
export function transitionFeedConformance(t: Test, make: StoreFactory): void {
  const withStore = storeTests(t, make);

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
}
