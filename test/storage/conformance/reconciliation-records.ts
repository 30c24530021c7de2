import type { Test } from 'tap';
import type { ReconciliationRecords, StoredDiscrepancy } from '../../../storage/types.ts';

const T0 = Date.parse('2026-12-02T02:00:00Z');

function found(ref: string, over: Partial<StoredDiscrepancy> = {}): Omit<StoredDiscrepancy, 'status' | 'resolution'> {
  return {
    id: `wechat:2026-12-01:channel_missing:${ref}`, channel: 'wechat', day: '2026-12-01', kind: 'channel_missing', ref, txnNo: ref.replace(/-P\d+$/, ''),
    evidence: { bill: null, platform: { paymentNo: ref, amountFen: 1234 } }, foundAt: T0, ...over,
  };
}

const run = (ranAt: number) => ({ channel: 'wechat', day: '2026-12-01', ranAt, totals: { billRows: 3, matched: 2 }, carry: { platform: [], matchedAhead: ['T9-P1'] } });

/** What every {@link ReconciliationRecords} backend must do; `open` gives a fresh, empty one for the test it is given (closed by the suite). */
export function reconciliationRecordsConformance(t: Test, open: (t: Test) => Promise<ReconciliationRecords>): void {
  const fresh = async (t: Test) => {
    const records = await open(t);
    t.teardown(() => records.close());
    return records;
  };

  t.test('keeps a run with its totals and carry-over, a re-run replacing it', async (t) => {
    const records = await fresh(t);
    t.equal(await records.run('wechat', '2026-12-01'), null);
    await records.saveRun(run(T0), []);
    t.same(await records.run('wechat', '2026-12-01'), run(T0));
    await records.saveRun({ ...run(T0 + 1000), totals: { billRows: 4, matched: 4 } }, []);
    t.same((await records.run('wechat', '2026-12-01'))?.totals, { billRows: 4, matched: 4 });
    t.equal(await records.run('alipay', '2026-12-01'), null, 'another channel has no run');
  });

  t.test('adds each discrepancy once: a re-run finding it again adds nothing and keeps its status', async (t) => {
    const records = await fresh(t);
    t.same(await records.saveRun(run(T0), [found('T1-P1'), found('T2-P1', { foundAt: T0 + 1 })]), [found('T1-P1').id, found('T2-P1').id]);
    await records.settle(found('T1-P1').id, 'resolved', { by: 'alice', accept: 'platform', note: 'the channel confirmed by phone', at: T0 + 5 });
    t.same(await records.saveRun(run(T0 + 10), [found('T1-P1', { foundAt: T0 + 10 }), found('T2-P1', { foundAt: T0 + 10 }), found('T3-P1', { foundAt: T0 + 10 })]), [found('T3-P1').id]);
    const day = await records.discrepancies('wechat', '2026-12-01');
    t.same(day.map((d) => [d.ref, d.status, d.foundAt]), [['T1-P1', 'resolved', T0], ['T2-P1', 'open', T0 + 1], ['T3-P1', 'open', T0 + 10]]);
    t.same(day[0]!.evidence, found('T1-P1').evidence, 'the evidence as given');
    t.same(await records.discrepancies('wechat', '2026-12-02'), []);
  });

  t.test('settles an open discrepancy once, with who and why; a second settling changes nothing', async (t) => {
    const records = await fresh(t);
    await records.saveRun(run(T0), [found('T1-P1')]);
    const id = found('T1-P1').id;
    const first = await records.settle(id, 'auto-fixed', { by: 'reconciler', note: 'queried: paid', at: T0 + 1 });
    t.equal(first?.status, 'auto-fixed');
    t.same(first?.resolution, { by: 'reconciler', note: 'queried: paid', at: T0 + 1 });
    const second = await records.settle(id, 'resolved', { by: 'bob', accept: 'channel', note: 'late', at: T0 + 2 });
    t.same(second, first, 'the first decision stands');
    t.equal(await records.settle('nope', 'resolved', { by: 'bob', note: 'x', at: T0 }), null);
    t.equal(await records.get('nope'), null);
  });
}
