import t from 'tap';
import fc from 'fast-check';
import type { BillRow } from '../../domain/reconciliation/bill-row.ts';
import { chinaDayWindow, EMPTY_CARRY, matchDay, platformRef, type CarryOver, type MatchInput, type PlatformRow } from '../../domain/reconciliation/match.ts';
import { wholeDayMatch } from './whole-day-match.ts';

const DAY = '2026-12-01';
const { fromMs, toMs } = chinaDayWindow(DAY);
const MIN = 60_000;
const HOUR = 60 * MIN;

/** What the bill makes of one row of ours. */
type Fate = 'same' | 'far' | 'missing' | 'more' | 'less' | 'failed' | 'fee' | 'garbled' | 'twice';
const FATES: readonly Fate[] = ['same', 'far', 'missing', 'more', 'less', 'failed', 'fee', 'garbled', 'twice'];

interface Ours {
  refund: boolean;
  /** Offset of our time from the day's start, ms (the margins either side included). */
  offset: number;
  counted: boolean;
  tradeNo: boolean;
  fate: Fate;
  /** The bill's time against ours, ms. */
  skew: number;
}

const oursArb = fc.record({
  refund: fc.boolean(),
  offset: fc.integer({ min: -10 * MIN, max: 24 * HOUR + 10 * MIN - 1 }),
  counted: fc.integer({ min: 0, max: 4 }).map((k) => k > 0),
  tradeNo: fc.boolean(),
  fate: fc.constantFrom(...FATES),
  skew: fc.integer({ min: -90_000, max: 90_000 }),
});

const dayArb = fc.record({
  ours: fc.array(oursArb, { maxLength: 60 }),
  unknown: fc.array(fc.integer({ min: 0, max: 24 * HOUR - 1 }), { maxLength: 5 }),
  carried: fc.array(fc.record({ offset: fc.integer({ min: -10 * MIN, max: -1 }), billed: fc.boolean() }), { maxLength: 4 }),
  aheadMatched: fc.array(fc.nat(59), { maxLength: 4 }),
  windowMs: fc.integer({ min: MIN, max: 30 * MIN }),
});

type DayCase = typeof dayArb extends fc.Arbitrary<infer T> ? T : never;

function row(n: number, o: Ours): PlatformRow {
  const txnNo = `T${n}`;
  return {
    kind: o.refund ? 'refund' : 'payment', channel: 'wechat', txnNo, merchantId: 'M1', paymentNo: `${txnNo}-P1`, refundLegNo: o.refund ? `R${n}-1` : null,
    amountFen: 1000 + n, status: o.counted ? 'succeeded' : 'pending', channelTradeNo: o.tradeNo || !o.refund ? `4200${n}` : null,
    at: o.counted ? fromMs + o.offset : null, txnState: 'completed',
  };
}

function billOf(r: PlatformRow, at: number, over: Partial<BillRow> = {}): BillRow {
  return {
    channel: 'wechat', kind: r.kind, merchantRef: platformRef(r), paymentNo: r.paymentNo,
    channelRef: r.kind === 'payment' ? (r.channelTradeNo ?? `4200x${r.txnNo}`) : `5030${r.refundLegNo}`, channelTradeNo: r.channelTradeNo ?? '',
    merchantId: 'M1', status: 'succeeded', amountFen: r.amountFen, feeFen: Math.round(r.amountFen * 0.006), at: new Date(at).toISOString(), line: 1, ...over,
  };
}

/** A random day: our rows in time order (as the store streams them), the bill in time order (as channels list it), and a carry. */
function buildDay(d: DayCase, garbled: boolean) {
  const rows = d.ours.map((o, n) => ({ o, r: row(n, o) }));
  const bill: BillRow[] = [];
  for (const { o, r } of rows) {
    const base = (r.at ?? fromMs + Math.max(0, o.offset)) + o.skew;
    // A bill row far from ours: a leg a query recovered hours after the channel counted it, or the channel counting late.
    const at = o.fate === 'far' ? Math.min(toMs - 1, Math.max(fromMs, base + (o.skew > 0 ? 5 : -5) * HOUR)) : Math.min(toMs + 9 * MIN, Math.max(fromMs - 9 * MIN, base));
    if (o.fate === 'missing') continue;
    if (o.fate === 'more') bill.push(billOf(r, at, { amountFen: r.amountFen + 7 }));
    else if (o.fate === 'less') bill.push(billOf(r, at, { amountFen: r.amountFen - 7 }));
    else if (o.fate === 'failed') bill.push(billOf(r, at, { status: 'failed' }));
    else if (o.fate === 'fee') bill.push(billOf(r, at, { feeFen: 1 }));
    // The documented limit: a garbled number is found by the transaction id only among the rows held, so only near ours.
    else if (o.fate === 'garbled' && garbled && r.kind === 'payment' && r.at !== null) bill.push(billOf(r, r.at + Math.sign(o.skew) * 20_000, { merchantRef: `garbled-${r.txnNo}` }));
    else if (o.fate === 'twice') bill.push(billOf(r, at), billOf(r, at + 1000));
    else bill.push(billOf(r, at));
  }
  for (const [i, off] of d.unknown.entries()) bill.push(billOf(row(1000 + i, { refund: false, offset: off, counted: true, tradeNo: true, fate: 'same', skew: 0 }), fromMs + off));
  const carriedRows = d.carried.map((c, i) => row(2000 + i, { refund: false, offset: c.offset, counted: true, tradeNo: true, fate: 'same', skew: 0 }));
  for (const [i, c] of d.carried.entries()) if (c.billed) bill.push(billOf(carriedRows[i]!, fromMs + (i + 1) * MIN));
  bill.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const platform = rows.map(({ r }) => r).sort((a, b) => (a.at ?? 0) - (b.at ?? 0));
  const carryIn: CarryOver = { platform: carriedRows, matchedAhead: d.aheadMatched.filter((n) => n < rows.length).map((n) => platformRef(rows[n]!.r)) };
  const all = new Map([...rows.map(({ r }) => r), ...carriedRows].map((r) => [platformRef(r), r]));
  const input: Omit<MatchInput, 'platform'> = {
    channel: 'wechat', day: DAY, carryIn, lookup: async (b) => all.get(b.merchantRef) ?? null,
    expectedFee: (b) => Math.round(b.amountFen * 0.006), windowMs: d.windowMs,
  };
  return { bill, platform, input };
}

