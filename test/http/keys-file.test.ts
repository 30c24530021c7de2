import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { ApiKey } from '../../domain/api-key.ts';
import { apiClient, DEMO_KEY, FUEL_SALE } from '../helpers/harness.ts';
import { freePort, startServerProcess } from '../helpers/server-process.ts';
import { trade } from '../helpers/trade-binary.ts';

/**
 * Issue 17, must show 2, on the real `trade` binary: with a keys file the demo key is refused
 * and `/sim` is not on the API port; over real connectors a server without keys does not start;
 * a keys file with a bad entry stops the start naming it; `trade keys new` makes a working key.
 */



t.test('with a keys file from trade keys new, the new secret works, tc_demo_key is 401 and /sim is 404 on the API port', async (t) => {
  const dir = t.testdir();
  const made = await trade(['keys', 'new', '--system', 'pos', '--scopes', 'trade,refund', '--merchants', 'M1,M2']);
  t.equal(made.code, 0, made.stderr);
  const [secret, ...entryLines] = made.stdout.trim().split('\n');
  const entry = JSON.parse(entryLines.join('\n')) as ApiKey;
  t.match(entry, { system: 'pos', scopes: ['trade', 'refund'], merchants: ['M1', 'M2'], secretSha256: /^[0-9a-f]{64}$/ });
  t.notMatch(entryLines.join('\n'), secret!, 'the entry holds no secret');
  t.match(made.stderr, /shown only now/);
  const keysFile = join(dir, 'keys.json');
  writeFileSync(keysFile, JSON.stringify({ keys: [entry] }));

  const server = await startServerProcess(dir, await freePort(), ['--keys', keysFile]);
  t.teardown(() => server.stop());
  t.notMatch(server.output(), /Demo mode|key tc_demo_key|Bearer tc_demo_key/, 'the banner offers no demo key');
  t.match(server.output(), /API keys: 1 from .*keys\.json \(systems: pos\)/);

  const demo = await apiClient(server.url, DEMO_KEY)<{ error: { code: string } }>('POST', '/v1/transactions', FUEL_SALE);
  t.same([demo.status, demo.body.error.code], [401, 'UNAUTHORIZED'], 'the demo key is refused');
  const pos = apiClient(server.url, secret);
  t.equal((await pos('POST', '/v1/transactions', FUEL_SALE)).status, 201, 'the new key sells for M1');
  t.equal((await pos('POST', '/v1/transactions', { ...FUEL_SALE, merchantId: 'M2', stationId: 'S3' })).status, 201, '… and for M2');
  t.equal((await pos('GET', '/admin/transactions')).status, 403, 'it has no admin scope');
  for (const key of [secret!, DEMO_KEY, '']) {
    const sim = await apiClient(server.url, key)<{ error: { code: string } }>('GET', '/sim/cards/C1');
    t.same([sim.status, sim.body.error.code], [404, 'NOT_FOUND'], `/sim is not on the API port (key ${key ? key.slice(0, 6) : 'none'}…)`);
    t.equal((await apiClient(server.url, key)('POST', '/sim/payments/T1-P1/pay')).status, 404, 'nor can a payment be marked paid');
  }
});

t.test('without a keys file trade serve is in demo mode, and its banner says so', async (t) => {
  const dir = t.testdir();
  const server = await startServerProcess(dir, await freePort());
  t.teardown(() => server.stop());
  t.match(server.output(), /Demo mode \(demo dataset, in-process simulators\): API key tc_demo_key has every scope for every merchant/);
  t.equal((await apiClient(server.url, DEMO_KEY)('GET', '/sim/cards/C1')).status, 200, '/sim is there for an admin key');
});

t.test('TRADE_SYSTEMS=http without a keys file exits 1 naming TRADE_API_KEYS_FILE', async (t) => {
  const dir = t.testdir();
  const res = await trade(['serve', '--port', '0', '--db', join(dir, 'a.db'), '--sim-db', join(dir, 'b.db')], { TRADE_SYSTEMS: 'http', TRADE_SIM_URL: 'http://127.0.0.1:1', TRADE_API_KEYS_FILE: '' });
  t.equal(res.code, 1);
  t.match(res.stderr, /^trade: invalid configuration: TRADE_SYSTEMS=http needs API keys: set TRADE_API_KEYS_FILE/);
  t.notMatch(res.stderr, /at .*\.ts:\d+/, 'no stack trace');
});

t.test('a keys file with a bad entry, given as TRADE_API_KEYS_FILE, exits 1 naming the entry', async (t) => {
  const dir = t.testdir();
  const keysFile = join(dir, 'keys.json');
  const good = { id: 'pos-new', system: 'pos', secretSha256: 'a'.repeat(64), scopes: ['trade'], merchants: ['M1'] };
  writeFileSync(keysFile, JSON.stringify({ keys: [good, { ...good, id: 'pos-old', secretSha256: 'b'.repeat(64), scopes: ['sell'] }] }));
  const res = await trade(['serve', '--port', '0', '--db', join(dir, 'a.db'), '--sim-db', join(dir, 'b.db')], { TRADE_API_KEYS_FILE: keysFile });
  t.equal(res.code, 1);
  t.match(res.stderr, /keys\[1\] \(id "pos-old"\)\.scopes\.0 must be equal to one of the allowed values/);
});
