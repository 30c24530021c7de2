import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { routingCommand } from '../../bin/commands/routing.ts';
import { parseRoutingTable, routeOf, type RoutingTable } from '../../domain/routing.ts';
import { readRoutingFile } from '../../runtime/routing.ts';
import { ConfigError } from '../../runtime/systems-config.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { captureIo } from '../cli/helpers.ts';
import { apiClient, FUEL_SALE, keyEntry, startHarness, DEMO_KEY } from '../helpers/harness.ts';

const EXAMPLE = new URL('../../config/routing.example.json', import.meta.url).pathname;

type Answer = TransactionView & { error?: { code: string; message: string; details: Record<string, unknown> } };
type RoutingAnswer = { table: RoutingTable & { seq: number }; changes: { seq: number; at: string; by: string; before: RoutingTable; after: RoutingTable }[] };

/** S1 and S2 are in group G1, S3 (merchant M2) in G2 (demo/dataset.json). */
const LEGACY_BUT_G2: RoutingTable = { default: 'legacy', rules: [{ scene: 'merchant_pos', group: 'G2', mode: 'live' }, { scene: 'senseless', group: 'G1', mode: 'shadow' }] };

const CHECKOUT = { ...FUEL_SALE, paymentMethods: ['stored_value'], legs: [{ method: 'stored_value', cardNo: 'C1', amount: 'rest' }] };

async function routed(t: Test, table: RoutingTable, config: Record<string, unknown> = {}) {
  const file = join(t.testdir(), 'routing.json');
  writeFileSync(file, JSON.stringify(table));
  return startHarness(t, { config: { routing: { file: readRoutingFile(file), refreshMs: 60_000 }, ...config } });
}

t.test('the most specific rule decides: scene and group, scene anywhere, any scene at the group, then the default', async (t) => {
  const table: RoutingTable = {
    default: 'legacy',
    rules: [
      { scene: 'senseless', group: 'G1', mode: 'live' },
      { scene: 'senseless', group: '*', mode: 'shadow' },
      { scene: '*', group: 'G2', mode: 'live' },
    ],
  };
  t.equal(routeOf(table, 'senseless', 'G1'), 'live');
  t.equal(routeOf(table, 'senseless', 'G2'), 'shadow', 'the scene rule beats the group rule');
  t.equal(routeOf(table, 'merchant_pos', 'G2'), 'live');
  t.equal(routeOf(table, 'merchant_pos', 'G1'), 'legacy');
  t.equal(routeOf(table, 'senseless', null), 'shadow', 'a station in no group matches only * groups');
  t.equal(routeOf(table, 'merchant_pos', null), 'legacy');
});

t.test('the checked-in example file is a valid table, and a bad file is refused naming every problem', async (t) => {
  const example = readRoutingFile(EXAMPLE);
  t.equal(example.table.default, 'legacy');
  t.equal(routeOf(example.table, 'senseless', 'G1'), 'live', 'phase 1: the pilot group');
  t.equal(routeOf(example.table, 'senseless', 'G7'), 'shadow');
  t.equal(routeOf(example.table, 'merchant_pos', 'G1'), 'legacy', 'phase 2 has not begun');
  const bad = parseRoutingTable({ default: 'on', rules: [{ scene: 'senseless', group: 'G1', mode: 'live' }, { scene: 'senseless', group: 'G1', mode: 'legacy' }, { scene: '', group: 'G1', mode: 'live', extra: 1 }], other: true });
  t.notOk(bad.ok);
  if (!bad.ok) {
    t.same(bad.problems.sort(), [
      '/default must be one of legacy, shadow, live',
      '/other is not a field of a routing file',
      '/rules/1 names scene senseless at group G1 a second time',
      '/rules/2/extra is not a field of a rule',
      '/rules/2/scene must be a name or *',
    ]);
  }
  const file = join(t.testdir(), 'broken.json');
  writeFileSync(file, '{"rules": [');
  t.throws(() => readRoutingFile(file), ConfigError);
});