async function* streamed<T>(rows: readonly T[], pulled: (row: T) => void): AsyncGenerator<T> {
  for (const r of rows) {
    pulled(r);
    yield r;
  }
}

t.test('the streamed match finds and classifies exactly what the whole-day index found, on random days', async () => {
  await fc.assert(
    fc.asyncProperty(dayArb, async (d) => {
      const { bill, platform, input } = buildDay(d, true);
      const expected = await wholeDayMatch(bill, { ...input, platform });
      const got = await matchDay(bill, { ...input, platform: streamed(platform, () => {}) });
      t.strictSame(got, expected);
    }),
    { numRuns: 400 },
  );
});

t.test('our side in any order gives the same result, only held longer', async () => {
  await fc.assert(
    fc.asyncProperty(dayArb, fc.integer(), async (d, seed) => {
      const { bill, platform, input } = buildDay(d, false);
      const shuffled = platform.map((r, i) => ({ r, k: Math.sin(seed + i) })).sort((a, b) => a.k - b.k).map((x) => x.r);
      const expected = await wholeDayMatch(bill, { ...input, platform: shuffled });
      const got = await matchDay(bill, { ...input, platform: shuffled });
      // The order of what is missing at the channel is the order ours came in: compare it as a set.
      const key = (x: { kind: string; ref: string }) => `${x.kind}:${x.ref}`;
      t.strictSame(got.discrepancies.map(key).sort(), expected.discrepancies.map(key).sort());
      t.strictSame(got.totals, expected.totals);
      t.strictSame(got.carry.matchedAhead.sort(), expected.carry.matchedAhead.sort());
      t.strictSame(got.carry.platform.map(platformRef).sort(), expected.carry.platform.map(platformRef).sort());
    }),
    { numRuns: 200 },
  );
});

t.test('our side is read as the bill goes, never more than the window ahead of it', async (t) => {
  const windowMs = 10 * MIN;
  const platform = Array.from({ length: 2000 }, (_, n) => row(n, { refund: n % 10 === 9, offset: Math.floor((n / 2000) * 24 * HOUR), counted: true, tradeNo: true, fate: 'same', skew: 0 }));
  let billAt = -Infinity;
  let furthest = 0;
  // Rows of ours read beyond the window since the bill's last row: the one the matcher peeks at, no more.
  let beyond = 0;
  let mostBeyond = 0;
  async function* bill(): AsyncGenerator<BillRow> {
    for (const r of platform) {
      if (r.txnNo === 'T500') continue;
      billAt = r.at! + 30_000;
      beyond = 0;
      yield billOf(r, billAt);
    }
  }
  const result = await matchDay(bill(), {
    channel: 'wechat', day: DAY, carryIn: EMPTY_CARRY, lookup: async () => null, windowMs,
    platform: streamed(platform, (r) => {
      if (billAt === -Infinity) return;
      furthest = Math.max(furthest, r.at! - billAt);
      if (r.at! - billAt > windowMs) mostBeyond = Math.max(mostBeyond, ++beyond);
    }),
  });
  t.ok(mostBeyond <= 1, `read ${mostBeyond} rows beyond the window at once (furthest ${furthest} ms ahead, window ${windowMs})`);
  t.ok(furthest > windowMs / 2, 'and it does read ahead');
  t.strictSame(result.discrepancies.map((d) => [d.kind, d.ref]), [['channel_missing', 'T500-P1']]);
  t.equal(result.totals.matched, 1999);
  t.equal(result.totals.platformRows, 2000);
});

t.test('a leg recovered hours after the channel counted it matches through dayRow, and is not missing when it comes in', async (t) => {
  const recovered = row(1, { refund: false, offset: 20 * HOUR, counted: true, tradeNo: true, fate: 'same', skew: 0 });
  const early = row(2, { refund: false, offset: 2 * HOUR, counted: true, tradeNo: true, fate: 'same', skew: 0 });
  const asked: string[] = [];
  const result = await matchDay([billOf(early, early.at!), billOf(recovered, fromMs + 2 * HOUR + MIN)], {
    channel: 'wechat', day: DAY, carryIn: EMPTY_CARRY, platform: streamed([early, recovered], () => {}),
    lookup: async () => null,
    dayRow: async (b) => {
      asked.push(b.merchantRef);
      return b.merchantRef === 'T1-P1' ? recovered : null;
    },
  });
  t.strictSame(result.discrepancies, []);
  t.strictSame(asked, ['T1-P1'], 'asked only for the row not held');
  t.equal(result.totals.matched, 2);
});
