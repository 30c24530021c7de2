import type { Test } from 'tap';
import { entry, record, type StoreFactory, storeTests, T0 } from './helpers.ts';

/** The Journal behaviours every storage backend shows (storage/types.ts). */
export function journalConformance(t: Test, make: StoreFactory): void {
  const withStore = storeTests(t, make);

  withStore('appends the journal of every save in order, with its data', async (t, store) => {
    await store.snapshots.save(record('T1'), 0, [entry('xstate.init'), entry('ORDER', T0 + 1)]);
    await store.snapshots.save(record('T1', { state: 'ordered' }), 1, [entry('PAY', T0 + 2)]);
    const journal = await store.journal.entries('T1');
    t.same(journal.map((j) => j.event), ['xstate.init', 'ORDER', 'PAY']);
    t.ok(journal.every((j, i) => i === 0 || j.seq > journal[i - 1]!.seq), 'sequence grows');
    t.same(journal[1], { ...journal[1], at: T0 + 1, actor: 'transaction', data: { n: 1 }, from: 'a', to: { b: 'c' } });
  });
}
