import t from 'tap';
import { simulate } from '../../simulation/run.ts';

t.test('the same seed replays the same run: one digest of every ledger and journal', async (t) => {
  const options = { seed: 42, sales: 150, faults: 'heavy' as const, crashes: 2, backend: 'sqlite' as const };
  const first = await simulate(options);
  const second = await simulate(options);
  t.equal(second.digest, first.digest, 'same digest');
  t.equal(second.simulatedMs, first.simulatedMs, 'same simulated time');
  // Macrotask hops are not the run's: a test runner's own immediates add some.
  const { hops: _a, ...firstCounters } = first.counters;
  const { hops: _b, ...secondCounters } = second.counters;
  t.same(secondCounters, firstCounters, 'the same workload, faults and crashes happened');
  t.same(second.violations, first.violations);
});

t.test('another seed gives another run', async (t) => {
  const a = await simulate({ seed: 1, sales: 60, faults: 'default', crashes: 0, backend: 'sqlite' });
  const b = await simulate({ seed: 2, sales: 60, faults: 'default', crashes: 0, backend: 'sqlite' });
  t.not(a.digest, b.digest);
});
