import t from 'tap';
import { runInspect } from '../../bin/commands/inspect.ts';
import { runList } from '../../bin/commands/list.ts';
import { HttpSource } from '../../bin/commands/http-source.ts';
import type { Scope } from '../../domain/api-key.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { captureIo } from '../cli/helpers.ts';
import { subscribe } from '../helpers/event-stream.ts';
import { apiClient, DEMO_KEY, eventually, FUEL_SALE, keyEntry, startHarness, type Harness } from '../helpers/harness.ts';

/**
 * Issue 17, must show 1: every route family (public, refunds, admin, inspector API, event
 * stream, simulator admin) against no key, a bad key, each scope, and a key of M1 against M2's
 * transaction, answered as API.md "Auth" says; lists and the stream filtered by merchant.
 */

type ErrorBody = { error?: { code: string; message: string } };

const M1_ALL = 'm1-all-scopes';
const M1_ONLY: Record<Scope, string> = { trade: 'm1-trade', refund: 'm1-refund', admin: 'm1-admin' };
const EVERY_MERCHANT_ADMIN = 'every-merchant-admin';

const KEYS = [
  keyEntry(M1_ALL, { system: 'pos', scopes: ['trade', 'refund', 'admin'], merchants: ['M1'] }),
  ...(Object.entries(M1_ONLY) as [Scope, string][]).map(([scope, secret]) => keyEntry(secret, { system: 'pos', scopes: [scope], merchants: ['M1'] })),
  keyEntry(EVERY_MERCHANT_ADMIN, { system: 'ops', scopes: ['admin'], merchants: ['*'] }),
];

const M2_SALE = { ...FUEL_SALE, merchantId: 'M2', stationId: 'S3' };

/** One route of the matrix: the ids it names are substituted into `path`. */
interface Route {
  family: 'public' | 'refunds' | 'admin' | 'inspector' | 'event stream';
  scope: Scope;
  method: 'GET' | 'POST';
  path: (ids: Ids) => string;
  body?: unknown;
}

interface Ids {
  txnNo: string;
  orderNo: string;
  refundNo: string;
}

const ROUTES: Route[] = [
  { family: 'public', scope: 'trade', method: 'GET', path: (i) => `/v1/transactions/${i.txnNo}` },
  { family: 'public', scope: 'trade', method: 'GET', path: (i) => `/v1/orders/${i.orderNo}` },
  { family: 'public', scope: 'trade', method: 'POST', path: (i) => `/v1/transactions/${i.txnNo}/quotes`, body: { items: [{ type: 'fuel', nozzleNo: 1, amount: 100 }] } },
  { family: 'public', scope: 'trade', method: 'POST', path: (i) => `/v1/transactions/${i.txnNo}/order`, body: { quoteId: 'Q1', comboId: 'c-wechat' } },
  { family: 'public', scope: 'trade', method: 'POST', path: (i) => `/v1/transactions/${i.txnNo}/payments`, body: { legs: [{ method: 'wechat', amount: 100 }] } },
  { family: 'public', scope: 'trade', method: 'POST', path: (i) => `/v1/transactions/${i.txnNo}/order-and-pay`, body: { quoteId: 'Q1', comboId: 'c-wechat', legs: [] } },
  { family: 'public', scope: 'trade', method: 'POST', path: (i) => `/v1/transactions/${i.txnNo}/cancel`, body: {} },
  { family: 'refunds', scope: 'refund', method: 'POST', path: (i) => `/v1/transactions/${i.txnNo}/refunds`, body: { amount: 100, reason: 'matrix' } },
  { family: 'refunds', scope: 'refund', method: 'GET', path: (i) => `/v1/transactions/${i.txnNo}/refunds/${i.refundNo}` },
  { family: 'admin', scope: 'admin', method: 'GET', path: (i) => `/admin/transactions/${i.txnNo}/journal` },
  { family: 'admin', scope: 'admin', method: 'POST', path: (i) => `/admin/transactions/${i.txnNo}/nudge` },
  { family: 'admin', scope: 'admin', method: 'POST', path: (i) => `/admin/transactions/${i.txnNo}/tasks/settlement/retry` },
  { family: 'inspector', scope: 'admin', method: 'GET', path: (i) => `/inspect/api/transactions/${i.txnNo}` },
  { family: 'event stream', scope: 'admin', method: 'GET', path: (i) => `/admin/events?txnNo=${i.txnNo}` },
];

const MISSING: Ids = { txnNo: 'T404MISSING', orderNo: 'O404MISSING', refundNo: 'R404MISSING' };