t.test('a legacy pair refuses start and checkout with 409 NOT_ROUTED and stores nothing, not even the idempotency key; a live pair sells', async (t) => {
  const { api } = await routed(t, LEGACY_BUT_G2);
  const start = await api<Answer>('POST', '/v1/transactions', FUEL_SALE, { 'idempotency-key': 'legacy-start' });
  t.equal(start.status, 409);
  t.equal(start.body.error?.code, 'NOT_ROUTED');
  t.match(start.body.error?.details, { scene: 'merchant_pos', stationId: 'S1', group: 'G1', mode: 'legacy' });
  const checkout = await api<Answer>('POST', '/v1/checkout', CHECKOUT, { 'idempotency-key': 'legacy-checkout' });
  t.equal(checkout.status, 409);
  t.equal(checkout.body.error?.code, 'NOT_ROUTED');
  const shadow = await api<Answer>('POST', '/v1/transactions', { ...FUEL_SALE, scene: 'senseless' });
  t.equal(shadow.body.error?.code, 'NOT_ROUTED', 'a shadow pair is sold by the old system: the platform only quotes beside it');
  t.same((await api<{ items: unknown[] }>('GET', '/admin/transactions')).body.items, [], 'no transaction stored');
  t.same((await api<{ items: unknown[] }>('GET', '/admin/orders')).body.items, [], 'no order stored');

  const live = await api<Answer>('POST', '/v1/checkout', { ...CHECKOUT, merchantId: 'M2', stationId: 'S3', legs: [{ method: 'stored_value', cardNo: 'C1', amount: 'rest' }] });
  t.equal(live.status, 200, JSON.stringify(live.body.error));
  t.equal(live.body.state, 'completed', 'merchant_pos at G2 is live');

  t.same((await api('GET', '/v1/routing?scene=merchant_pos&stationId=S1')).body, { scene: 'merchant_pos', stationId: 'S1', group: 'G1', mode: 'legacy' });
  t.same((await api('GET', '/v1/routing?scene=senseless&stationId=S2')).body, { scene: 'senseless', stationId: 'S2', group: 'G1', mode: 'shadow' });
  t.same((await api('GET', '/v1/routing?scene=merchant_pos&stationId=S3')).body, { scene: 'merchant_pos', stationId: 'S3', group: 'G2', mode: 'live' });

  t.test('switching the group from legacy to live while sales run loses and doubles nothing: each sale is refused or taken once, and a refused one retried under its key is taken', async (t) => {
    const before = (await api<{ items: unknown[] }>('GET', '/admin/transactions?limit=100')).body.items.length;
    const keys = Array.from({ length: 12 }, (_v, i) => `switch-${i}`);
    // U5 holds no coupons, so the sales in flight compete for nothing but routing; C4 covers them all.
    const sale = { ...FUEL_SALE, userId: 'U5', items: [{ type: 'fuel', nozzleNo: 1, amount: 2000 }], paymentMethods: ['stored_value'], legs: [{ method: 'stored_value', cardNo: 'C4', amount: 'rest' }] };
    const sell = (key: string) => api<Answer>('POST', '/v1/checkout', sale, { 'idempotency-key': key });
    // The switch lands somewhere among the sales in flight.
    const [first, switched, second] = await Promise.all([
      Promise.all(keys.slice(0, 6).map(sell)),
      api<{ change: { seq: number; by: string } }>('PUT', '/admin/routing', { rules: [{ scene: 'merchant_pos', group: 'G1', mode: 'live' }] }),
      Promise.all(keys.slice(6).map(sell)),
    ]);
    t.equal(switched.status, 200);
    const answers = [...first, ...second];
    for (const a of answers) t.ok(a.status === 200 || (a.status === 409 && a.body.error?.code === 'NOT_ROUTED'), `taken or refused, nothing else (${a.status} ${a.body.error?.code ?? ''})`);
    const taken = answers.filter((a) => a.status === 200).map((a) => a.body.txnNo);
    t.equal((await api<{ items: unknown[] }>('GET', '/admin/transactions?limit=100')).body.items.length, before + taken.length, 'a transaction for each sale taken, none for a refused one');

    const retried = await Promise.all(keys.map(sell));
    for (const r of retried) t.equal(r.status, 200);
    const retriedNos = retried.map((r) => r.body.txnNo);
    t.same(retriedNos.filter((_n, i) => answers[i]!.status === 200), taken, 'a sale taken before is answered with itself, not sold again');
    t.equal(new Set(retriedNos).size, keys.length);
    t.equal((await api<{ items: unknown[] }>('GET', '/admin/transactions?limit=100')).body.items.length, before + keys.length, 'every sale exactly once');
  });
});

t.test('every change is journalled with who, when, before and after, and survives a restart; a routing file equal to the stored table records nothing', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'routing.json');
  writeFileSync(file, JSON.stringify({ _comment: 'phase 1', default: 'legacy', rules: [{ scene: 'senseless', group: 'G1', mode: 'shadow' }] }));
  const first = await startHarness(t, { dir, config: { routing: { file: readRoutingFile(file), refreshMs: 60_000 } } });
  const set = await first.api<{ change: { seq: number; by: string; before: RoutingTable; after: RoutingTable } }>('PUT', '/admin/routing', { rules: [{ scene: 'senseless', group: 'G1', mode: 'live' }] });
  t.equal(set.status, 200);
  t.match(set.body.change, { seq: 2, by: 'demo', before: { rules: [{ mode: 'shadow' }] }, after: { rules: [{ mode: 'live' }] } });
  const again = await first.api<{ change: unknown }>('PUT', '/admin/routing', { rules: [{ scene: 'senseless', group: 'G1', mode: 'live' }] });
  t.equal(again.body.change, null, 'setting what is already set journals nothing');
  await first.close();

  // Restarted without the file: the table changed at run time stays.
  const second = await startHarness(t, { dir });
  const shown = await second.api<RoutingAnswer>('GET', '/admin/routing');
  t.same(shown.body.table, { default: 'legacy', rules: [{ scene: 'senseless', group: 'G1', mode: 'live' }], seq: 2 });
  t.same(shown.body.changes.map((c) => [c.seq, c.by]), [[2, 'demo'], [1, `file:${file}`]], 'newest first, the file read at start named as its author');
  t.match(shown.body.changes[1], { before: { default: 'live', rules: [] }, after: { default: 'legacy' } });
  t.ok(Date.parse(shown.body.changes[0]!.at) >= Date.parse(shown.body.changes[1]!.at));
  await second.close();

  writeFileSync(file, JSON.stringify({ default: 'legacy', rules: [{ scene: 'senseless', group: 'G1', mode: 'live' }] }));
  const third = await startHarness(t, { dir, config: { routing: { file: readRoutingFile(file), refreshMs: 60_000 } } });
  t.equal((await third.api<RoutingAnswer>('GET', '/admin/routing')).body.table.seq, 2, 'the file says what the table says: no change');
});

