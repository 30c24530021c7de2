import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { key, openSims } from './helpers.ts';

t.test('a simulated call answers only once its effect is committed, and the calls of one turn share the commit', async (t) => {
  const file = join(t.testdir(), 'sim.db');
  const sims = openSims(t, { dbPath: file });
  // Another connection sees only what is committed: what a crash of the simulators' process would keep.
  const outside = new Database(file, { readonly: true });
  t.teardown(() => outside.close());
  const committed = (k: string) => outside.prepare<[string], { n: number }>("SELECT count(*) AS n FROM effects WHERE system = 'storedValue' AND key = ?").get(k)!.n;

  const calls = ['T1', 'T2', 'T3'].map((txnNo) => sims.systems.storedValue.lock(key(txnNo, 'leg-1:lock'), { lockKey: `${txnNo}:leg-1`, cardNo: 'C1', amountFen: 100 }));
  const first = await calls[0]!;
  t.ok(first.ok);
  t.same(['T1', 'T2', 'T3'].map((txnNo) => committed(`${txnNo}:leg-1:lock`)), [1, 1, 1], 'answered after the commit, which held all three calls of the turn');
  for (const call of await Promise.all(calls)) t.ok(call.ok);

  const again = await sims.systems.storedValue.lock(key('T1', 'leg-1:lock'), { lockKey: 'T1:leg-1', cardNo: 'C1', amountFen: 100 });
  t.same(again, first, 'a repeated key answers the first result');
  t.equal(committed('T1:leg-1:lock'), 1, 'and has no second effect');
});