/** Answers a route with `key` ('' for none); a stream that opens (200) is closed at once. */
async function call(h: Harness, route: Route, ids: Ids, key: string): Promise<{ status: number; body: ErrorBody }> {
  const path = route.path(ids);
  if (route.family === 'event stream') {
    const stream = await subscribe(h.url, path.slice('/admin/events'.length), key ? { authorization: `Bearer ${key}` } : {});
    if (stream.status === 200) {
      stream.abort();
      return { status: 200, body: {} };
    }
    return { status: stream.status ?? 0, body: JSON.parse(await stream.body()) as ErrorBody };
  }
  const res = await apiClient(h.url, key)<ErrorBody>(route.method, path, route.body);
  return { status: res.status, body: res.body };
}

const label = (r: Route) => `${r.family}: ${r.method} ${r.path({ txnNo: '{txnNo}', orderNo: '{orderNo}', refundNo: '{refundNo}' })}`;

/** The answer with the ids it names replaced by placeholders, to compare a foreign id's answer with a missing one's. */
function anonymous(answer: { status: number; body: ErrorBody }, ids: Ids): string {
  let text = JSON.stringify(answer);
  for (const [name, id] of Object.entries(ids)) text = text.replaceAll(id, `<${name}>`);
  return text;
}

/** M2's sale paid by wechat and completed, with one refund asked: every kind of id a route can name. */
async function m2SaleWithRefund(h: Harness): Promise<Ids> {
  const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...M2_SALE, paymentMethods: ['wechat'] });
  t.equal(started.status, 201, 'M2 sale started');
  const { txnNo } = started.body;
  const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-wechat' });
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.body.payableAmount }] });
  await h.sims.gateway.pay(paying.body.legs[0]!.paymentNo!);
  await eventually(() => h.api<TransactionView>('GET', `/v1/transactions/${txnNo}`), (r) => r.body.state === 'completed');
  const refund = await h.api<{ refundNo: string }>('POST', `/v1/transactions/${txnNo}/refunds`, { amount: 100, reason: 'setup' });
  t.equal(refund.status, 202, 'M2 refund asked');
  return { txnNo, orderNo: ordered.body.orderNo!, refundNo: refund.body.refundNo };
}

async function m1Sale(h: Harness): Promise<TransactionView> {
  const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-wechat' });
  return ordered.body;
}

