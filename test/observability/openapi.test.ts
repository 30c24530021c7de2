import { Ajv } from 'ajv';
import t from 'tap';
import { startHarness } from '../helpers/harness.ts';

/** API.md's endpoints, in OpenAPI path syntax (`/inspect` is served by the inspector, not a schema route). */
const API_PATHS: [string, string][] = [
  ['post', '/v1/transactions'],
  ['post', '/v1/transactions/{txnNo}/quotes'],
  ['post', '/v1/transactions/{txnNo}/order'],
  ['post', '/v1/transactions/{txnNo}/payments'],
  ['post', '/v1/transactions/{txnNo}/order-and-pay'],
  ['post', '/v1/checkout'],
  ['post', '/v1/transactions/{txnNo}/cancel'],
  ['post', '/v1/transactions/{txnNo}/refunds'],
  ['get', '/v1/transactions/{txnNo}'],
  ['get', '/v1/orders/{orderNo}'],
  ['get', '/v1/transactions/{txnNo}/refunds/{refundNo}'],
  ['post', '/v1/callbacks/payments/{channel}'],
  ['post', '/v1/callbacks/refunds/{channel}'],
  ['get', '/admin/transactions'],
  ['post', '/admin/transactions/{txnNo}/nudge'],
  ['post', '/admin/transactions/{txnNo}/tasks/{task}/retry'],
  ['post', '/v1/shadow/quotes'],
  ['get', '/admin/shadow/report'],
  ['get', '/healthz'],
  ['get', '/readyz'],
  ['get', '/metrics'],
];

interface OpenApiDoc {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: Record<string, unknown> }> }; parameters?: { name: string; in: string }[] }>>;
}

t.test('GET /docs/json is an OpenAPI 3 document generated from the route schemas, listing every API.md path', async (t) => {
  const h = await startHarness(t);
  const res = await fetch(`${h.url}/docs/json`);
  t.equal(res.status, 200, 'served without a key');
  const doc = (await res.json()) as OpenApiDoc;
  t.match(doc.openapi, /^3\.\d+\.\d+$/);
  t.equal(doc.info.title, 'Trade Center API');
  for (const [method, path] of API_PATHS) t.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path}`);

  const start = doc.paths['/v1/transactions']!.post!.requestBody!.content['application/json']!.schema;
  t.match(start, { type: 'object', additionalProperties: false, required: ['scene', 'merchantId', 'stationId', 'userId', 'items'] }, 'the start body is the TypeBox schema');
  t.same(doc.paths['/v1/transactions/{txnNo}']!.get!.parameters?.map((p) => [p.name, p.in]), [['txnNo', 'path']]);
  // Every request schema in the document is itself a valid JSON schema.
  const ajv = new Ajv({ strict: false });
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const schema = op.requestBody?.content['application/json']?.schema;
      if (schema) t.ok(ajv.validateSchema(schema), `${method} ${path}: its body schema compiles`);
    }
  }

  const ui = await fetch(`${h.url}/docs/`);
  t.equal(ui.status, 200);
  t.match(await ui.text(), /swagger-ui/i, 'the Swagger UI page, its assets served locally');
  const bundle = await fetch(`${h.url}/docs/static/swagger-ui-bundle.js`);
  t.equal(bundle.status, 200);
  t.ok((await bundle.text()).length > 10_000, 'the Swagger UI bundle');
});

t.test('the OpenAPI document describes each top-up debit of a refund: its number, card, amount in fen and status (issue 15)', async (t) => {
  const h = await startHarness(t);
  const doc = (await (await fetch(`${h.url}/docs/json`)).json()) as { paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: RefundSchema }> }> }>> };
  type RefundSchema = { properties: Record<string, { items?: { required?: string[]; properties: Record<string, { enum?: string[] }> } }> };
  const schemaOf = (path: string, method: string, status: string) => doc.paths[path]![method]!.responses[status]!.content['application/json']!.schema;
  const refund = schemaOf('/v1/transactions/{txnNo}/refunds/{refundNo}', 'get', '200');
  const debit = refund.properties.topUpDebits?.items;
  t.same([...(debit?.required ?? [])].sort(), ['amountFen', 'cardNo', 'debitNo', 'status']);
  t.same(debit?.properties.status?.enum, ['pending', 'debited', 'refused', 'creditedBack', 'creditBackFailed', 'skipped']);
  t.ok(refund.properties.topUpDebitFen, 'the total stays');
  const inView = schemaOf('/v1/transactions/{txnNo}', 'get', '200').properties.refunds?.items as unknown as RefundSchema | undefined;
  t.ok(inView?.properties.topUpDebits, "the transaction view's refunds list them too");
});
