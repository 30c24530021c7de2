import { join } from 'node:path';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import t from 'tap';
import { ERROR_CODES } from '../../domain/errors.ts';
import { buildApp } from '../../http/app.ts';
import { createTradeCenter, DEFAULT_CONFIG } from '../../runtime/trade-center.ts';
import { loadDataset } from '../../systems/sim/index.ts';
import { DATASET_PATH, DEMO_KEY, FUEL_SALE } from '../helpers/harness.ts';

/**
 * Issue 17, must show 4: requests built from the published OpenAPI schemas (`GET /docs/json`),
 * then mutated (wrong types, missing and unknown fields, huge numbers, bad strings, broken JSON,
 * bytes that are not UTF-8). Whatever arrives, the answer is never a 5xx, and every refusal is in
 * the API.md error format with a registered code.
 */

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  nullable?: boolean;
}

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema?: JsonSchema;
}

interface Operation {
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
}

interface Target {
  method: string;
  path: string;
  op: Operation;
}

/** The demo data's own names, so that generated requests also reach past the "unknown …" refusals. */
const KNOWN: Record<string, unknown[]> = {
  scene: ['merchant_pos', 'one_click_refuel'],
  merchantId: ['M1', 'M2'],
  stationId: ['S1'],
  userId: ['U1', 'U3'],
  cardNo: ['C1'],
  sku: ['SKU-WATER'],
  nozzleNo: [1, 3],
  method: ['wechat', 'stored_value', 'alipay'],
  paymentMethods: [['wechat'], ['stored_value', 'wechat']],
};

/** A value the schema admits (roughly: patterns are honoured where fast-check can, formats not). */
function valueOf(schema: JsonSchema, name = '', depth = 0): fc.Arbitrary<unknown> {
  const own = ownValueOf(schema, depth);
  const known = KNOWN[name];
  return known ? fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...known) }, { weight: 1, arbitrary: own }) : own;
}

function ownValueOf(schema: JsonSchema, depth: number): fc.Arbitrary<unknown> {
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum?.length) return fc.constantFrom(...schema.enum);
  const union = schema.anyOf ?? schema.oneOf;
  if (union?.length) return fc.oneof(...union.map((s) => valueOf(s, '', depth + 1)));
  if (schema.allOf?.length) return valueOf(schema.allOf[0]!, '', depth + 1);
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  const type = types.find((x) => x !== 'null') ?? (schema.properties ? 'object' : undefined);
  const base = ((): fc.Arbitrary<unknown> => {
    switch (type) {
      case 'string': {
        const maxLength = Math.min(schema.maxLength ?? 40, 40);
        if (schema.pattern) {
          try {
            return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length >= (schema.minLength ?? 0) && s.length <= (schema.maxLength ?? Infinity));
          } catch {
            // a pattern fast-check cannot generate from: any string will do
          }
        }
        return fc.string({ minLength: Math.min(schema.minLength ?? 0, maxLength), maxLength });
      }
      case 'integer':
        return fc.integer({ min: Math.max(schema.minimum ?? -1_000, -1e9), max: Math.min(schema.maximum ?? 1_000_000, 1e9) });
      case 'number':
        return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true });
      case 'boolean':
        return fc.boolean();
      case 'array':
        if (depth > 4) return fc.constant([]);
        return fc.array(valueOf(schema.items ?? {}, '', depth + 1), { minLength: schema.minItems ?? 0, maxLength: Math.max(schema.minItems ?? 0, Math.min(schema.maxItems ?? 3, 3)) });
      case 'object': {
        if (depth > 4) return fc.constant({});
        const properties = schema.properties ?? {};
        const model: Record<string, fc.Arbitrary<unknown>> = {};
        for (const [key, sub] of Object.entries(properties)) model[key] = valueOf(sub, key, depth + 1);
        return fc.record(model, { requiredKeys: (schema.required ?? []).filter((k) => k in properties) });
      }
      default:
        return fc.jsonValue({ maxDepth: 2 });
    }
  })();
  return schema.nullable || types.includes('null') ? fc.oneof(base, fc.constant(null)) : base;
}

