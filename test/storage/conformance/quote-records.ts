import type { Test } from 'tap';
import type { SaveQuote } from '../../../storage/types.ts';
import { eventually } from '../../helpers/harness.ts';
import { entry, record, type StoreFactory, storeTests, T0 } from './helpers.ts';

const HOUR = 3_600_000;

function quote(txnNo: string, over: Partial<SaveQuote> = {}): SaveQuote {
  return {
    txnNo,
    merchantId: 'M1',
    stationId: 'S1',
    // Opaque to the store, like a snapshot (DESIGN.md rule 9).
    snapshot: { status: 'active', value: 'quoted', context: { txnNo, note: 'opaque' } },
    stateValue: 'quoted',
    keepUntil: T0 + HOUR,
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

/** The QuoteRecords behaviours every storage backend shows (storage/types.ts, issue 21). */
export function quoteRecordsConformance(t: Test, make: StoreFactory): void {
  const withStore = storeTests(t, make);

  withStore('creates a quote record with its journal, and no snapshot', async (t, store) => {
    t.same(await store.quotes.save(quote('T1'), 0, [entry('xstate.init')]), { ok: true, version: 1 });
    t.same(await store.quotes.load('T1'), { ...quote('T1'), version: 1 });
    t.equal(await store.snapshots.load('T1'), null, 'no snapshot');
    t.same((await store.journal.entries('T1')).map((j) => j.event), ['xstate.init'], 'the journal entry is stored with it');
    t.equal(await store.quotes.load('T2'), null);
  });

  withStore('is written by compare-and-set: a second create and a stale writer get a conflict', async (t, store) => {
    await store.quotes.save(quote('T1'), 0, []);
    t.same(await store.quotes.save(quote('T1'), 0, []), { ok: false, conflict: true, actualVersion: 1 });
    t.same(await store.quotes.save(quote('T1', { stateValue: 'quoted', updatedAt: T0 + 5 }), 1, [entry('REQUOTE', T0 + 5)]), { ok: true, version: 2 });
    t.same(await store.quotes.save(quote('T1'), 1, [entry('LOST')]), { ok: false, conflict: true, actualVersion: 2 });
    t.same(await store.quotes.save(quote('T9'), 3, []), { ok: false, conflict: true, actualVersion: null }, 'nothing to update');
    t.same((await store.journal.entries('T1')).map((j) => j.event), ['REQUOTE'], 'a conflict writes no journal');
    t.equal((await store.quotes.load('T1'))?.updatedAt, T0 + 5);
  });

  withStore('the first snapshot continues the quote record\'s version and replaces it, keeping its journal', async (t, store) => {
    await store.quotes.save(quote('T1'), 0, [entry('xstate.init')]);
    await store.quotes.save(quote('T1'), 1, [entry('REQUOTE')]);
    t.same(await store.snapshots.save(record('T1', { state: 'ordering', stateValue: { ordering: 'creatingOrder' } }), 0, []), { ok: false, conflict: true, actualVersion: 2 }, 'no create beside a quote record');
    t.same(await store.snapshots.save(record('T1', { state: 'ordering' }), 1, []), { ok: false, conflict: true, actualVersion: 2 }, 'nor from a stale copy');
    t.same(await store.snapshots.save(record('T1', { state: 'ordering' }), 2, [entry('ORDER')]), { ok: true, version: 3 });
    t.equal(await store.quotes.load('T1'), null, 'the quote record is gone');
    t.equal((await store.snapshots.load('T1'))?.version, 3);
    t.same((await store.journal.entries('T1')).map((j) => j.event), ['xstate.init', 'REQUOTE', 'ORDER']);
    t.same(await store.quotes.save(quote('T1'), 2, []), { ok: false, conflict: true, actualVersion: 3 }, 'an ordered transaction takes no quote write');
    t.same(await store.quotes.save(quote('T1'), 0, []), { ok: false, conflict: true, actualVersion: 3 });
  });

  withStore('a record kept past its time goes with its journal (swept, or expired by itself); a kept one stays', async (t, store) => {
    await store.quotes.save(quote('T1', { keepUntil: T0 + 50 }), 0, [entry('xstate.init')]);
    await store.quotes.save(quote('T2'), 0, [entry('xstate.init')]);
    await eventually(async () => {
      await store.quotes.sweep(T0 + 100, 10);
      return store.quotes.load('T1');
    }, (q) => q === null);
    t.same(await store.journal.entries('T1'), [], 'its journal went with it');
    t.equal(await store.snapshots.load('T1'), null);
    t.equal((await store.quotes.load('T2'))?.version, 1, 'one kept longer stays');
    t.equal((await store.journal.entries('T2')).length, 1);
  });

  withStore('an ordered transaction\'s journal outlives its quote record\'s time', async (t, store) => {
    await store.quotes.save(quote('T1', { keepUntil: T0 + 50 }), 0, [entry('xstate.init')]);
    await store.snapshots.save(record('T1', { state: 'ordering' }), 1, [entry('ORDER')]);
    await store.quotes.sweep(T0 + 100, 10);
    // Past the record's TTL where keys expire by themselves.
    await new Promise((r) => setTimeout(r, 120));
    t.same((await store.journal.entries('T1')).map((j) => j.event), ['xstate.init', 'ORDER']);
    t.equal((await store.snapshots.load('T1'))?.version, 2);
  });
}
