import { join } from 'node:path';
import t from 'tap';
import { ConfigError } from '../../runtime/systems-config.ts';
import { DEMO_API_KEY } from '../../domain/api-key.ts';
import { KeyRing, newApiKey, sha256Hex, validateApiKeys } from '../../runtime/api-keys.ts';
import { DEFAULT_CONFIG } from '../../runtime/trade-center.ts';
import { loadDataset } from '../../systems/sim/index.ts';
import { buildSimServer } from '../../systems/sim/server.ts';
import { DATASET_PATH } from '../helpers/harness.ts';

const entry = (id: string, secret: string, over: Record<string, unknown> = {}) => ({ id, system: 'pos', secretSha256: sha256Hex(secret), scopes: ['trade'], merchants: ['M1'], ...over });

function problems(value: unknown): string[] {
  try {
    validateApiKeys(value, 'keys.json');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

t.test('a keys file error names the entry by its index and id', async (t) => {
  t.match(problems({ keys: [entry('pos-1', 'a'), entry('pos-2', 'b', { scopes: ['sell'] })] }).join('\n'), /^keys\.json: keys\[1\] \(id "pos-2"\)\.scopes\.0 must be equal to one of the allowed values \(trade, refund, admin\)$/m);
  t.match(problems({ keys: [entry('pos-1', 'a', { secretSha256: 'abc' })] })[0], /keys\[0\] \(id "pos-1"\)\.secretSha256 must match pattern/);
  t.match(problems({ keys: [entry('pos-1', 'a', { secret: 'a' })] })[0], /keys\[0\] \(id "pos-1"\) must NOT have additional properties: secret/);
  t.match(problems({ keys: [entry('pos-1', 'a', { merchants: [] })] })[0], /keys\[0\] \(id "pos-1"\)\.merchants must NOT have fewer than 1 items/);
  t.match(problems({ keys: [{ system: 'pos' }] }).join('\n'), /keys\[0\] must have required property 'id'/);
  t.match(problems({ keys: [] })[0], /\/keys must NOT have fewer than 1 items/);
  t.match(problems({ keys: [entry('pos-1', 'a'), entry('pos-1', 'b')] })[0], /keys\[1\] \(id "pos-1"\) repeats the id of keys\[0\]/);
  t.match(problems({ keys: [entry('pos-1', 'a'), entry('pos-2', 'a')] })[0], /keys\[1\] \(id "pos-2"\) has the secret of keys\[0\]/);
  t.match(problems({ keys: [entry('demo', DEMO_API_KEY)] })[0], /keys\[0\] \(id "demo"\) is the public demo key tc_demo_key/);
  t.same(problems({ keys: [entry('pos-1', 'a'), entry('pos-2', 'b', { scopes: ['trade', 'refund'], merchants: ['*'] })] }), []);
});

t.test('a key ring finds each of several keys of one system (rotation) by its secret, and nothing else', async (t) => {
  const keys = validateApiKeys({ keys: [entry('pos-old', 'old-secret'), entry('pos-new', 'new-secret'), entry('app', 'app-secret', { system: 'app' })] }, 'keys.json');
  const ring = new KeyRing(keys);
  t.equal(ring.find('old-secret')?.id, 'pos-old');
  t.equal(ring.find('new-secret')?.id, 'pos-new');
  t.equal(ring.find('app-secret')?.system, 'app');
  t.equal(ring.find('old-secret ')?.id, undefined, 'one character off is another secret');
  t.equal(ring.find(''), null);
  t.equal(ring.find(sha256Hex('old-secret')), null, 'the stored hash is not a secret');
});

t.test('a new key comes with a secret only it matches and an entry a server accepts', async (t) => {
  const a = newApiKey({ system: 'pos', scopes: ['trade', 'refund'], merchants: ['M1', 'M2'] });
  const b = newApiKey({ system: 'pos', scopes: ['trade', 'refund'], merchants: ['M1', 'M2'] });
  t.not(a.secret, b.secret);
  t.not(a.entry.id, b.entry.id);
  t.same(a.entry, { id: a.entry.id, system: 'pos', secretSha256: sha256Hex(a.secret), scopes: ['trade', 'refund'], merchants: ['M1', 'M2'] });
  t.equal(new KeyRing(validateApiKeys({ keys: [a.entry, b.entry] }, 'keys.json')).find(a.secret)?.id, a.entry.id);
});

t.test('trade sim with an admin token answers /sim only to that Bearer token, its ports as before', async (t) => {
  const server = await buildSimServer({
    dbPath: join(t.testdir(), 'sim.db'),
    dataset: loadDataset(DATASET_PATH),
    callback: { baseUrl: 'http://127.0.0.1:1', secret: DEFAULT_CONFIG.callbackSecret, delayMs: 0 },
    logLevel: 'silent',
    adminToken: 'sim-secret',
  });
  t.teardown(() => server.close());
  const get = (url: string, authorization?: string) => server.app.inject({ method: 'GET', url, ...(authorization ? { headers: { authorization } } : {}) });
  for (const url of ['/sim/cards/C1', '/sim/stats', '/sim/faults']) {
    t.same([(await get(url)).statusCode, (await get(url)).json().error.code], [401, 'UNAUTHORIZED'], `${url} without the token`);
    t.equal((await get(url, 'Bearer sim-secre')).statusCode, 401, `${url} with another token`);
    t.equal((await get(url, 'Bearer sim-secret')).statusCode, 200, `${url} with the token`);
  }
  const put = await server.app.inject({ method: 'PUT', url: '/sim/callback-target', payload: { baseUrl: 'http://evil.example', secret: 'x' } });
  t.equal(put.statusCode, 401, 'callbacks cannot be pointed elsewhere without the token');
  const port = await server.app.inject({ method: 'POST', url: '/fuel-catalog/getNozzle', payload: { stationId: 'S1', nozzleNo: 1 } });
  t.equal(port.statusCode, 200, 'the port routes the platform calls need no token');
});
