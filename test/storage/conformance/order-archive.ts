import fc from 'fast-check';
import type { Test } from 'tap';
import { chinaDay } from '../../../storage/archive/china-day.ts';
import type { OrderArchive, OrderFilter, OrderGroupKey, OrderMovement, OrderRow, OrderSummaryRow } from '../../../storage/types.ts';
import { archiveEntry, leg, METHODS, orderRow, randomOrderRow, seededRandom } from './archive-fixtures.ts';
import { T0 } from './helpers.ts';

/** Builds a fresh, empty archive for one test; the suite closes it. */
export type ArchiveFactory = (t: Test) => Promise<OrderArchive>;

/** What a filter keeps, said once over plain rows: the brute force every backend's queries are held to. */
function matches(row: OrderRow, f: OrderFilter): boolean {
  return (
    (f.merchantIds === undefined || f.merchantIds.includes(row.merchantId)) &&
    (f.stationId === undefined || row.stationId === f.stationId) &&
    (f.scene === undefined || row.scene === f.scene) &&
    (f.state === undefined || row.state === f.state) &&
    (f.origin === undefined || row.origin === f.origin) &&
    (f.osOrderNo === undefined || row.osOrderNo === f.osOrderNo) &&
    (f.fromMs === undefined || row.createdAt >= f.fromMs) &&
    (f.toMs === undefined || row.createdAt < f.toMs) &&
    (f.method === undefined || row.legs.some((l) => l.method === f.method))
  );
}

function newestFirst(a: OrderRow, b: OrderRow): number {
  return b.createdAt - a.createdAt || (a.txnNo < b.txnNo ? 1 : a.txnNo > b.txnNo ? -1 : 0);
}

/** The summary by its definition (storage/types.ts OrderSummaryRow), summed row by row. */
function bruteSummary(rows: OrderRow[], filter: OrderFilter, groupBy: OrderGroupKey[]): OrderSummaryRow[] {
  const groups = new Map<string, OrderSummaryRow>();
  const add = (row: OrderRow, method: string | null, paid: number, refunded: number) => {
    const g = {
      day: groupBy.includes('day') ? chinaDay(row.createdAt) : null,
      stationId: groupBy.includes('station') ? row.stationId : null,
      method: groupBy.includes('method') ? method : null,
    };
    const key = JSON.stringify(g);
    const s = groups.get(key) ?? { ...g, count: 0, originalAmountFen: 0, discountAmountFen: 0, payableAmountFen: 0, paidAmountFen: 0, refundedAmountFen: 0 };
    s.count++;
    s.originalAmountFen += row.originalAmountFen;
    s.discountAmountFen += row.discountAmountFen;
    s.payableAmountFen += row.payableAmountFen;
    s.paidAmountFen += paid;
    s.refundedAmountFen += refunded;
    groups.set(key, s);
  };
  for (const row of rows.filter((r) => matches(r, filter))) {
    if (!groupBy.includes('method')) {
      add(row, null, row.paidAmountFen, row.refundedAmountFen);
      continue;
    }
    for (const method of new Set(row.legs.map((l) => l.method))) {
      const paid = row.legs.filter((l) => l.method === method && l.capturedAt !== null).reduce((s, l) => s + l.amountFen, 0);
      const refunded = row.refunds.flatMap((r) => r.legs).filter((l) => l.method === method && l.refundedAt !== null).reduce((s, l) => s + l.amountFen, 0);
      add(row, method, paid, refunded);
    }
  }
  // Totals over no rows at all: one row of zeros, as a sum over nothing is.
  if (!groups.size && !groupBy.length) return [{ day: null, stationId: null, method: null, count: 0, originalAmountFen: 0, discountAmountFen: 0, payableAmountFen: 0, paidAmountFen: 0, refundedAmountFen: 0 }];
  return sortSummary([...groups.values()]);
}

function sortSummary(rows: OrderSummaryRow[]): OrderSummaryRow[] {
  const key = (r: OrderSummaryRow) => `${r.day ?? ''}|${r.stationId ?? ''}|${r.method ?? ''}`;
  return [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

async function allPages(archive: OrderArchive, filter: OrderFilter, limit: number): Promise<OrderRow[]> {
  const rows: OrderRow[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await archive.search(filter, limit, cursor);
    rows.push(...page.rows);
    cursor = page.nextCursor;
    if (cursor === null) return rows;
  }
  throw new Error('search never ended');
}

async function collect(movements: AsyncIterable<OrderMovement>): Promise<OrderMovement[]> {
  const all: OrderMovement[] = [];
  for await (const m of movements) all.push(m);
  return all;
}

/** Usually absent, so that a filter combines a few conditions and still matches rows. */
function sometimes<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: arb, weight: 1 });
}