/** What a hostile or careless client puts where a value belongs. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    1e308, -1e308, 2 ** 53 + 2, -(2 ** 63), Number.MAX_SAFE_INTEGER, Number.MIN_VALUE, -1, 0, 0.5, -0,
    '', ' ', '0', '-1', '1e309', 'NaN', 'null', 'true', '\u0000', '\uFFFD', '\uD800', '💥', 'x'.repeat(70_000),
    '../../../../etc/passwd', "' OR 1=1 --", '<script>alert(1)</script>', '%FF%FE', '${jndi:ldap://x}', '__proto__',
    null, true, false, [], {}, [[[[[]]]]], JSON.parse('{"__proto__":{"polluted":true}}'), { constructor: { prototype: { polluted: true } } },
  ),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.jsonValue({ maxDepth: 3 }),
);

/** Every place inside a value, as a path of keys and indexes (the root is `[]`). */
function placesIn(value: unknown, at: (string | number)[] = []): (string | number)[][] {
  const here = [at];
  if (Array.isArray(value)) return here.concat(...value.map((v, i) => placesIn(v, [...at, i])));
  if (value && typeof value === 'object') return here.concat(...Object.entries(value).map(([k, v]) => placesIn(v, [...at, k])));
  return here;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function valueAt(value: unknown, place: (string | number)[]): unknown {
  return place.reduce<unknown>((v, key) => (v as Record<string | number, unknown>)[key], value);
}

/**
 * A copy of `value` with `change` applied at `place` (its parent and key); the root itself is
 * changed through a wrapper. The copy goes through JSON, which keeps a `__proto__` key as data.
 */
function changedAt(value: unknown, place: (string | number)[], change: (parent: Record<string | number, unknown>, key: string | number) => void): unknown {
  const copy = JSON.parse(JSON.stringify({ root: value ?? null })) as Record<string | number, unknown>;
  const full = ['root', ...place];
  let parent = copy;
  for (const key of full.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  change(parent, full.at(-1)!);
  return copy.root;
}

/** The body as sent: JSON text, or raw bytes for the mutations JSON cannot express. */
type Body = { kind: 'none' } | { kind: 'bytes'; bytes: Buffer };

const json = (value: unknown): Body => ({ kind: 'bytes', bytes: Buffer.from(JSON.stringify(value) ?? 'null') });

/** The body of one request: the schema's value as it is, or mutated one way or another. */
function bodyFor(schema: JsonSchema): fc.Arbitrary<Body> {
  const valid = valueOf(schema);
  const at = (value: unknown, pick: number) => {
    const places = placesIn(value);
    return places[pick % places.length]!;
  };
  return fc.oneof(
    { weight: 4, arbitrary: valid.map(json) },
    // a value replaced by one of the wrong type or size
    fc.tuple(valid, fc.nat(), hostileValue).map(([v, pick, bad]) => json(changedAt(v, at(v, pick), (p, k) => void (p[k] = bad)))),
    // a field removed
    fc.tuple(valid, fc.nat()).map(([v, pick]) => json(changedAt(v, at(v, pick), (p, k) => (Array.isArray(p) ? p.splice(Number(k), 1) : delete p[k])))),
    // a field nobody asked for, on the body or on any object inside it
    fc.tuple(valid, fc.nat(), fc.string({ minLength: 1, maxLength: 12 }), hostileValue).map(([v, pick, key, extra]) => {
      const objects = placesIn(v).filter((p) => isObject(valueAt(v, p)));
      if (!objects.length) return json(v);
      return json(changedAt(v, [...objects[pick % objects.length]!, key], (p, k) => void (p[k] = extra)));
    }),
    // not an object at all
    hostileValue.map(json),
    // text that is not the JSON it claims to be, or not UTF-8
    fc.tuple(valid, fc.constantFrom(
      (s: string) => s.slice(0, Math.max(0, s.length - 1)),
      (s: string) => s.replace(/\d+/, '1' + '0'.repeat(400)),
      (s: string) => s.replace(/\d+/, '1e999'),
      (s: string) => `${s}${s}`,
      (s: string) => s.replace(/"/, "'"),
      () => '['.repeat(20_000) + ']'.repeat(20_000),
      () => `{"a":${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}}`,
      () => '',
    )).map(([v, edit]) => ({ kind: 'bytes' as const, bytes: Buffer.from(edit(JSON.stringify(v) ?? '')) })),
    fc.tuple(valid, fc.constantFrom([0xff], [0xc3], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf8, 0x88, 0x80, 0x80, 0x80])).map(([v, bad]) => {
      const text = JSON.stringify(v) ?? '""';
      const cut = Math.max(1, text.indexOf('"') + 1);
      return { kind: 'bytes' as const, bytes: Buffer.concat([Buffer.from(text.slice(0, cut)), Buffer.from(bad), Buffer.from(text.slice(cut))]) };
    }),
    fc.constant<Body>({ kind: 'none' }),
  );
}

/** A path parameter: a real number of the seeded data, or anything at all. */
function paramValue(real: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...real).map(encodeURIComponent) },
    { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,30}$/) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }).filter((s) => s.length > 0).map(encodeURIComponent) },
    { weight: 1, arbitrary: fc.constantFrom('%FF%FE%FD', '%00', '..%2f..%2f', '%2e%2e', 'T'.repeat(5_000), '%E0%A4%A', '%C0%AF') },
  );
}

