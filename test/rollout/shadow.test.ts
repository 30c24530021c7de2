import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import { InvariantChecker } from '../../simulation/invariants.ts';
import { simulate } from '../../simulation/run.ts';
import type { CallRecord } from '../../simulation/world.ts';
import { loadDataset } from '../../systems/sim/index.ts';
import { shadowCommand } from '../../bin/commands/shadow.ts';
import type { Quote } from '../../domain/pricing/types.ts';
import type { RoutingTable } from '../../domain/routing.ts';
import { ManualClock } from '../../runtime/clock.ts';
import { readRoutingFile } from '../../runtime/routing.ts';
import { shadowKeepFromEnv } from '../../runtime/shadow-quotes.ts';
import { ConfigError } from '../../runtime/systems-config.ts';
import type { TradeCenterConfig } from '../../runtime/trade-center.ts';
import { captureIo } from '../cli/helpers.ts';
import { apiClient, DATASET_PATH, DEMO_KEY, keyEntry, startHarness, type Harness } from '../helpers/harness.ts';
import { startRedisServer } from '../helpers/redis-server.ts';

/**
 * S1 and S2 (merchant M1) are in group G1, S3 (merchant M2) in G2 (demo/dataset.json). Senseless
 * payment is in shadow at G1, merchant POS live at G2, everything else legacy.
 */
const ROLLOUT: RoutingTable = { default: 'legacy', rules: [{ scene: 'senseless', group: 'G1', mode: 'shadow' }, { scene: 'merchant_pos', group: 'G2', mode: 'live' }] };

/** 23:00 China time: the night-owl promotion P1 (22:00-06:00, 92# and 95#) applies. */
const NIGHT = '2026-11-30T23:00:00+08:00';
/** Noon the same day: it does not. */
const NOON = '2026-11-30T12:00:00+08:00';

const SALE = {
  scene: 'senseless',
  merchantId: 'M1',
  stationId: 'S1',
  userId: 'U1',
  items: [{ type: 'fuel' as const, nozzleNo: 1, amount: 30000 }],
  paymentMethods: ['stored_value', 'wechat'],
  usePoints: true,
};

interface Breakdown { item: string; legacyFen: number | null; platformFen: number | null }
interface ShadowAnswer {
  shadowId: string;
  mode: string;
  agrees: boolean;
  quotedAt: string;
  differences: { kind: string; discount?: string; legacyFen?: number; platformFen?: number; code?: string }[];
  platform: { payableAmountFen: number; discounts: { kind: string; id: string | null }[] } | null;
  legacy: { ref: string | null; payableAmountFen: number };
  breakdown: Breakdown[];
  error?: { code: string };
}
interface Report {
  groups: { stationId: string; scene: string; total: number; agreeing: number; agreementRate: number | null }[];
  total: { total: number; agreeing: number; agreementRate: number | null };
  differences: ShadowAnswer[];
  nextCursor: string | null;
}

/** The old system's result that says exactly what the platform says for `method`. */
function agreeingLegacy(quote: Quote, method: string, quotedAt: string, ref: string) {
  const combo = quote.combos.find((c) => c.paymentMethod === method)!;
  return {
    quotedAt,
    ref,
    paymentMethod: method,
    originalAmountFen: quote.originalAmount,
    discounts: combo.discounts.map((d) => (d.kind === 'points' ? { kind: 'points' as const, points: d.points, amountFen: d.amount } : { kind: d.kind, id: d.id, amountFen: d.amount })),
    payableAmountFen: combo.payableAmount,
  };
}

const BACKENDS: { name: string; config: (t: Test) => Promise<Partial<TradeCenterConfig>> }[] = [
  { name: 'SQLite', config: async () => ({}) },
  {
    name: 'Redis',
    config: async (t) => {
      const server = await startRedisServer();
      t.teardown(() => server.stop());
      return { storage: { kind: 'redis', url: server.url, prefix: `tc-shadow-${randomUUID().slice(0, 8)}` } };
    },
  },
];

async function rolledOut(t: Test, config: Partial<TradeCenterConfig>, clock?: ManualClock): Promise<Harness> {
  const file = join(t.testdir(), 'routing.json');
  writeFileSync(file, JSON.stringify(ROLLOUT));
  return startHarness(t, { config: { routing: { file: readRoutingFile(file), refreshMs: 60_000 }, ...config }, ...(clock ? { clock } : {}) });
}

