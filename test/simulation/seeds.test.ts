import t from 'tap';
import { simulate } from '../../simulation/run.ts';
import { isIssue15 } from './known.ts';

// A handful of seeds, each a few hundred sales under the default fault weather with a crash:
// every invariant holds at the end (issue-15 items aside, see known.ts).
for (const seed of [101, 202, 303]) {
  t.test(`seed ${seed}: 300 sales with default faults and a crash break no money invariant`, async (t) => {
    const result = await simulate({ seed, sales: 300, faults: 'default', crashes: 1, backend: 'sqlite' });
    const known = result.violations.filter(isIssue15);
    for (const v of known) t.comment(`issue 15 (fixed elsewhere): ${v.invariant} ${v.txnNo ?? ''} ${v.message}`);
    t.same(result.violations.filter((v) => !isIssue15(v)), [], 'no violations');
    t.equal(result.crashes, 1, 'the platform crashed and came back once');
    t.ok((result.counters['pay:202'] ?? 0) + (result.counters['pay:200'] ?? 0) > 0, 'sales were paid');
    t.ok((result.counters['refund:202'] ?? 0) > 0, 'refunds were accepted');
  });
}

t.test('a run without faults or crashes breaks no invariant at all', async (t) => {
  const result = await simulate({ seed: 7, sales: 200, faults: 'none', crashes: 0, backend: 'sqlite' });
  t.same(result.violations, []);
});
