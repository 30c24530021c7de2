import type { Test } from 'tap';
import { compareQuotes, type ShadowQuoteRecord } from '../../../domain/shadow-quote.ts';
import type { ShadowFilter } from '../../../storage/types.ts';
import { storeTests, T0, type StoreFactory } from './helpers.ts';

const ALL: ShadowFilter = { merchantIds: null, stationId: null, scene: null, fromMs: null, toMs: null };

/** A shadow quote at `quotedAtMs`; `differs` plants a legacy payable one fen off. */
export function shadowRecord(shadowId: string, quotedAtMs: number, over: { stationId?: string; scene?: string; merchantId?: string; differs?: boolean } = {}): ShadowQuoteRecord {
  const platform = { comboId: 'c1', paymentMethod: 'wechat', originalAmountFen: 30000, discounts: [{ kind: 'coupon' as const, id: 'CP1', name: '10 off', points: null, amountFen: 1000 }], discountAmountFen: 1000, payableAmountFen: 29000, degraded: [] };
  const legacy = { ref: `L-${shadowId}`, paymentMethod: 'wechat', originalAmountFen: null, discounts: [{ kind: 'coupon' as const, id: 'CP1', name: null, points: null, amountFen: 1000 }], payableAmountFen: over.differs ? 28999 : 29000 };
  return {
    shadowId,
    merchantId: over.merchantId ?? 'M1',
    stationId: over.stationId ?? 'S1',
    scene: over.scene ?? 'senseless',
    userId: 'U1',
    group: 'G1',
    mode: 'shadow',
    quotedAtMs,
    recordedAtMs: quotedAtMs + 5,
    request: { items: [{ type: 'fuel', nozzleNo: 1, amount: 30000 }], paymentMethods: ['wechat'], usePoints: false },
    legacy,
    platform,
    refusal: null,
    ...compareQuotes(legacy, platform, null),
  };
}