t.test('without a routing file every sale is live and nothing is journalled; only an admin key for every merchant may change the routing, and only with a valid change', async (t) => {
  const keys = [keyEntry('ops-m1', { scopes: ['admin', 'trade'], merchants: ['M1'] })];
  const h = await startHarness(t, { config: { apiKeys: keys } });
  const api = h.api;
  t.same((await api('GET', '/v1/routing?scene=merchant_pos&stationId=S1')).body, { scene: 'merchant_pos', stationId: 'S1', group: null, mode: 'live' }, 'no rule names a group: the station is not even looked up');
  t.same((await api<RoutingAnswer>('GET', '/admin/routing')).body, { table: { default: 'live', rules: [], seq: 0 }, changes: [] });
  const m1 = apiClient(h.url, 'ops-m1');
  const refused = await m1<Answer>('PUT', '/admin/routing', { rules: [{ scene: 'senseless', group: 'G1', mode: 'live' }] });
  t.equal(refused.status, 403);
  t.equal(refused.body.error?.code, 'FORBIDDEN');
  const bad = await apiClient(h.url, DEMO_KEY)<Answer>('PUT', '/admin/routing', { rules: [{ scene: 'senseless', group: 'G1', mode: 'on' }] });
  t.equal(bad.status, 400);
  t.equal((await h.api<RoutingAnswer>('GET', '/admin/routing')).body.table.seq, 0, 'nothing changed');

  const io = captureIo();
  await routingCommand(io).parseAsync(['set', '--scene', 'senseless', '--group', 'G1', '--mode', 'shadow', '--url', h.url, '--key', DEMO_KEY], { from: 'user' });
  t.match(io.stdout(), /change 1 by demo: senseless@G1: \(default live\) → shadow/, 'trade routing set says what changed');
  await routingCommand(io).parseAsync(['show', '--url', h.url, '--key', DEMO_KEY], { from: 'user' });
  t.match(io.stdout(), /routing table \(change 1\), default live[\s\S]*senseless\s+│?\s*G1\s+│?\s*shadow/, 'trade routing show lists the table');
  t.same((await api('GET', '/v1/routing?scene=senseless&stationId=S1')).body, { scene: 'senseless', stationId: 'S1', group: 'G1', mode: 'shadow' }, 'and sales route by it at once');
});

t.test('a live sale may not take the scene of orders imported from OS history: start and checkout refuse it with 400 INVALID_REQUEST and store nothing, even where every scene is live (issue 20)', async (t) => {
  const { api } = await routed(t, { default: 'live', rules: [] });
  const start = await api<Answer>('POST', '/v1/transactions', { ...FUEL_SALE, scene: 'os_terminal' }, { 'idempotency-key': 'os-scene-start' });
  t.equal(start.status, 400);
  t.equal(start.body.error?.code, 'INVALID_REQUEST');
  t.match(start.body.error?.message, /reserved for orders imported from OS history/);
  const checkout = await api<Answer>('POST', '/v1/checkout', { ...CHECKOUT, scene: 'os_terminal' }, { 'idempotency-key': 'os-scene-checkout' });
  t.equal(checkout.status, 400);
  t.equal(checkout.body.error?.code, 'INVALID_REQUEST');
  t.same((await api<{ items: unknown[] }>('GET', '/admin/transactions')).body.items, [], 'no transaction stored');
  // The key was not claimed: the same key with a live scene is a new request, not a replay or a reuse.
  const sold = await api<Answer>('POST', '/v1/checkout', { ...CHECKOUT, scene: 'os_dual' }, { 'idempotency-key': 'os-scene-checkout' });
  t.equal(sold.status, 200, JSON.stringify(sold.body.error));
  t.equal(sold.body.scene, 'os_dual', 'an OS terminal selling live has a scene of its own');
});