t.test('every route family answers as API.md "Auth" says (issue 17)', async (t) => {
  const h = await startHarness(t, { config: { apiKeys: KEYS } });
  const m2 = await m2SaleWithRefund(h);
  const m1 = await m1Sale(h);
  const m1Ids: Ids = { txnNo: m1.txnNo, orderNo: m1.orderNo!, refundNo: 'R404MISSING' };

  t.test('no key and a bad key: 401 UNAUTHORIZED', async (t) => {
    for (const route of ROUTES) {
      for (const [what, key] of [['no key', ''], ['a bad key', 'tc_not_a_key']] as const) {
        const res = await call(h, route, m1Ids, key);
        t.same([res.status, res.body.error?.code], [401, 'UNAUTHORIZED'], `${label(route)} with ${what}`);
      }
    }
  });

  t.test('a key without the scope a route needs: 403 FORBIDDEN; with it, past auth', async (t) => {
    for (const [scope, key] of Object.entries(M1_ONLY) as [Scope, string][]) {
      for (const route of ROUTES.filter((r) => r.scope !== scope)) {
        const res = await call(h, route, m1Ids, key);
        t.same([res.status, res.body.error?.code], [403, 'FORBIDDEN'], `${label(route)} with only ${scope}`);
      }
      for (const route of ROUTES.filter((r) => r.scope === scope)) {
        const res = await call(h, route, m1Ids, key);
        t.notOk([401, 403].includes(res.status), `${label(route)} with ${scope} gets past auth (${res.status} ${res.body.error?.code ?? ''})`);
      }
    }
  });

  t.test("a key of M1 against M2's transaction, order and refund: 404 NOT_FOUND exactly as if missing", async (t) => {
    const before = (await h.tc.storage.snapshots.load(m2.txnNo))!.version;
    for (const route of ROUTES) {
      const foreign = await call(h, route, m2, M1_ALL);
      const missing = await call(h, route, MISSING, M1_ALL);
      t.same([foreign.status, foreign.body.error?.code], [404, 'NOT_FOUND'], label(route));
      t.equal(anonymous(foreign, m2), anonymous(missing, MISSING), `${label(route)}: the same answer as a missing one`);
      t.notMatch(JSON.stringify(foreign.body), /M2/, `${label(route)}: names no merchant`);
    }
    t.equal((await h.tc.storage.snapshots.load(m2.txnNo))!.version, before, "nothing was done to M2's transaction");
    const everyMerchant = await apiClient(h.url, EVERY_MERCHANT_ADMIN)<{ entries: unknown[] }>('GET', `/admin/transactions/${m2.txnNo}/journal`);
    t.equal(everyMerchant.status, 200, 'a key with merchants ["*"] reads it');
    t.ok(everyMerchant.body.entries.length > 0);
  });

  t.test('admin and inspector lists show only the merchants of the key', async (t) => {
    const listed = async (key: string, path: string) => {
      const res = await apiClient(h.url, key)<{ items: { txnNo: string }[] }>('GET', path);
      t.equal(res.status, 200, `${path} answers`);
      return res.body.items.map((i) => i.txnNo);
    };
    for (const path of ['/admin/transactions', '/inspect/api/transactions']) {
      const m1Sees = await listed(M1_ALL, path);
      t.ok(m1Sees.includes(m1.txnNo), `${path}: M1's key lists M1's transaction`);
      t.notOk(m1Sees.includes(m2.txnNo), `${path}: M1's key does not list M2's`);
      const allSee = await listed(EVERY_MERCHANT_ADMIN, path);
      t.ok(allSee.includes(m1.txnNo) && allSee.includes(m2.txnNo), `${path}: a key of every merchant lists both`);
    }
    t.same(await listed(M1_ALL, `/inspect/api/transactions?q=${m2.txnNo}`), [], "the inspector's search finds nothing of M2's by txnNo");
    t.same(await listed(M1_ALL, `/inspect/api/transactions?q=${m2.orderNo}`), [], '… nor by orderNo');
    t.same(await listed(EVERY_MERCHANT_ADMIN, `/inspect/api/transactions?q=${m2.txnNo}`), [m2.txnNo]);
  });

  t.test('the event stream carries only the transitions of the merchants of the key', async (t) => {
    const m1Stream = await subscribe(h.url, '', { authorization: `Bearer ${M1_ONLY.admin}` });
    const m1ByQuery = await subscribe(h.url, `?key=${M1_ALL}`, {});
    const allStream = await subscribe(h.url, '', { authorization: `Bearer ${EVERY_MERCHANT_ADMIN}` });
    t.same([m1Stream.status, m1ByQuery.status, allStream.status], [200, 200, 200]);
    // M2's first: once M1's later transaction has arrived, M2's would have too.
    const foreign = await h.api<TransactionView>('POST', '/v1/transactions', M2_SALE);
    const own = await h.api<TransactionView>('POST', '/v1/transactions', FUEL_SALE);
    for (const stream of [m1Stream, m1ByQuery]) {
      await eventually(async () => stream.messages, (ms) => ms.some((m) => m.txnNo === own.body.txnNo));
      t.notOk(stream.messages.some((m) => m.txnNo === foreign.body.txnNo), "M1's stream has nothing of M2's transaction");
      t.notOk(stream.messages.some((m) => m.txnNo === m2.txnNo), "… nor of M2's earlier one");
    }
    await eventually(async () => allStream.messages, (ms) => ms.some((m) => m.txnNo === own.body.txnNo) && ms.some((m) => m.txnNo === foreign.body.txnNo));
    t.pass('a key of every merchant streams both');
    for (const s of [m1Stream, m1ByQuery, allStream]) s.abort();
  });

  t.test("the CLI over HTTP with M1's key does not find M2's transaction and lists only M1's", async (t) => {
    const source = new HttpSource(h.url, M1_ALL);
    t.teardown(() => source.close());
    await t.rejects(runInspect(source, captureIo(), m2.txnNo, {}), new RegExp(`^NOT_FOUND: no transaction ${m2.txnNo}$`));
    const { items } = await runList(source, captureIo(), { limit: 200, all: true, json: true });
    t.ok(items.some((i) => i.txnNo === m1.txnNo));
    t.notOk(items.some((i) => i.txnNo === m2.txnNo));
  });

  t.test('the simulator admin in demo mode needs the admin scope', async (t) => {
    const sim = (key: string) => apiClient(h.url, key)<ErrorBody>('GET', '/sim/cards/C1');
    t.same([(await sim('')).status, (await sim('')).body.error?.code], [401, 'UNAUTHORIZED'], 'no key');
    t.equal((await sim('tc_not_a_key')).status, 401, 'a bad key');
    t.equal((await sim(M1_ONLY.trade)).status, 403, 'a key without admin');
    t.equal((await sim(M1_ONLY.admin)).status, 200, 'an admin key');
    t.equal((await sim(DEMO_KEY)).status, 200, 'the demo key');
  });
});