for (const backend of BACKENDS) {
  t.test(`a shadow quote is priced at the old system's time and recorded with both results; the report shows every planted difference and nothing else; legacy stores nothing; nothing is locked, charged or started (${backend.name})`, async (t) => {
    const h = await rolledOut(t, await backend.config(t));
    const { api, tc, sims } = h;
    const effectsBefore = (await sims.store.effects()).length;
    const cardBefore = await sims.systems.storedValue.peekCard('C1');
    const pointsBefore = await sims.systems.points.peekPointsAccount('U1');

    const request = { merchantId: SALE.merchantId, stationId: SALE.stationId, userId: SALE.userId, items: SALE.items, paymentMethods: SALE.paymentMethods, usePoints: SALE.usePoints };
    const night = await tc.quotes.quoteAt(request, Date.parse(NIGHT));
    const noon = await tc.quotes.quoteAt(request, Date.parse(NOON));
    const post = (legacy: unknown, key: string, over: Record<string, unknown> = {}) => api<ShadowAnswer>('POST', '/v1/shadow/quotes', { ...SALE, ...over, legacy }, { 'idempotency-key': key });

    // Agreeing, at night: the platform priced it at 23:00, night-owl promotion included.
    const agreeing = await post(agreeingLegacy(night, 'stored_value', NIGHT, 'L-1'), 'k-agree');
    t.equal(agreeing.status, 201, JSON.stringify(agreeing.body.error));
    t.equal(agreeing.body.agrees, true);
    t.same(agreeing.body.differences, []);
    t.equal(agreeing.body.mode, 'shadow');
    t.ok(agreeing.body.platform?.discounts.some((d) => d.kind === 'promotion' && d.id === 'P1'), 'quoted at the old system\'s 23:00: the night-owl promotion applies');
    t.equal(agreeing.body.quotedAt, new Date(Date.parse(NIGHT)).toISOString());
    t.notOk(noon.combos.some((c) => c.discounts.some((d) => d.kind === 'promotion' && d.id === 'P1')), 'and at noon it would not have');

    // Agreeing at noon too: a second agreeing quote of the same station and scene.
    t.equal((await post(agreeingLegacy(noon, 'wechat', NOON, 'L-2'), 'k-agree-noon')).body.agrees, true);

    // Planted: a payable one yuan off; a discount the old system left out (payable as the platform's); a nozzle the platform does not know.
    const payableOff = agreeingLegacy(night, 'stored_value', NIGHT, 'L-3');
    payableOff.payableAmountFen += 100;
    const offAnswer = await post(payableOff, 'k-payable');
    t.equal(offAnswer.status, 201);
    t.equal(offAnswer.body.agrees, false);
    t.same(offAnswer.body.differences, [{ kind: 'payable', legacyFen: payableOff.payableAmountFen, platformFen: payableOff.payableAmountFen - 100 }]);

    const missing = agreeingLegacy(night, 'stored_value', NIGHT, 'L-4');
    const dropped = missing.discounts.find((d) => d.kind === 'promotion' && 'id' in d && d.id === 'P1')!;
    missing.discounts = missing.discounts.filter((d) => d !== dropped);
    const missingAnswer = await post(missing, 'k-missing');
    t.equal(missingAnswer.body.agrees, false);
    t.same(missingAnswer.body.differences, [{ kind: 'missing-in-legacy', discount: 'promotion:P1', platformFen: dropped.amountFen }], 'the same payable, but not the same discounts');

    const refused = await post({ quotedAt: NIGHT, ref: 'L-5', discounts: [], payableAmountFen: 1000 }, 'k-refused', { items: [{ type: 'fuel', nozzleNo: 99, amount: 1000 }] });
    t.equal(refused.status, 201);
    t.same(refused.body.differences, [{ kind: 'platform-refused', code: 'UNKNOWN_NOZZLE' }]);

    // The same request under its key again: the first answer, not a second record.
    const replay = await post(payableOff, 'k-payable');
    t.equal(replay.status, 201);
    t.equal(replay.headers.get('idempotent-replayed'), 'true');
    t.equal(replay.body.shadowId, offAnswer.body.shadowId);
    t.equal((await post(agreeingLegacy(night, 'stored_value', NIGHT, 'L-other'), 'k-payable')).status, 422, 'the key with another body is refused');

    // Legacy: refused before anything is stored, idempotency key included.
    const legacy = await post(agreeingLegacy(night, 'stored_value', NIGHT, 'L-6'), 'k-legacy', { scene: 'quick_pay' });
    t.equal(legacy.status, 409);
    t.equal(legacy.body.error?.code, 'NOT_ROUTED');
    const sameKeyLater = await post(agreeingLegacy(night, 'stored_value', NIGHT, 'L-6'), 'k-legacy');
    t.equal(sameKeyLater.status, 201, 'its key was not kept: the same key with a shadow pair\'s body runs, not 422');

    // Live: accepted and recorded too (docs/shadow-quotes.md), with its mode.
    const liveRequest = { ...request, merchantId: 'M2', stationId: 'S3', paymentMethods: ['wechat'] };
    const live = await post(agreeingLegacy(await tc.quotes.quoteAt(liveRequest, Date.parse(NOON)), 'wechat', NOON, 'L-7'), 'k-live', { scene: 'merchant_pos', merchantId: 'M2', stationId: 'S3', paymentMethods: ['wechat'] });
    t.equal(live.status, 201, JSON.stringify(live.body.error));
    t.equal(live.body.mode, 'live');
    t.equal(live.body.agrees, true);

    const report = await api<Report>('GET', '/admin/shadow/report');
    t.equal(report.status, 200);
    t.same(report.body.groups, [
      { stationId: 'S1', scene: 'senseless', total: 6, agreeing: 3, agreementRate: 0.5 },
      { stationId: 'S3', scene: 'merchant_pos', total: 1, agreeing: 1, agreementRate: 1 },
    ]);
    t.same(report.body.total, { total: 7, agreeing: 4, agreementRate: 0.5714 });
    t.same(report.body.differences.map((d) => d.legacy.ref).sort(), ['L-3', 'L-4', 'L-5'], 'every planted difference, and nothing else');
    const missingRow = report.body.differences.find((d) => d.legacy.ref === 'L-4')!;
    t.match(missingRow.breakdown.find((b) => b.item === 'promotion:P1'), { item: 'promotion:P1', legacyFen: null, platformFen: dropped.amountFen }, 'both breakdowns side by side');
    const payableRow = report.body.differences.find((d) => d.legacy.ref === 'L-3')!.breakdown.find((b) => b.item === 'payable');
    t.same(payableRow, { item: 'payable', name: null, legacyFen: payableOff.payableAmountFen, platformFen: payableOff.payableAmountFen - 100 });

    const paged = await api<Report>('GET', '/admin/shadow/report?stationId=S1&scene=senseless&limit=2');
    t.equal(paged.body.differences.length, 2);
    t.ok(paged.body.nextCursor);
    const rest = await api<Report>('GET', `/admin/shadow/report?stationId=S1&scene=senseless&limit=2&cursor=${encodeURIComponent(paged.body.nextCursor!)}`);
    t.same([...paged.body.differences, ...rest.body.differences].map((d) => d.legacy.ref).sort(), ['L-3', 'L-4', 'L-5'], 'pages hold each difference once');
    t.equal(rest.body.nextCursor, null);
    const window = await api<Report>('GET', `/admin/shadow/report?from=${encodeURIComponent(NOON)}&to=${encodeURIComponent('2026-11-30T13:00:00+08:00')}`);
    t.same(window.body.total, { total: 2, agreeing: 2, agreementRate: 1 }, 'from and to select by the old system\'s quote time');
    t.equal((await api<Report>('GET', '/admin/shadow/report?cursor=nonsense')).status, 400);

    // Nothing but the records: no transaction, no snapshot, no lock, no charge, no points held.
    t.same((await api<{ items: unknown[] }>('GET', '/admin/transactions')).body.items, [], 'no transaction actor or snapshot');
    t.same((await tc.storage.admin.stats(0)).byState, {}, 'the snapshot store holds nothing');
    t.equal((await sims.store.effects()).length, effectsBefore, 'no simulator changed anything: no lock, no charge, no order');
    t.ok((await sims.systems.coupon.peekCoupons('U1')).every((c) => c.lockKey === null), 'no coupon locked');
    t.same(await sims.systems.storedValue.peekCard('C1'), cardBefore, 'the card is as it was');
    t.same(await sims.systems.points.peekPointsAccount('U1'), pointsBefore, 'the points are as they were');
  });
}