function queryValue(schema: JsonSchema | undefined): fc.Arbitrary<string> {
  return fc.oneof(valueOf(schema ?? {}).map((v) => (typeof v === 'string' ? v : JSON.stringify(v) ?? '')), hostileValue.map((v) => (typeof v === 'string' ? v : JSON.stringify(v) ?? '')));
}

interface Request {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: Buffer;
}

function requestFor(target: Target, real: string[]): fc.Arbitrary<Request> {
  const params = target.op.parameters ?? [];
  const pathParams = params.filter((p) => p.in === 'path');
  const queryParams = params.filter((p) => p.in === 'query');
  const bodySchema = target.op.requestBody?.content['application/json']?.schema;
  return fc
    .record({
      path: fc.tuple(...pathParams.map(() => paramValue(real))),
      query: fc.tuple(...queryParams.map((p) => fc.option(queryValue(p.schema), { nil: undefined }))),
      body: bodySchema ? bodyFor(bodySchema) : fc.oneof(fc.constant<Body>({ kind: 'none' }), hostileValue.map(json)),
      key: fc.constantFrom(`Bearer ${DEMO_KEY}`, `Bearer ${DEMO_KEY}`, `Bearer ${DEMO_KEY}`, '', 'Bearer nope', 'Basic dXNlcjpwYXNz', `Bearer ${'k'.repeat(5_000)}`),
      idempotencyKey: fc.option(fc.oneof(fc.stringMatching(/^[A-Za-z0-9-]{1,40}$/), fc.constant('k'.repeat(300))), { nil: undefined }),
      contentType: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8') }, { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', 'application/json; charset=latin1') }),
    })
    .map(({ path, query, body, key, idempotencyKey, contentType }) => {
      let url = target.path;
      pathParams.forEach((p, i) => (url = url.replace(`{${p.name}}`, path[i]!)));
      const search = new URLSearchParams();
      queryParams.forEach((p, i) => query[i] !== undefined && search.set(p.name, query[i]!));
      const headers: Record<string, string> = {};
      if (key) headers.authorization = key;
      if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
      if (body.kind === 'bytes') headers['content-type'] = contentType;
      return {
        method: target.method.toUpperCase(),
        url: search.size ? `${url}?${search}` : url,
        headers,
        ...(body.kind === 'bytes' ? { payload: body.bytes } : {}),
      };
    });
}

/** The operations to fuzz: every documented one but the live event stream (it never ends) and the simulators' own admin. */
function targetsOf(doc: { paths: Record<string, Record<string, Operation>> }): Target[] {
  return Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods)
      .filter(([method]) => ['get', 'post', 'put', 'delete', 'patch'].includes(method))
      .filter(() => path !== '/admin/events' && !path.startsWith('/sim/') && !path.startsWith('/docs'))
      .map(([method, op]) => ({ method, path, op })),
  );
}

