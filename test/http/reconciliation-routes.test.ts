import t from 'tap';
import { buildApp } from '../../http/app.ts';
import { DEMO_API_KEY } from '../../domain/api-key.ts';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { eventually, keyEntry, orderedSale, startHarness } from '../helpers/harness.ts';

const DAY = '2026-12-01';
const JUST_AFTER_MIDNIGHT = Date.parse('2026-12-02T00:00:30+08:00');

type Day = { ranAt: string | null; clean: boolean | null; open: number; byKind: Record<string, number>; totals: Record<string, number> | null; discrepancies: { id: string; kind: string; status: string; resolution: { by: string; accept?: string; note: string } | null }[] };
type Run = { day: Day; added: string[]; autoFixed: string[] };

t.test('the reconciliation routes run a day, show it, take a person\'s decision once, and refuse bad input clearly (issue 19)', async (t) => {
  const clock = new ManualClock(Date.parse(`${DAY}T23:47:00+08:00`));
  const h = await startHarness(t, {
    clock,
    config: { apiKeys: [keyEntry('m1-admin', { scopes: ['admin'], merchants: ['M1'] }), keyEntry('trader', { scopes: ['trade'], merchants: ['*'] })] },
  });
  const app = await buildApp(h.tc);
  t.teardown(() => app.close());
  const call = async <T>(method: 'GET' | 'POST', url: string, payload?: unknown, key: string | null = DEMO_API_KEY) => {
    const res = await app.inject({ method, url, ...(payload !== undefined ? { payload: payload as object } : {}), headers: key ? { authorization: `Bearer ${key}` } : {} });
    return { status: res.statusCode, body: res.json<T>() };
  };
  const view = (txnNo: string) => h.api<TransactionView>('GET', `/v1/transactions/${txnNo}`);

  const never = await call<Day>('GET', `/admin/reconciliation/wechat/${DAY}`);
  t.equal(never.status, 200);
  t.match(never.body, { ranAt: null, clean: null, totals: null, open: 0, discrepancies: [] }, 'a day never run says so');

  const paidSale = async () => {
    const ordered = await orderedSale(h.api, 'wechat');
    const paying = await h.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.payableAmount }] });
    await h.sims.gateway.pay(paying.body.legs[0]!.paymentNo);
    return { txnNo: ordered.txnNo, paymentNo: paying.body.legs[0]!.paymentNo };
  };
  const clean = await paidSale();
  await eventually(() => view(clean.txnNo), (r) => r.body.state === 'completed');
  h.tc.sims!.gateway.configureCallbacks({ dropCallbacks: true });
  const lost = await paidSale();

  const early = await call<{ error: { code: string } }>('POST', `/admin/reconciliation/wechat/${DAY}/run`);
  t.equal(early.status, 409);
  t.equal(early.body.error.code, 'BILL_NOT_READY', 'the bill of a day not over is not ready');

  // Just past midnight: the bill is out, and the lost payment is still within its 15 minutes.
  clock.advance(JUST_AFTER_MIDNIGHT - clock.now());
  const first = await call<Run>('POST', `/admin/reconciliation/wechat/${DAY}/run`);
  t.equal(first.status, 200);
  const fixedId = `wechat:${DAY}:platform_short_status:${lost.paymentNo}`;
  t.same([first.body.added, first.body.autoFixed], [[fixedId], [fixedId]], 'the lost callback is found and fixed');
  t.match(first.body.day, { clean: false, open: 0, byKind: { platform_short_status: 1, fee_mismatch: 0 } });
  await eventually(() => view(lost.txnNo), (r) => r.body.legs[0]!.status === 'succeeded');

  const second = await call<Run>('POST', `/admin/reconciliation/wechat/${DAY}/run`);
  t.same([second.body.added, second.body.autoFixed], [[], []], 'a re-run adds and fixes nothing');
  t.equal(second.body.day.clean, true, 'and finds the day clean');
  t.equal(second.body.day.totals?.matched, second.body.day.totals?.billRows, 'every bill row matched');

  const planted = h.tc.sims!.bills.inject({ channel: 'wechat', date: DAY, kind: 'platform_short_amount', merchantRef: clean.paymentNo, deltaFen: 100 });
  const third = await call<Run>('POST', `/admin/reconciliation/wechat/${DAY}/run`);
  const shortId = `wechat:${DAY}:platform_short_amount:${planted.merchantRef}`;
  t.same(third.body.added, [shortId], 'the planted amount is found');
  t.equal(third.body.day.open, 1, 'and waits for a person');

  const resolved = await call<Day['discrepancies'][number]>('POST', `/admin/reconciliation/discrepancies/${encodeURIComponent(shortId)}/resolve`, { accept: 'channel', note: 'the channel paid 1 yuan more; settled with finance' });
  t.equal(resolved.status, 200);
  t.match(resolved.body, { status: 'resolved', resolution: { by: 'demo', accept: 'channel', note: 'the channel paid 1 yuan more; settled with finance' } }, 'who decided and why');
  const twice = await call<{ error: { code: string } }>('POST', `/admin/reconciliation/discrepancies/${encodeURIComponent(shortId)}/resolve`, { accept: 'platform', note: 'changed my mind' });
  t.equal(twice.status, 409);
  t.equal(twice.body.error.code, 'DISCREPANCY_CLOSED', 'a decision is made once');
  t.equal((await call<Day>('GET', `/admin/reconciliation/wechat/${DAY}`)).body.discrepancies.find((d) => d.id === shortId)?.resolution?.accept, 'channel', 'the first decision stands');

  const refusals: [string, 'GET' | 'POST', string, unknown, string | null, number, string][] = [
    ['an unknown channel', 'GET', `/admin/reconciliation/paypal/${DAY}`, undefined, DEMO_API_KEY, 400, 'INVALID_REQUEST'],
    ['a malformed date', 'POST', '/admin/reconciliation/wechat/2026-1-1/run', undefined, DEMO_API_KEY, 400, 'INVALID_REQUEST'],
    ['a date that is no calendar day', 'GET', '/admin/reconciliation/wechat/2026-02-30', undefined, DEMO_API_KEY, 400, 'INVALID_REQUEST'],
    ['an unknown discrepancy', 'POST', '/admin/reconciliation/discrepancies/wechat:2026-12-01:fee_mismatch:nope/resolve', { accept: 'channel', note: 'x' }, DEMO_API_KEY, 404, 'NOT_FOUND'],
    ['a decision that is neither side', 'POST', `/admin/reconciliation/discrepancies/${encodeURIComponent(shortId)}/resolve`, { accept: 'both', note: 'x' }, DEMO_API_KEY, 400, 'INVALID_REQUEST'],
    ['a decision without a note', 'POST', `/admin/reconciliation/discrepancies/${encodeURIComponent(shortId)}/resolve`, { accept: 'channel' }, DEMO_API_KEY, 400, 'INVALID_REQUEST'],
    ['no key', 'GET', `/admin/reconciliation/wechat/${DAY}`, undefined, null, 401, 'UNAUTHORIZED'],
    ['a key without the admin scope', 'GET', `/admin/reconciliation/wechat/${DAY}`, undefined, 'trader', 403, 'FORBIDDEN'],
    ['an admin key of one merchant', 'POST', `/admin/reconciliation/wechat/${DAY}/run`, undefined, 'm1-admin', 403, 'FORBIDDEN'],
  ];
  for (const [what, method, url, payload, key, status, code] of refusals) {
    const res = await call<{ error: { code: string } }>(method, url, payload, key);
    t.same([res.status, res.body.error?.code], [status, code], `${what}: ${status} ${code}`);
  }
});
