import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { buildApp } from '../../http/app.ts';
import { SIGNATURE_HEADERS, sign } from '../../domain/signature.ts';
import { createTradeCenter, DEFAULT_CONFIG, type TradeCenter } from '../../runtime/trade-center.ts';
import { loadDataset } from '../../systems/sim/index.ts';
import { DATASET_PATH, DEMO_KEY, FUEL_SALE } from '../helpers/harness.ts';

/** The app over a fresh Trade Center, reached through `app.inject`; closed at teardown. */
async function injectable(t: Test): Promise<{ app: FastifyInstance; tc: TradeCenter }> {
  const dir = t.testdir();
  const tc = createTradeCenter(
    { ...DEFAULT_CONFIG, dataset: loadDataset(DATASET_PATH), dbPath: join(dir, 'trade.db'), simDbPath: join(dir, 'sim.db'), logLevel: 'silent' },
    { log: pino({ level: 'silent' }) },
  );
  const app = await buildApp(tc);
  t.teardown(async () => {
    await app.close();
    await tc.close();
  });
  return { app, tc };
}

type ErrorBody = { error: { code: string; message: string } };

function errorOf(body: string): ErrorBody['error'] {
  return (JSON.parse(body) as ErrorBody).error;
}

/** The bytes of a JSON body with a string holding `bad`, bytes that are not UTF-8. */
function withBadBytes(json: string, bad: number[]): Buffer {
  const [before, after] = json.split('@BAD@');
  return Buffer.concat([Buffer.from(before!), Buffer.from(bad), Buffer.from(after!)]);
}

t.test('a path that is not valid percent-encoded UTF-8 is 400 INVALID_REQUEST in the API error format, not fastify\'s (issue 17)', async (t) => {
  const { app } = await injectable(t);
  const res = await app.inject({ method: 'GET', url: '/v1/transactions/%FF%FE%FD', headers: { authorization: `Bearer ${DEMO_KEY}` } });
  t.equal(res.statusCode, 400);
  t.equal(errorOf(res.body).code, 'INVALID_REQUEST');
  t.notMatch(res.body, /FST_/);
});

t.test('an unknown route is 404 NOT_FOUND and a known path under another method is 405 METHOD_NOT_ALLOWED with Allow', async (t) => {
  const { app } = await injectable(t);
  const unknown = await app.inject({ method: 'GET', url: '/v1/nothing-here' });
  t.equal(unknown.statusCode, 404);
  t.equal(errorOf(unknown.body).code, 'NOT_FOUND');
  const wrongMethod = await app.inject({ method: 'DELETE', url: '/v1/transactions/T1' });
  t.equal(wrongMethod.statusCode, 405);
  t.equal(errorOf(wrongMethod.body).code, 'METHOD_NOT_ALLOWED');
  t.equal(wrongMethod.headers.allow, 'GET, HEAD');
  const getOnPost = await app.inject({ method: 'GET', url: '/v1/checkout' });
  t.equal(getOnPost.statusCode, 405);
  t.equal(getOnPost.headers.allow, 'POST');
});

t.test('a JSON body that is not valid UTF-8 is refused with 400 INVALID_REQUEST instead of being stored with U+FFFD (issue 17)', async (t) => {
  const { app, tc } = await injectable(t);
  const sale = JSON.stringify({ ...FUEL_SALE, userId: '@BAD@', paymentMethods: ['wechat'] });
  for (const bad of [[0xff, 0xfe], [0xc3], [0xed, 0xa0, 0x80] /* a UTF-16 surrogate */, [0xc0, 0xaf] /* an overlong "/" */]) {
    const res = await app.inject({ method: 'POST', url: '/v1/transactions', headers: { authorization: `Bearer ${DEMO_KEY}`, 'content-type': 'application/json' }, payload: withBadBytes(sale, bad) });
    t.equal(res.statusCode, 400, `bytes ${bad.map((b) => b.toString(16)).join(' ')}`);
    t.same(errorOf(res.body), { code: 'INVALID_REQUEST', message: 'the body is not valid UTF-8' });
  }
  t.same(await tc.storage.admin.listTransactions({ limit: 10 }), [], 'nothing was started');
  const fine = await app.inject({ method: 'POST', url: '/v1/transactions', headers: { authorization: `Bearer ${DEMO_KEY}`, 'content-type': 'application/json' }, payload: Buffer.from(JSON.stringify({ ...FUEL_SALE, paymentMethods: ['wechat'] })) });
  t.equal(fine.statusCode, 201, 'well-formed UTF-8 still passes');
});