t.test('a key limited to a merchant may quote only for it and reports only its stations; a body with an unknown field or a method not quoted records nothing', async (t) => {
  const h = await rolledOut(t, { apiKeys: [keyEntry('ops-m2', { scopes: ['trade', 'admin'], merchants: ['M2'] })] });
  const m2 = apiClient(h.url, 'ops-m2');
  const legacy = { quotedAt: NOON, discounts: [], payableAmountFen: 1000 };
  const foreign = await m2<ShadowAnswer>('POST', '/v1/shadow/quotes', { ...SALE, legacy });
  t.equal(foreign.status, 403);
  t.equal(foreign.body.error?.code, 'FORBIDDEN');
  t.equal((await h.api<ShadowAnswer>('POST', '/v1/shadow/quotes', { ...SALE, legacy, extra: 1 })).status, 400);
  t.equal((await h.api<ShadowAnswer>('POST', '/v1/shadow/quotes', { ...SALE, legacy: { ...legacy, paymentMethod: 'alipay' } })).status, 400, 'the old system quoted a method the body does not ask about');
  t.equal((await h.api<ShadowAnswer>('POST', '/v1/shadow/quotes', { ...SALE, legacy: { ...legacy, quotedAt: 'yesterday at noon please' } })).status, 400);
  t.same((await h.api<Report>('GET', '/admin/shadow/report')).body.total, { total: 0, agreeing: 0, agreementRate: null }, 'nothing recorded');
  t.equal((await h.api<ShadowAnswer>('POST', '/v1/shadow/quotes', { ...SALE, legacy })).status, 201);
  t.same((await m2<Report>('GET', '/admin/shadow/report')).body.groups, [], "M1's quote is not M2's to see");
  const named = await m2<Report>('GET', '/admin/shadow/report?merchantId=M1');
  t.equal(named.status, 200, JSON.stringify(named.body));
  t.same(named.body.total?.total, 0, 'not even when asked for by name');
  t.equal((await h.api<Report>('GET', '/admin/shadow/report')).body.total.total, 1);
});

