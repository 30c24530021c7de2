import t from 'tap';
import type { BillRow } from '../../domain/reconciliation/bill-row.ts';
import { chinaDayWindow, EMPTY_CARRY, matchDay, platformRef, type MatchInput, type PlatformRow } from '../../domain/reconciliation/match.ts';

const DAY = '2026-12-01';
const { fromMs, toMs } = chinaDayWindow(DAY);
const MIN = 60_000;

function ours(n: number, over: Partial<PlatformRow> = {}): PlatformRow {
  return {
    kind: 'payment', channel: 'wechat', txnNo: `T${n}`, merchantId: 'M1', paymentNo: `T${n}-P1`, refundLegNo: null,
    amountFen: 1000 + n, status: 'succeeded', channelTradeNo: `4200${n}`, at: fromMs + 3_600_000 + n * MIN, txnState: 'completed', ...over,
  };
}

function billOf(row: PlatformRow, over: Partial<BillRow> = {}): BillRow {
  return {
    channel: row.channel, kind: row.kind, merchantRef: platformRef(row), paymentNo: row.paymentNo,
    channelRef: row.kind === 'payment' ? (row.channelTradeNo ?? '') : `5030${row.refundLegNo}`, channelTradeNo: row.channelTradeNo ?? '',
    merchantId: row.merchantId, status: 'succeeded', amountFen: row.amountFen, feeFen: Math.round(row.amountFen * 0.006),
    at: new Date(row.at ?? fromMs).toISOString(), line: 1, ...over,
  };
}

function input(platform: PlatformRow[], extra: Partial<MatchInput> = {}): MatchInput {
  const all = new Map(platform.map((r) => [platformRef(r), r]));
  return {
    channel: 'wechat', day: DAY, platform, carryIn: EMPTY_CARRY,
    lookup: async (row) => all.get(row.merchantRef) ?? null,
    expectedFee: (row) => Math.round(row.amountFen * 0.006),
    ...extra,
  };
}

t.test('a day whose bill lists exactly our payments and refunds is clean', async (t) => {
  const platform = Array.from({ length: 50 }, (_, i) => ours(i));
  const refund: PlatformRow = { ...ours(3), kind: 'refund', refundLegNo: 'R3-1', amountFen: 200, at: fromMs + 20 * 3_600_000 };
  platform.push(refund);
  const bill = platform.map((r) => billOf(r, r.kind === 'refund' ? { feeFen: -1 } : {}));
  const result = await matchDay(bill, input(platform, { expectedFee: (row) => (row.kind === 'refund' ? -1 : Math.round(row.amountFen * 0.006)) }));
  t.same(result.discrepancies, []);
  t.equal(result.totals.matched, 51);
  t.equal(result.totals.billPaymentsFen, result.totals.platformPaymentsFen);
  t.equal(result.totals.billRefundsFen, 200);
  t.equal(result.totals.platformRefundsFen, 200);
});