t.test('a signed callback whose body is not valid UTF-8 is refused with 400 INVALID_REQUEST', async (t) => {
  const { app, tc } = await injectable(t);
  const raw = withBadBytes('{"paymentNo":"@BAD@"}', [0xff]);
  const timestamp = String(Math.floor(tc.clock.now() / 1000));
  const res = await app.inject({
    method: 'POST',
    url: '/v1/callbacks/payments/wechat',
    headers: { 'content-type': 'application/json', [SIGNATURE_HEADERS.timestamp]: timestamp, [SIGNATURE_HEADERS.nonce]: 'n-utf8', [SIGNATURE_HEADERS.signature]: sign(tc.config.callbackSecret, timestamp, 'n-utf8', raw.toString('latin1')) },
    payload: raw,
  });
  t.equal(res.statusCode, 400);
  t.equal(errorOf(res.body).code, 'INVALID_REQUEST');
});

t.test('a path climbing out of /docs/static is 404 NOT_FOUND, not 403 INVALID_REQUEST (issue 17)', async (t) => {
  const { app } = await injectable(t);
  for (const url of ['/docs/static/..%5c..%5cpackage.json', '/docs/static/..%2f..%2fpackage.json', '/docs/static/%2e%2e/%2e%2e/package.json', '/docs/static/.%2e/.%2e/package.json']) {
    const res = await app.inject({ method: 'GET', url });
    t.equal(res.statusCode, 404, url);
    t.equal(errorOf(res.body).code, 'NOT_FOUND', url);
    t.notMatch(res.body, /"name":\s*"trade-center"/, 'and no file outside it was served');
  }
  t.equal((await app.inject({ method: 'GET', url: '/docs/static/swagger-ui.css' })).statusCode, 200, 'its own files still are');
});

interface Operation {
  security?: unknown[];
  responses: Record<string, { content?: Record<string, unknown> }>;
}

t.test('the OpenAPI document asks for a key only on routes that need one, and types /metrics as text/plain (issue 17)', async (t) => {
  const { app } = await injectable(t);
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json<{ security: unknown[]; paths: Record<string, Record<string, Operation>> }>();
  t.same(doc.security, [{ apiKey: [] }], 'a key by default');
  const open = [
    ['get', '/healthz'],
    ['get', '/readyz'],
    ['get', '/metrics'],
    ['get', '/inspect'],
    ['get', '/inspect/app.js'],
    ['get', '/inspect/app.css'],
    ['post', '/v1/callbacks/payments/{channel}'],
    ['post', '/v1/callbacks/refunds/{channel}'],
  ] as const;
  for (const [method, path] of open) t.same(doc.paths[path]?.[method]?.security, [], `${method.toUpperCase()} ${path} needs no key`);
  for (const [method, path] of [['post', '/v1/transactions'], ['get', '/admin/transactions'], ['get', '/inspect/api/transactions']] as const) {
    t.equal(doc.paths[path]?.[method]?.security, undefined, `${method.toUpperCase()} ${path} keeps the key of the document`);
  }
  t.same(Object.keys(doc.paths['/metrics']!.get!.responses['200']!.content ?? {}), ['text/plain']);
  const metrics = await app.inject({ method: 'GET', url: '/metrics' });
  t.match(metrics.headers['content-type'], /^text\/plain/);
});

t.test('the inspector page is sent with a self-only Content-Security-Policy, X-Frame-Options and nosniff (issue 17)', async (t) => {
  const { app } = await injectable(t);
  for (const url of ['/inspect', '/inspect/app.js', '/inspect/app.css']) {
    const res = await app.inject({ method: 'GET', url });
    t.equal(res.statusCode, 200, url);
    const csp = String(res.headers['content-security-policy']);
    t.match(csp, /default-src 'self'/, url);
    t.match(csp, /script-src 'self'(;|$)/, `${url}: no inline or remote script`);
    t.match(csp, /connect-src 'self'/);
    t.match(csp, /frame-ancestors 'none'/);
    t.notMatch(csp, /unsafe-inline|unsafe-eval|https?:/, 'nothing beyond its own origin');
    t.equal(res.headers['x-frame-options'], 'DENY');
    t.equal(res.headers['x-content-type-options'], 'nosniff');
  }
});