t.test('trade shadow report prints the agreement per station and scene and each difference side by side', async (t) => {
  const h = await rolledOut(t, {});
  const request = { merchantId: 'M1', stationId: 'S2', userId: 'U2', items: [{ type: 'fuel' as const, nozzleNo: 1, amount: 20000 }], paymentMethods: ['wechat'], usePoints: false };
  const quote = await h.tc.quotes.quoteAt(request, Date.parse(NOON));
  const legacy = agreeingLegacy(quote, 'wechat', NOON, 'L-cli');
  legacy.payableAmountFen -= 50;
  const posted = await h.api<ShadowAnswer>('POST', '/v1/shadow/quotes', { ...request, scene: 'senseless', legacy });
  t.equal(posted.status, 201, JSON.stringify(posted.body.error));

  const io = captureIo();
  await shadowCommand(io).parseAsync(['report', '--url', h.url, '--key', DEMO_KEY, '--station', 'S2', '--from', '2026-11-30'], { from: 'user' });
  const out = io.stdout();
  t.match(out, /S2\s+│?\s*senseless\s+│?\s*1\s+│?\s*0\s+│?\s*0\.0 ?%/, 'the agreement table');
  t.match(out, new RegExp(`${posted.body.shadowId}[\\s\\S]*payable\\s+│?\\s*${(legacy.payableAmountFen / 100).toFixed(2)}\\s+│?\\s*${((legacy.payableAmountFen + 50) / 100).toFixed(2)}`), 'the difference, legacy beside platform');
  const json = captureIo();
  await shadowCommand(json).parseAsync(['report', '--url', h.url, '--key', DEMO_KEY, '--json'], { from: 'user' });
  t.equal((JSON.parse(json.stdout()) as Report).differences.length, 1);
});