t.test('every kind is found once with both sides as evidence, and nothing else', async (t) => {
  const matched = Array.from({ length: 20 }, (_, i) => ours(i));
  const missingAtChannel = ours(100);
  const shortStatus = ours(101, { status: 'pending', at: null });
  const shortAmount = ours(102);
  const overAmount = ours(103);
  const overStatus = ours(104);
  const wrongFee = ours(105);
  const unknown = ours(106);
  const counted = [...matched, missingAtChannel, shortAmount, overAmount, overStatus, wrongFee];
  const bill = [
    ...matched.map((r) => billOf(r)),
    billOf(shortStatus, { at: new Date(fromMs + 5 * 3_600_000).toISOString() }),
    billOf(shortAmount, { amountFen: shortAmount.amountFen + 100 }),
    billOf(overAmount, { amountFen: overAmount.amountFen - 100 }),
    billOf(overStatus, { status: 'failed' }),
    billOf(wrongFee, { feeFen: 999 }),
    billOf(unknown),
  ];
  const result = await matchDay(bill, input([...counted, shortStatus]));
  const got = result.discrepancies.map((d) => [d.kind, d.ref]).sort();
  t.same(got, [
    ['channel_missing', 'T100-P1'],
    ['fee_mismatch', 'T105-P1'],
    ['platform_missing', 'T106-P1'],
    ['platform_over_amount', 'T103-P1'],
    ['platform_over_status', 'T104-P1'],
    ['platform_short_amount', 'T102-P1'],
    ['platform_short_status', 'T101-P1'],
  ].sort());
  const byKind = new Map(result.discrepancies.map((d) => [d.kind, d]));
  t.equal(byKind.get('channel_missing')?.bill, null, 'the channel has no row of it');
  t.equal(byKind.get('channel_missing')?.platform?.txnNo, 'T100');
  t.equal(byKind.get('platform_missing')?.platform, null, 'we have no record of it');
  t.equal(byKind.get('platform_missing')?.txnNo, 'T106', 'its transaction is named from the echoed payment number');
  t.equal(byKind.get('platform_short_status')?.platform?.status, 'pending');
  t.equal(byKind.get('platform_short_amount')?.bill?.amountFen, shortAmount.amountFen + 100);
  t.equal(byKind.get('fee_mismatch')?.expectedFeeFen, Math.round(wrongFee.amountFen * 0.006));
});

t.test('a payment whose echoed number is garbled is still matched by the channel transaction id', async (t) => {
  const row = ours(7);
  const result = await matchDay([billOf(row, { merchantRef: 'garbled' })], input([row]));
  t.same(result.discrepancies, []);
});

t.test('our rows of the last ten minutes wait for the next day before they count as missing at the channel', async (t) => {
  const late = ours(1, { at: toMs - 3 * MIN });
  const lateNeverBilled = ours(2, { at: toMs - 2 * MIN });
  const dayOne = await matchDay([], input([late, lateNeverBilled]));
  t.same(dayOne.discrepancies, [], 'neither is missing yet');
  t.same(dayOne.carry.platform.map(platformRef).sort(), ['T1-P1', 'T2-P1']);

  const nextDay = '2026-12-02';
  const next = chinaDayWindow(nextDay);
  const billNext = [billOf(late, { at: new Date(next.fromMs + MIN).toISOString() })];
  const dayTwo = await matchDay(billNext, { ...input([]), day: nextDay, carryIn: dayOne.carry });
  t.same(dayTwo.discrepancies.map((d) => [d.kind, d.ref]), [['channel_missing', 'T2-P1']], 'only the one neither bill had');
  t.equal(dayTwo.carry.platform.length, 0);
});

t.test('a bill row of the last minutes we count just after midnight matches, and the next day does not miss it', async (t) => {
  const next = chinaDayWindow('2026-12-02');
  const ahead = ours(3, { at: next.fromMs + 4 * MIN });
  const dayOne = await matchDay([billOf(ahead, { at: new Date(toMs - MIN).toISOString() })], input([ahead]));
  t.same(dayOne.discrepancies, []);
  t.same(dayOne.carry.matchedAhead, ['T3-P1']);
  const dayTwo = await matchDay([], { ...input([ahead]), day: '2026-12-02', carryIn: dayOne.carry });
  t.same(dayTwo.discrepancies, [], 'the previous bill had it');
  const withoutCarry = await matchDay([], { ...input([ahead]), day: '2026-12-02' });
  t.same(withoutCarry.discrepancies.map((d) => d.kind), ['channel_missing'], 'the carry is what keeps it from being missing');
});

t.test('a failed payment both sides know of is no discrepancy; one only the channel lists failed is none either', async (t) => {
  const failed = ours(9, { status: 'failed', at: null });
  const result = await matchDay([billOf(failed, { status: 'failed' }), billOf(ours(10), { status: 'failed' })], input([failed]));
  t.same(result.discrepancies, []);
});

t.test('a day that is not a date is refused', async (t) => {
  t.throws(() => chinaDayWindow('2026-13-45'), RangeError);
  t.throws(() => chinaDayWindow('yesterday'), RangeError);
});