const filterArb: fc.Arbitrary<OrderFilter> = fc
  .record({
    merchantIds: sometimes(fc.subarray(['M1', 'M2', 'M3', 'M9'])),
    stationId: sometimes(fc.constantFrom('S1', 'S2', 'S3', 'S4', 'S9')),
    scene: sometimes(fc.constantFrom('merchant_pos', 'self_service', 'senseless')),
    state: sometimes(fc.constantFrom('completed' as const, 'cancelled' as const, 'failed' as const)),
    method: sometimes(fc.constantFrom(...METHODS, 'cash')),
    origin: sometimes(fc.constantFrom('platform' as const, 'os-import' as const)),
    osOrderNo: sometimes(fc.constantFrom('OS1', 'OS2', 'OS7', 'OS40', 'OS-none')),
    fromMs: sometimes(fc.integer({ min: T0 - 86_400_000, max: T0 + 90 * 86_400_000 })),
    toMs: sometimes(fc.integer({ min: T0, max: T0 + 100 * 86_400_000 })),
  })
  .map((f) => Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)) as OrderFilter);

const groupArb = fc.subarray<OrderGroupKey>(['day', 'station', 'method']);

/** The OrderArchive behaviours every archive backend shows (storage/types.ts). */
export function orderArchiveConformance(t: Test, make: ArchiveFactory): void {
  const withArchive = (name: string, body: (t: Test, archive: OrderArchive) => Promise<void>) =>
    void t.test(name, async (t) => {
      const archive = await make(t);
      t.teardown(() => archive.close());
      await body(t, archive);
    });

  withArchive('gives back an archived transaction as it was put: row, final record and journal', async (t, archive) => {
    t.ok(archive.enabled);
    const entry = archiveEntry(orderRow('T1', {
      osOrderNo: 'OS-7',
      legs: [leg(1, { paymentNo: 'T1-P1', method: 'stored_value', cardNo: 'C1', channelTradeNo: null }), leg(2, { paymentNo: 'T1-P2', capturedAt: null, status: 'closed' })],
      refunds: [{ refundNo: 'T1-R1', amountFen: 300, status: 'succeeded', requestedAt: T0 + 5000, legs: [{ refundLegNo: 'T1-R1-1', paymentNo: 'T1-P1', method: 'stored_value', amountFen: 300, status: 'succeeded', refundedAt: T0 + 6000 }] }],
      refundedAmountFen: 300,
    }));
    t.same(await archive.put([entry]), { written: 1, skipped: 0 });
    t.same(await archive.get('T1'), entry);
    t.equal(await archive.get('T404'), null);
    t.same(await archive.counts(), { orders: 1, journalEntries: 2 });
  });

  withArchive('gives back JSON texts with quotes, backslashes, control characters and the record separator as they were put, batch after batch (issue 20)', async (t, archive) => {
    const awkward = 'say "hi" \\ back\\slash \u001e sep \n line 油站 🚗 {"x":[1]}';
    const entries = ['T1', 'T2', 'T3'].map((txnNo, i) => {
      const entry = archiveEntry(orderRow(txnNo, { legs: [leg(1, { paymentNo: `${txnNo}-P1`, channelTradeNo: `${awkward}${i}` })] }));
      // PostgreSQL text holds no NUL: one only inside JSON, where it is escaped.
      return { ...entry, record: { ...entry.record, snapshot: { note: `${awkward}\u0000`, i } }, journal: entry.journal.map((j) => ({ ...j, data: { awkward } })) };
    });
    t.same(await archive.put(entries), { written: 3, skipped: 0 });
    for (const e of entries) t.same(await archive.get(e.row.txnNo), e);
  });

  withArchive('leaves an entry archived at the same or a newer version alone and replaces an older one', async (t, archive) => {
    const v5 = archiveEntry(orderRow('T1', { legs: [leg(1, { paymentNo: 'T1-P1', method: 'wechat' })] }), 5);
    t.same(await archive.put([v5]), { written: 1, skipped: 0 });
    const sameVersion = archiveEntry(orderRow('T1', { stationId: 'S-other' }), 5);
    const older = archiveEntry(orderRow('T1', { stationId: 'S-older' }), 4);
    t.same(await archive.put([sameVersion]), { written: 0, skipped: 1 }, 'the same version again is a no-op');
    t.same(await archive.put([older]), { written: 0, skipped: 1 }, 'an older version does not overwrite');
    t.same(await archive.get('T1'), v5);
    // A refund after archiving: the transaction comes back at a newer version, paid by other legs.
    const v7 = archiveEntry(orderRow('T1', {
      legs: [leg(1, { paymentNo: 'T1-P1', method: 'alipay' })],
      refunds: [{ refundNo: 'T1-R1', amountFen: 100, status: 'succeeded', requestedAt: T0 + 5000, legs: [{ refundLegNo: 'T1-R1-1', paymentNo: 'T1-P1', method: 'alipay', amountFen: 100, status: 'succeeded', refundedAt: T0 + 6000 }] }],
      refundedAmountFen: 100,
    }), 7);
    t.same(await archive.put([v7]), { written: 1, skipped: 0 });
    t.same(await archive.get('T1'), v7);
    t.same(await archive.counts(), { orders: 1, journalEntries: 2 }, 'replaced, not added');
    t.same((await archive.search({ method: 'wechat' }, 10, null)).rows, [], 'the old legs are gone from the method index');
    t.same((await archive.search({ method: 'alipay' }, 10, null)).rows.map((r) => r.txnNo), ['T1']);
    const moved = await collect(archive.movements('alipay', T0, T0 + 10_000));
    t.same(moved.map((m) => m.kind), ['payment', 'refund']);
    t.same(await collect(archive.movements('wechat', T0, T0 + 10_000)), []);
  });

  withArchive('keeps the newest of one transaction given twice in one put', async (t, archive) => {
    const v3 = archiveEntry(orderRow('T1', { stationId: 'S3' }), 3);
    const v4 = archiveEntry(orderRow('T1', { stationId: 'S4' }), 4);
    t.same(await archive.put([v4, v3]), { written: 1, skipped: 1 });
    t.equal((await archive.get('T1'))?.row.stationId, 'S4');
  });

  withArchive('writes nothing of a put one of whose entries fails, and keeps what was archived before', async (t, archive) => {
    const before = archiveEntry(orderRow('T2'), 1);
    await archive.put([before]);
    const refund = { refundNo: 'R', amountFen: 1, status: 'succeeded', requestedAt: T0, legs: [{ refundLegNo: 'DUP', paymentNo: 'T3-P1', method: 'wechat', amountFen: 1, status: 'succeeded', refundedAt: T0 }] };
    // Two refund legs of one number: the archive's key refuses the second, in the middle of the batch.
    const broken = archiveEntry(orderRow('T3', { refunds: [refund, { ...refund, refundNo: 'R2' }] }));
    const batch = [archiveEntry(orderRow('T1')), archiveEntry(orderRow('T2', { stationId: 'S9' }), 2), broken, archiveEntry(orderRow('T4'))];
    await t.rejects(archive.put(batch));
    for (const txnNo of ['T1', 'T3', 'T4']) t.equal(await archive.get(txnNo), null, `${txnNo} is not archived`);
    t.same(await archive.get('T2'), before, 'the replacement of T2 was rolled back');
    t.same(await archive.counts(), { orders: 1, journalEntries: 2 });
    t.same(await archive.put(batch.filter((e) => e !== broken)), { written: 3, skipped: 0 }, 'the rest goes in once the broken entry is out');
  });

  withArchive('refuses, as a rejected promise, an entry whose row and record are of different transactions', async (t, archive) => {
    const mixed = { ...archiveEntry(orderRow('T1')), row: orderRow('T2') };
    const put = archive.put([archiveEntry(orderRow('T3')), mixed]);
    await t.rejects(put, RangeError);
    t.equal(await archive.get('T3'), null, 'nothing of the put is archived');
  });

  withArchive('finds a transaction by its order number and by its station\'s OS order number', async (t, archive) => {
    await archive.put([
      archiveEntry(orderRow('T1', { orderNo: 'O1', stationId: 'S1', osOrderNo: 'OS-1' })),
      archiveEntry(orderRow('T2', { orderNo: null, origin: 'os-import', stationId: 'S2', osOrderNo: 'OS-1' })),
    ]);
    t.equal(await archive.findTxnNoByOrderNo('O1'), 'T1');
    t.equal(await archive.findTxnNoByOrderNo('O404'), null);
    t.equal(await archive.findTxnNoByOsOrderNo('S1', 'OS-1'), 'T1');
    t.equal(await archive.findTxnNoByOsOrderNo('S2', 'OS-1'), 'T2', 'OS numbers are per station');
    t.equal(await archive.findTxnNoByOsOrderNo('S3', 'OS-1'), null);
  });

  withArchive('scopes every query to the merchants of a key: none of another merchant, nothing for an empty list', async (t, archive) => {
    await archive.put([archiveEntry(orderRow('T1', { merchantId: 'M1' })), archiveEntry(orderRow('T2', { merchantId: 'M2', createdAt: T0 + 1 }))]);
    t.same((await archive.search({ merchantIds: ['M1'] }, 10, null)).rows.map((r) => r.txnNo), ['T1']);
    t.same((await archive.search({ merchantIds: ['M1', 'M2'] }, 10, null)).rows.map((r) => r.txnNo), ['T2', 'T1']);
    t.same((await archive.search({ merchantIds: [] }, 10, null)).rows, []);
    t.same((await archive.summary({ merchantIds: ['M2'] }, [])).map((s) => s.count), [1]);
    t.same((await archive.summary({ merchantIds: [] }, [])).map((s) => s.count), [0], 'totals over nothing are zeros');
  });

  withArchive('answers every filter, page after page, and every summary as the brute-force sum over the rows', async (t, archive) => {
    const random = seededRandom(18);
    const rows = Array.from({ length: 400 }, (_, i) => randomOrderRow(random, i));
    // Some share a creation instant: the txnNo orders them.
    for (let i = 1; i < rows.length; i += 7) rows[i] = { ...rows[i]!, createdAt: rows[i - 1]!.createdAt };
    for (let i = 0; i < rows.length; i += 100) await archive.put(rows.slice(i, i + 100).map((r) => archiveEntry(r)));
    let answered = 0;
    await fc.assert(
      fc.asyncProperty(filterArb, fc.integer({ min: 1, max: 150 }), async (filter, limit) => {
        const expected = rows.filter((r) => matches(r, filter)).sort(newestFirst);
        if (expected.length > 1) answered++;
        const found = await allPages(archive, filter, limit);
        t.same(found.map((r) => r.txnNo), expected.map((r) => r.txnNo), JSON.stringify({ filter, limit }));
        return found.length === expected.length;
      }),
      { numRuns: 60, seed: 18 },
    );
    t.ok(answered >= 15, `enough filters match several rows to test paging (${answered} of 60)`);
    t.same((await archive.search({}, 3, null)).rows, [...rows].sort(newestFirst).slice(0, 3), 'rows come back whole');
    let summed = 0;
    await fc.assert(
      fc.asyncProperty(filterArb, groupArb, async (filter, groupBy) => {
        const got = sortSummary(await archive.summary(filter, groupBy));
        const want = bruteSummary(rows, filter, groupBy);
        if (want.some((w) => w.count > 1)) summed++;
        t.same(got, want, JSON.stringify({ filter, groupBy }));
        return JSON.stringify(got) === JSON.stringify(want);
      }),
      { numRuns: 80, seed: 19 },
    );
    t.ok(summed >= 20, `enough summaries sum several rows (${summed} of 80)`);
  });

  withArchive('pages without a duplicate or a gap while transactions are archived between the pages', async (t, archive) => {
    const random = seededRandom(7);
    const first = Array.from({ length: 60 }, (_, i) => randomOrderRow(random, i, T0, 3_600_000));
    await archive.put(first.map((r) => archiveEntry(r)));
    const seen: string[] = [];
    let cursor: string | null = null;
    let extra = 1000;
    do {
      const page = await archive.search({}, 7, cursor);
      seen.push(...page.rows.map((r) => r.txnNo));
      cursor = page.nextCursor;
      // Newer sales, and older ones archived late (a long quiet period, a refund), arrive meanwhile.
      await archive.put([randomOrderRow(random, extra++, T0 + 7_200_000, 1000), randomOrderRow(random, extra++, T0, 3_600_000)].map((r) => archiveEntry(r)));
      // And one already listed is archived again after a refund: it must not show twice.
      await archive.put([archiveEntry(first[0]!, 9)]);
    } while (cursor !== null);
    t.equal(new Set(seen).size, seen.length, 'no row twice');
    const missing = first.filter((r) => !seen.includes(r.txnNo));
    t.same(missing, [], 'every row present at the start is listed');
  });

  withArchive('reads from/to as a half-open window of creation times: from inclusive, to exclusive', async (t, archive) => {
    await archive.put([0, 1, 2, 3].map((i) => archiveEntry(orderRow(`T${i}`, { createdAt: T0 + i * 1000 }))));
    const window = { fromMs: T0 + 1000, toMs: T0 + 3000 };
    t.same((await archive.search(window, 10, null)).rows.map((r) => r.txnNo), ['T2', 'T1']);
    t.same((await archive.summary(window, [])).map((s) => s.count), [2]);
  });

  withArchive('refuses a cursor it did not issue', async (t, archive) => {
    await t.rejects(archive.search({}, 10, 'not-a-cursor'), RangeError);
  });

  withArchive('counts a sale on the China-time day it was made: 00:00 +08:00 starts the day', async (t, archive) => {
    const midnight = Date.parse('2026-12-01T00:00:00+08:00');
    await archive.put([
      archiveEntry(orderRow('T1', { createdAt: midnight - 1 })),
      archiveEntry(orderRow('T2', { createdAt: midnight })),
      archiveEntry(orderRow('T3', { createdAt: midnight + 86_400_000 - 1 })),
      archiveEntry(orderRow('T4', { createdAt: midnight + 86_400_000 })),
    ]);
    const days = await archive.summary({}, ['day']);
    t.same(days.map((d) => [d.day, d.count]), [['2026-11-30', 1], ['2026-12-01', 2], ['2026-12-02', 1]]);
    const fen = orderRow('T').paidAmountFen;
    t.same(days.map((d) => d.paidAmountFen), [fen, 2 * fen, fen]);
  });

  withArchive('lists a channel\'s movements in a window: captured legs and refunded refund legs, from inclusive, to exclusive', async (t, archive) => {
    const from = Date.parse('2026-12-01T00:00:00+08:00');
    const to = from + 86_400_000;
    const refundLeg = (n: string, paymentNo: string, refundedAt: number | null, method = 'alipay') => ({ refundLegNo: n, paymentNo, method, amountFen: 50, status: refundedAt ? 'succeeded' : 'pending', refundedAt });
    await archive.put([
      archiveEntry(orderRow('T1', { createdAt: from - 3_600_000, legs: [leg(1, { paymentNo: 'P1', method: 'alipay', capturedAt: from - 1 }), leg(2, { paymentNo: 'P2', method: 'alipay', capturedAt: from, channelTradeNo: 'CH2' })],
        refunds: [{ refundNo: 'R1', amountFen: 100, status: 'succeeded', requestedAt: from, legs: [refundLeg('RL1', 'P1', from + 10), refundLeg('RL2', 'P2', to)] }] })),
      archiveEntry(orderRow('T2', { merchantId: 'M2', stationId: 'S7', legs: [leg(1, { paymentNo: 'P3', method: 'alipay', capturedAt: to - 1 }), leg(2, { paymentNo: 'P4', method: 'wechat', capturedAt: from + 5 }), leg(3, { paymentNo: 'P5', method: 'alipay', capturedAt: null })],
        refunds: [{ refundNo: 'R2', amountFen: 50, status: 'pending', requestedAt: from, legs: [refundLeg('RL3', 'P3', null)] }] })),
    ]);
    const moved = await collect(archive.movements('alipay', from, to));
    t.same(moved.map((m) => [m.kind, m.paymentNo, m.refundLegNo, m.at]), [
      ['payment', 'P2', null, from],
      ['refund', 'P1', 'RL1', from + 10],
      ['payment', 'P3', null, to - 1],
    ]);
    t.same(moved[0], { kind: 'payment', txnNo: 'T1', merchantId: 'M1', stationId: 'S1', method: 'alipay', paymentNo: 'P2', refundLegNo: null, amountFen: 1000, channelTradeNo: 'CH2', at: from });
    t.equal(moved[1]?.channelTradeNo, 'CH-1', 'a refund carries the channel id of the payment it refunds');
    t.same((await collect(archive.movements('wechat', from, to))).map((m) => m.paymentNo), ['P4']);
  });

  withArchive('streams movements beyond one page, in order, each once', async (t, archive) => {
    const n = 2500;
    const rows = Array.from({ length: n }, (_, i) => orderRow(`T${String(i).padStart(5, '0')}`, { legs: [leg(1, { paymentNo: `P${i}`, method: 'unionpay', capturedAt: T0 + (i % 900) })] }));
    await archive.put(rows.map((r) => archiveEntry(r)));
    const moved = await collect(archive.movements('unionpay', T0, T0 + 1000));
    t.equal(moved.length, n);
    t.equal(new Set(moved.map((m) => m.paymentNo)).size, n);
    t.ok(moved.every((m, i) => i === 0 || m.at >= moved[i - 1]!.at), 'oldest first');
  });

  withArchive('answers a ping', async (t, archive) => {
    await archive.ping();
    t.pass();
  });
}