t.test('shadow quotes older than TRADE_SHADOW_KEEP are purged by the worker, younger ones are kept and reported', async (t) => {
  const clock = new ManualClock(Date.parse('2026-12-20T12:00:00+08:00'));
  const h = await rolledOut(t, { shadowRetention: { retentionMs: 15 * 86_400_000, purgeEveryMs: 3_600_000 } }, clock);
  const request = { merchantId: 'M1', stationId: 'S1', userId: 'U1', items: SALE.items, paymentMethods: ['wechat'], usePoints: false };
  const post = async (quotedAt: string) => {
    const legacy = agreeingLegacy(await h.tc.quotes.quoteAt(request, Date.parse(quotedAt)), 'wechat', quotedAt, `L-${quotedAt}`);
    const answer = await h.api<ShadowAnswer>('POST', '/v1/shadow/quotes', { ...request, scene: 'senseless', legacy });
    t.equal(answer.status, 201, JSON.stringify(answer.body.error));
    return answer.body.shadowId;
  };
  const old = await post(NOON);
  const recent = await post('2026-12-19T12:00:00+08:00');
  t.equal(await h.tc.shadowPurge.run(), 1, 'the quote of 30 November is older than 15 days on 20 December');
  t.equal(await h.tc.storage.shadowQuotes.get(old), null);
  t.ok(await h.tc.storage.shadowQuotes.get(recent), 'the one of the day before stays');
  t.equal((await h.api<Report>('GET', '/admin/shadow/report')).body.total.total, 1);
  t.equal(await h.tc.shadowPurge.run(), 0, 'a second pass finds nothing');
  clock.advance(15 * 86_400_000);
  t.equal(await h.tc.shadowPurge.run(), 1, 'fifteen days on, the other one goes too');
  t.equal((await h.api<Report>('GET', '/admin/shadow/report')).body.total.total, 0);
});

t.test('TRADE_SHADOW_KEEP is a duration; unset keeps the default, a bad one names the key', async (t) => {
  t.equal(shadowKeepFromEnv({}), undefined);
  t.equal(shadowKeepFromEnv({ TRADE_SHADOW_KEEP: '30d' }), 30 * 86_400_000);
  t.equal(shadowKeepFromEnv({ TRADE_SHADOW_KEEP: '12h' }), 12 * 3_600_000);
  for (const bad of ['', 'forever', '-1d', '30']) {
    t.throws(() => shadowKeepFromEnv({ TRADE_SHADOW_KEEP: bad }), ConfigError, JSON.stringify(bad));
  }
});

t.test('in the simulated workload, shadow quotes among sales under faults and crashes are all stored and never make a keyed call: nothing locked or charged', async (t) => {
  const result = await simulate({ seed: 2020, sales: 150, faults: 'default', crashes: 2, backend: 'sqlite', shadowShare: 15 });
  t.same(result.violations, [], 'no violations, the shadow invariants included');
  t.ok((result.counters['shadow:201'] ?? 0) > 0, `shadow quotes were recorded (${result.counters['shadow:201'] ?? 0})`);
  t.ok((result.counters['pay:202'] ?? 0) + (result.counters['pay:200'] ?? 0) > 0, 'beside sales that were paid');
  t.equal(result.crashes, 2);
});

t.test('the shadow invariants catch a keyed call made for a shadow quote and an acknowledged quote not stored', async (t) => {
  const db = new Database(':memory:');
  t.teardown(() => db.close());
  const call = (over: Partial<CallRecord>): CallRecord => ({ at: 1, incarnation: 1, system: 'coupon', verb: 'listCoupons', txnNo: null, key: null, request: 'U1', outcome: 'ok', forShadow: true, ...over });
  const calls = [call({}), call({ verb: 'lock', txnNo: 'T202611301500000000000ABCDEF', key: 'T202611301500000000000ABCDEF:lock-coupons' }), call({ verb: 'lock', txnNo: 'T202611301500000000001ABCDEF', key: 'T202611301500000000001ABCDEF:lock-coupons', forShadow: false })];
  const checker = new InvariantChecker(db, loadDataset(DATASET_PATH), calls);
  const found = checker.shadowQuotes(5, ['S1', 'S2', 'S2'], new Set(['S1']));
  t.same(found.map((v) => [v.invariant, v.txnNo]), [['shadow-inert', 'T202611301500000000000ABCDEF'], ['shadow-recorded', null]], 'the sale\'s own lock and the read are no violation');
});