/** The ShadowQuotes part of the conformance suite. */
export async function shadowQuotesConformance(t: Test, make: StoreFactory): Promise<void> {
  const test = storeTests(t, make);

  test('stores a shadow quote once: a second put of its id leaves the first as it was', async (t, store) => {
    const first = shadowRecord('S1', T0);
    t.equal(await store.shadowQuotes.put(first), true);
    t.equal(await store.shadowQuotes.put({ ...shadowRecord('S1', T0 + 1, { differs: true }) }), false, 'the retry stores nothing');
    t.same(await store.shadowQuotes.get('S1'), first);
    t.equal(await store.shadowQuotes.get('S-none'), null);
    t.same(await store.shadowQuotes.agreement(ALL), [{ stationId: 'S1', scene: 'senseless', total: 1, agreeing: 1 }]);
    t.same((await store.shadowQuotes.differences(ALL, 10, null)).records, []);
  });

  test('counts agreement per station and scene within [from, to), for the merchants asked', async (t, store) => {
    const puts = [
      shadowRecord('A1', T0, { stationId: 'S1' }),
      shadowRecord('A2', T0 + 10, { stationId: 'S1', differs: true }),
      shadowRecord('A3', T0 + 20, { stationId: 'S1', scene: 'quick_pay' }),
      shadowRecord('A4', T0 + 30, { stationId: 'S2', differs: true }),
      shadowRecord('A5', T0 + 40, { stationId: 'S3', merchantId: 'M2' }),
    ];
    for (const r of puts) await store.shadowQuotes.put(r);
    t.same(await store.shadowQuotes.agreement(ALL), [
      { stationId: 'S1', scene: 'quick_pay', total: 1, agreeing: 1 },
      { stationId: 'S1', scene: 'senseless', total: 2, agreeing: 1 },
      { stationId: 'S2', scene: 'senseless', total: 1, agreeing: 0 },
      { stationId: 'S3', scene: 'senseless', total: 1, agreeing: 1 },
    ]);
    t.same(await store.shadowQuotes.agreement({ ...ALL, fromMs: T0 + 10, toMs: T0 + 30 }), [
      { stationId: 'S1', scene: 'quick_pay', total: 1, agreeing: 1 },
      { stationId: 'S1', scene: 'senseless', total: 1, agreeing: 0 },
    ], 'from is inclusive, to exclusive');
    t.same(await store.shadowQuotes.agreement({ ...ALL, merchantIds: ['M2'] }), [{ stationId: 'S3', scene: 'senseless', total: 1, agreeing: 1 }]);
    t.same(await store.shadowQuotes.agreement({ ...ALL, merchantIds: [] }), [], 'no merchant: nothing');
    t.same(await store.shadowQuotes.agreement({ ...ALL, stationId: 'S1', scene: 'senseless' }), [{ stationId: 'S1', scene: 'senseless', total: 2, agreeing: 1 }]);
  });

  test('lists only the differences, oldest first, on pages that each hold every record once', async (t, store) => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      // Two at one millisecond: the id breaks the tie.
      const at = T0 + Math.floor(i / 2) * 1000;
      await store.shadowQuotes.put(shadowRecord(`D${i}`, at, { differs: true }));
      await store.shadowQuotes.put(shadowRecord(`E${i}`, at));
      ids.push(`D${i}`);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await store.shadowQuotes.differences(ALL, 3, cursor);
      seen.push(...page.records.map((r) => r.shadowId));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    t.same(seen, ids, 'every difference once, in time order, no agreeing quote');
    t.equal(pages, 3, 'the last page says it is the last');
    const windowed = await store.shadowQuotes.differences({ ...ALL, fromMs: T0 + 1000, toMs: T0 + 3000 }, 10, null);
    t.same(windowed.records.map((r) => r.shadowId), ['D2', 'D3', 'D4', 'D5']);
    t.equal(windowed.nextCursor, null);
    t.same((await store.shadowQuotes.differences({ ...ALL, merchantIds: [] }, 10, null)).records, [], 'no merchant: nothing');
    t.same((await store.shadowQuotes.differences({ ...ALL, merchantIds: ['M1'] }, 2, null)).records.map((r) => r.shadowId), ['D0', 'D1']);
    const other = await store.shadowQuotes.differences({ ...ALL, stationId: 'S2' }, 10, null);
    t.same(other.records, []);
    await t.rejects(store.shadowQuotes.differences(ALL, 3, 'oa1.bm90LW1pbmU'), RangeError, 'a cursor no shadow store issued is refused');
  });

  test('purges the records quoted before a cutoff, oldest first, in batches, with their index entries', async (t, store) => {
    for (let i = 0; i < 5; i++) {
      await store.shadowQuotes.put(shadowRecord(`P${i}`, T0 + i * 1000, { differs: i % 2 === 0 }));
    }
    t.equal(await store.shadowQuotes.purgeOlderThan(T0 + 3000, 2), 2, 'a full batch: P0 and P1');
    t.equal(await store.shadowQuotes.get('P0'), null);
    t.equal(await store.shadowQuotes.get('P1'), null);
    t.ok(await store.shadowQuotes.get('P2'), 'the batch took the oldest');
    t.equal(await store.shadowQuotes.purgeOlderThan(T0 + 3000, 2), 1, 'the rest before the cutoff: P2, not P3 quoted at it');
    t.equal(await store.shadowQuotes.purgeOlderThan(T0 + 3000, 2), 0, 'nothing older is left');
    t.same(await store.shadowQuotes.agreement(ALL), [{ stationId: 'S1', scene: 'senseless', total: 2, agreeing: 1 }], 'P3 and P4 are counted, nothing purged');
    t.same((await store.shadowQuotes.differences(ALL, 10, null)).records.map((r) => r.shadowId), ['P4'], 'the purged differences are gone from their list');
    t.equal(await store.shadowQuotes.put(shadowRecord('P0', T0 + 9000)), true, 'a purged id is free again');
  });
}