function describe(req: Request): string {
  const body = req.payload ? req.payload.subarray(0, 300).toString('utf8') : '';
  return `${req.method} ${req.url.slice(0, 300)} ${JSON.stringify(req.headers).slice(0, 300)} ${body}`;
}

/** Modest by default (a few seconds idle, well under a minute on a busy machine); FUZZ_RUNS for a longer hunt. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 700);

t.test('requests built from the OpenAPI schemas and mutated are never answered 5xx, and every refusal is in the API.md error format (issue 17)', async (t) => {
  const dir = t.testdir();
  const tc = createTradeCenter(
    { ...DEFAULT_CONFIG, dataset: loadDataset(DATASET_PATH), dbPath: join(dir, 'trade.db'), simDbPath: join(dir, 'sim.db'), logLevel: 'silent', callbackDelayMs: 0 },
    { log: pino({ level: 'silent' }) },
  );
  const app: FastifyInstance = await buildApp(tc);
  t.teardown(async () => {
    await app.close();
    await tc.close();
  });
  await tc.start();
  const inject = (req: Request) => app.inject({ method: req.method as 'GET', url: req.url, headers: req.headers, ...(req.payload ? { payload: req.payload } : {}) });

  // A few real transactions, so that generated numbers also reach the routes' deeper paths.
  const real: string[] = [];
  for (const paymentMethods of [['wechat'], ['stored_value', 'wechat']]) {
    const started = await app.inject({ method: 'POST', url: '/v1/transactions', headers: { authorization: `Bearer ${DEMO_KEY}` }, payload: { ...FUEL_SALE, paymentMethods } });
    t.equal(started.statusCode, 201, 'a seed transaction starts');
    const view = started.json<{ txnNo: string; quote: { quoteId: string; combos: { comboId: string }[] } }>();
    const ordered = await app.inject({ method: 'POST', url: `/v1/transactions/${view.txnNo}/order`, headers: { authorization: `Bearer ${DEMO_KEY}` }, payload: { quoteId: view.quote.quoteId, comboId: view.quote.combos[0]!.comboId } });
    real.push(view.txnNo, ordered.json<{ orderNo: string }>().orderNo, view.quote.quoteId, view.quote.combos[0]!.comboId);
  }

  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json<{ paths: Record<string, Record<string, Operation>> }>();
  const targets = targetsOf(doc);
  t.ok(targets.length >= 20, `${targets.length} operations to fuzz`);
  const codes = new Set(Object.keys(ERROR_CODES));
  const seen = new Map<number, number>();
  const started = Date.now();

  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...targets).chain((target) => requestFor(target, real)),
      async (req) => {
        const res = await inject(req);
        seen.set(res.statusCode, (seen.get(res.statusCode) ?? 0) + 1);
        if (res.statusCode >= 500) throw new Error(`${res.statusCode} for ${describe(req)}: ${res.body.slice(0, 500)}`);
        if (res.statusCode >= 400) {
          let body: unknown;
          try {
            body = JSON.parse(res.body);
          } catch {
            throw new Error(`${res.statusCode} not JSON for ${describe(req)}: ${res.body.slice(0, 300)}`);
          }
          const error = (body as { error?: { code?: unknown; message?: unknown } }).error;
          if (!error || typeof error.code !== 'string' || !codes.has(error.code) || typeof error.message !== 'string') {
            throw new Error(`${res.statusCode} not in the API.md format for ${describe(req)}: ${res.body.slice(0, 300)}`);
          }
          if (Object.keys(body as object).some((k) => k !== 'error')) throw new Error(`extra fields beside error for ${describe(req)}: ${res.body.slice(0, 300)}`);
        }
      },
    ),
    { numRuns: RUNS },
  );
  t.pass(`${RUNS} requests in ${Date.now() - started} ms, by status: ${JSON.stringify(Object.fromEntries([...seen].sort(([a], [b]) => a - b)))}`);
  t.ok([...seen.keys()].some((s) => s < 300), 'some requests were valid enough to succeed');
  t.ok([...seen.keys()].some((s) => s === 400), 'and many were refused as invalid');
});
