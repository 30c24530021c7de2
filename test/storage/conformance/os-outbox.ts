import type { Test } from 'tap';
import type { OsEventSpec } from '../../../storage/types.ts';
import { entry, record, storeTests, T0, task, type StoreFactory } from './helpers.ts';

const placed = (orderNo: string): OsEventSpec => ({ eventId: `${orderNo}:placed`, orderNo, kind: 'placed', payload: { payableFen: 3000 } });
const paid = (orderNo: string): OsEventSpec => ({ eventId: `${orderNo}:paid`, orderNo, kind: 'paid', payload: { amountFen: 3000 } });
const refunded = (orderNo: string, refundNo: string): OsEventSpec => ({ eventId: `${orderNo}:refunded:${refundNo}`, orderNo, kind: 'refunded', payload: { refundNo, amountFen: 100 } });

/** The OsOutbox part of the conformance suite: events come with the snapshot saves. */
export async function osOutboxConformance(t: Test, make: StoreFactory): Promise<void> {
  const test = storeTests(t, make);

  test('a save stores its new order events once each, numbered per order and per station, in the order listed', async (t, store) => {
    t.equal((await store.snapshots.save(record('T1', { stationId: 'S1', orderNo: 'O1', osEvents: [placed('O1')] }), 0, [])).ok, true);
    t.equal((await store.snapshots.save(record('T2', { stationId: 'S1', orderNo: 'O2', osEvents: [placed('O2'), paid('O2')], updatedAt: T0 + 5 }), 0, [])).ok, true);
    // Every later save lists the events so far again: nothing is stored twice.
    t.equal((await store.snapshots.save(record('T1', { stationId: 'S1', orderNo: 'O1', osEvents: [placed('O1'), paid('O1')], updatedAt: T0 + 10 }), 1, [])).ok, true);
    t.equal((await store.snapshots.save(record('T1', { stationId: 'S1', orderNo: 'O1', osEvents: [placed('O1'), paid('O1'), refunded('O1', 'R1')], updatedAt: T0 + 20 }), 2, [])).ok, true);
    t.equal((await store.snapshots.save(record('T3', { stationId: 'S2', orderNo: 'O3', osEvents: [placed('O3')] }), 0, [])).ok, true);
    const s1 = await store.osOutbox.events('S1', 0, 100);
    t.same(s1.map((e) => [e.stationSeq, e.orderNo, e.eventSeq, e.kind, e.txnNo, e.at]), [
      [1, 'O1', 1, 'placed', 'T1', T0],
      [2, 'O2', 1, 'placed', 'T2', T0 + 5],
      [3, 'O2', 2, 'paid', 'T2', T0 + 5],
      [4, 'O1', 2, 'paid', 'T1', T0 + 10],
      [5, 'O1', 3, 'refunded', 'T1', T0 + 20],
    ]);
    t.same(s1[4]!.payload, { refundNo: 'R1', amountFen: 100 });
    t.same((await store.osOutbox.events('S1', 3, 1)).map((e) => e.stationSeq), [4], 'read on after a sequence, at most the limit');
    t.same(await store.osOutbox.cursors(), [
      { stationId: 'S1', deliveredSeq: 0, deliveredAt: null, headSeq: 5, pending: 5 },
      { stationId: 'S2', deliveredSeq: 0, deliveredAt: null, headSeq: 1, pending: 1 },
    ]);
    t.same(await store.osOutbox.cursor('S9'), { stationId: 'S9', deliveredSeq: 0, deliveredAt: null, headSeq: 0, pending: 0 });
  });

  test('an archived order rehydrated for a refund: its refund event is numbered next, its earlier events are not stored again (issue 18)', async (t, store) => {
    await store.snapshots.save(record('T1', { orderNo: 'O1', osEvents: [placed('O1')] }), 0, []);
    await store.snapshots.save(record('T1', { orderNo: 'O1', state: 'completed', atRest: true, finalAt: T0 + 5, osEvents: [placed('O1'), paid('O1')] }), 1, [entry('DONE')]);
    await store.snapshots.save(record('T2', { orderNo: 'O2', osEvents: [placed('O2')], updatedAt: T0 + 6 }), 0, []);
    const archived = (await store.snapshots.load('T1'))!;
    const journal = await store.journal.entries('T1');
    t.ok(await store.snapshots.removeArchived('T1', archived.version), 'archived: gone from the hot store');
    t.ok(await store.snapshots.reinstate(archived, journal, []), 'rehydrated for a refund');
    const refund = record('T1', { orderNo: 'O1', state: 'completed', atRest: true, finalAt: T0 + 30, osEvents: [placed('O1'), paid('O1'), refunded('O1', 'R1')], updatedAt: T0 + 30 });
    t.same(await store.snapshots.save(refund, archived.version, [entry('REFUND')]), { ok: true, version: archived.version + 1 });
    await store.osOutbox.repair(100);
    t.same((await store.osOutbox.events('S1', 0, 100)).map((e) => [e.stationSeq, e.orderNo, e.eventSeq, e.kind]), [
      [1, 'O1', 1, 'placed'],
      [2, 'O1', 2, 'paid'],
      [3, 'O2', 1, 'placed'],
      [4, 'O1', 3, 'refunded'],
    ], 'placed and paid once each; the refund third of its order, fourth of the station');
  });

  test('a trim lets go only of delivered events older than the window, oldest first: reads after the cursor and a rewind still find every event kept, without a gap', async (t, store) => {
    await store.snapshots.save(record('T1', { orderNo: 'O1', osEvents: [placed('O1')], updatedAt: T0 }), 0, []);
    await store.snapshots.save(record('T2', { orderNo: 'O2', osEvents: [placed('O2'), paid('O2')], updatedAt: T0 + 1_000 }), 0, []);
    await store.snapshots.save(record('T3', { orderNo: 'O3', osEvents: [placed('O3')], updatedAt: T0 + 2_000 }), 0, []);
    t.ok(await store.osOutbox.advance('S1', 0, 3, T0 + 2_500));
    const dropped = await store.osOutbox.trim('S1', T0 + 1_500, 100);
    t.equal(dropped, 3, 'the three delivered ones recorded before the window go (O1 placed; O2 placed and paid)');
    t.equal(await store.osOutbox.trim('S1', T0 + 1_000_000, 100), 0, 'the undelivered one stays, however old');
    t.same((await store.osOutbox.events('S1', 3, 10)).map((e) => [e.stationSeq, e.orderNo]), [[4, 'O3']], 'what comes after the cursor is all there');
    t.same(await store.osOutbox.cursor('S1'), { stationId: 'S1', deliveredSeq: 3, deliveredAt: T0 + 2_500, headSeq: 4, pending: 1 }, 'the cursor is untouched');
    const back = await store.osOutbox.rewind('S1', T0);
    t.equal(back, 3, 'a rewind goes back no further than the oldest event kept');
    t.same((await store.osOutbox.events('S1', back, 10)).map((e) => e.stationSeq), Array.from({ length: 4 - back }, (_, i) => back + 1 + i), 're-sent from there on, without a gap');
    t.ok(await store.osOutbox.advance('S1', back, 4, T0 + 3_000));
    await store.snapshots.save(record('T4', { orderNo: 'O4', osEvents: [placed('O4')], updatedAt: T0 + 3_000 }), 0, []);
    t.equal(await store.osOutbox.trim('S1', T0 + 2_500, 1), 1, 'at most the limit (O3, delivered again and old)');
    t.equal(await store.osOutbox.trim('S1', T0 + 1_000_000, 10), 0, 'O4 is not delivered yet: it stays');
    t.same((await store.osOutbox.events('S1', 4, 10)).map((e) => e.stationSeq), [5]);
    t.same((await store.osOutbox.events('S1', 4, 10)).map((e) => [e.stationSeq, e.orderNo]), [[5, 'O4']], 'new events number on from the head');
  });

  test('a hot order whose delivered events were trimmed: a later refund is numbered next, its earlier events are not numbered again', async (t, store) => {
    await store.snapshots.save(record('T1', { orderNo: 'O1', osEvents: [placed('O1'), paid('O1')], updatedAt: T0 }), 0, []);
    await store.osOutbox.repair(100);
    t.ok(await store.osOutbox.advance('S1', 0, 2, T0 + 10));
    t.equal(await store.osOutbox.trim('S1', T0 + 86_400_000, 100), 2, 'both delivered and old: let go');
    // The next save lists every event of the order again, and the refund.
    t.same(await store.snapshots.save(record('T1', { orderNo: 'O1', osEvents: [placed('O1'), paid('O1'), refunded('O1', 'R1')], updatedAt: T0 + 86_400_000 }), 1, []), { ok: true, version: 2 });
    await store.osOutbox.repair(100);
    const after = await store.osOutbox.events('S1', 2, 100);
    t.ok(after.some((e) => e.kind === 'refunded'), 'the refund is there to deliver');
    // Redis may publish the trimmed ones again under their own numbers (OS keeps each once); none is renumbered.
    t.same(
      after.map((e) => [e.kind, e.eventSeq]).filter(([kind]) => kind !== 'placed' && kind !== 'paid'),
      [['refunded', 3]],
      'the refund third of its order, once',
    );
    t.ok(after.every((e) => (e.kind === 'placed' && e.eventSeq === 1) || (e.kind === 'paid' && e.eventSeq === 2) || e.kind === 'refunded'), 'placed stays 1 and paid 2');
  });

  test('a station lease is held by one owner at a time, renewed by its owner, taken over once lapsed, let go only by its owner', async (t, store) => {
    const o = store.osOutbox;
    t.equal(await o.leaseStation('S1', 'A', T0, T0 + 1_000), true, 'free: taken');
    t.equal(await o.leaseStation('S1', 'B', T0 + 10, T0 + 1_010), false, 'held by A');
    t.equal(await o.leaseStation('S2', 'B', T0 + 10, T0 + 1_010), true, 'another station is its own');
    t.equal(await o.leaseStation('S1', 'A', T0 + 500, T0 + 1_500), true, 'A renews');
    t.equal(await o.leaseStation('S1', 'B', T0 + 1_200, T0 + 2_200), false, 'the renewal counts: still A\'s');
    await o.releaseStation('S1', 'B');
    t.equal(await o.leaseStation('S1', 'B', T0 + 1_300, T0 + 2_300), false, 'B cannot let go of A\'s lease');
    t.equal(await o.leaseStation('S1', 'B', T0 + 1_500, T0 + 2_500), true, 'lapsed (A died): B takes over');
    t.equal(await o.leaseStation('S1', 'A', T0 + 1_600, T0 + 2_600), false, 'and A, back, does not get it');
    await o.releaseStation('S1', 'B');
    t.equal(await o.leaseStation('S1', 'A', T0 + 1_700, T0 + 2_700), true, 'let go by B: free');
  });

  test('a save that loses its compare-and-set stores none of its events', async (t, store) => {
    await store.snapshots.save(record('T1', { orderNo: 'O1', osEvents: [placed('O1')] }), 0, []);
    const lost = await store.snapshots.save(record('T1', { orderNo: 'O1', osEvents: [placed('O1'), paid('O1')] }), 7, []);
    t.equal(lost.ok, false);
    await store.osOutbox.repair(100);
    t.same((await store.osOutbox.events('S1', 0, 100)).map((e) => e.kind), ['placed']);
  });

  test('the first snapshot of a quoted-only transaction stores its order events and its tasks, and the quote record goes', async (t, store) => {
    const quote = { txnNo: 'T1', merchantId: 'M1', stationId: 'S1', snapshot: { status: 'active', value: 'quoted', context: { txnNo: 'T1' } }, stateValue: 'quoted', keepUntil: T0 + 3_600_000, createdAt: T0, updatedAt: T0 };
    t.same(await store.quotes.save(quote, 0, [entry('xstate.init')]), { ok: true, version: 1 });
    const first = record('T1', { state: 'ordering', orderNo: 'O1', osEvents: [placed('O1')], tasks: [task('reserve'), task('notify')], updatedAt: T0 + 10 });
    t.same(await store.snapshots.save(first, 1, [entry('ORDER', T0 + 10)]), { ok: true, version: 2 });
    t.equal(await store.quotes.load('T1'), null, 'the quote record is gone');
    t.same((await store.osOutbox.events('S1', 0, 100)).map((e) => [e.stationSeq, e.orderNo, e.eventSeq, e.kind, e.txnNo]), [[1, 'O1', 1, 'placed', 'T1']]);
    t.same((await store.tasks.tasksOf('T1')).map((r) => [r.task, r.status]).sort(), [['notify', 'pending'], ['reserve', 'pending']]);
    t.same((await store.journal.entries('T1')).map((j) => j.event), ['xstate.init', 'ORDER']);
    // The next save lists the same events and tasks again, and one more of each.
    t.same(await store.snapshots.save(record('T1', { state: 'paying', orderNo: 'O1', osEvents: [placed('O1'), paid('O1')], tasks: [task('reserve'), task('notify'), task('settle')], updatedAt: T0 + 20 }), 2, []), { ok: true, version: 3 });
    t.same((await store.osOutbox.events('S1', 0, 100)).map((e) => [e.eventSeq, e.kind]), [[1, 'placed'], [2, 'paid']]);
    t.same((await store.tasks.tasksOf('T1')).map((r) => r.task).sort(), ['notify', 'reserve', 'settle']);
  });

  test('the cursor moves by compare-and-set, never past the head, and a rewind puts it back before a date', async (t, store) => {
    await store.snapshots.save(record('T1', { orderNo: 'O1', osEvents: [placed('O1'), paid('O1')], updatedAt: T0 }), 0, []);
    await store.snapshots.save(record('T2', { orderNo: 'O2', osEvents: [placed('O2'), paid('O2')], updatedAt: T0 + 1_000 }), 0, []);
    t.equal(await store.osOutbox.advance('S1', 0, 2, T0 + 50), true);
    t.equal(await store.osOutbox.advance('S1', 0, 3, T0 + 60), false, 'not from where it is');
    t.equal(await store.osOutbox.advance('S1', 2, 5, T0 + 60), false, 'not past the head');
    t.equal(await store.osOutbox.advance('S1', 2, 4, T0 + 70), true);
    t.same(await store.osOutbox.cursor('S1'), { stationId: 'S1', deliveredSeq: 4, deliveredAt: T0 + 70, headSeq: 4, pending: 0 });
    t.equal(await store.osOutbox.rewind('S1', T0 + 500), 2, 'back before the first event at or after the date');
    t.equal(await store.osOutbox.rewind('S1', T0 + 5_000), 2, 'never forward');
    t.equal((await store.osOutbox.cursor('S1')).pending, 2);
  });

  test('the group switch is set and journalled, newest change first', async (t, store) => {
    t.same(await store.osOutbox.readsOnlineGroups(), []);
    t.same(await store.osOutbox.setGroup('G1', true, 'ops', T0), { seq: 1, group: 'G1', readsOnline: true, by: 'ops', at: T0 });
    await store.osOutbox.setGroup('G2', true, 'ops', T0 + 1);
    await store.osOutbox.setGroup('G2', false, 'lead', T0 + 2);
    t.same(await store.osOutbox.readsOnlineGroups(), ['G1']);
    t.same((await store.osOutbox.groupChanges(2)).map((c) => [c.seq, c.group, c.readsOnline, c.by]), [[3, 'G2', false, 'lead'], [2, 'G2', true, 'ops']]);
  });
}
