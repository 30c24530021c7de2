import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { DEMO_KEY, startHarness } from '../helpers/harness.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { storedValueSale } from './helpers.ts';

const run = promisify(execFile);
const TRADE = new URL('../../bin/trade.js', import.meta.url).pathname;

async function trade(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [TRADE, ...args], { timeout: 30_000, env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

t.test('the trade binary lists and inspects through a running server, its url and key from the environment', async (t) => {
  const h = await startHarness(t);
  const sale = await storedValueSale(h);
  const env = { TRADE_URL: h.url, TRADE_ADMIN_KEY: DEMO_KEY };
  const list = await trade(['list', '--json'], env);
  t.equal(list.code, 0, list.stderr);
  t.same(JSON.parse(list.stdout).items.map((i: { txnNo: string }) => i.txnNo), [sale.txnNo]);
  t.equal(list.stderr, '', 'no progress bar when stderr is not a terminal');

  const viz = await trade(['viz', sale.txnNo], env);
  t.equal(viz.code, 0, viz.stderr);
  t.match(viz.stdout, /^▶ (completed|paid)$/m, 'the active state is marked');

  const refused = await trade(['list'], { TRADE_URL: h.url, TRADE_ADMIN_KEY: 'nope' });
  t.equal(refused.code, 1);
  t.match(refused.stderr, /^trade: UNAUTHORIZED: [^\n]+\n$/, 'a wrong key: one line naming the error code');
});

t.test('the trade binary inspects a store file directly, and says in one line what is wrong', async (t) => {
  const h = await startHarness(t);
  const sale = await storedValueSale(h);
  await h.close();
  const db = join(h.dir, 'trade.db');
  const inspect = await trade(['inspect', sale.txnNo, '--db', db, '--json']);
  t.equal(inspect.code, 0, inspect.stderr);
  const parsed = JSON.parse(inspect.stdout);
  t.equal(parsed.transaction.txnNo, sale.txnNo);
  t.ok(parsed.journal.length > 3);

  const missing = await trade(['inspect', 'T404', '--db', db]);
  t.same([missing.code, missing.stderr], [1, 'trade: NOT_FOUND: no transaction T404\n']);
  const wrongDb = await trade(['list', '--db', join(h.dir, 'no-such-dir', 'trade.db')]);
  t.equal(wrongDb.code, 1);
  t.notMatch(wrongDb.stderr, /at .*\.ts:\d+/, 'no stack trace');
});

t.test('the trade binary lists and inspects a Redis deployment directly', async (t) => {
  const redis = await startRedisServer();
  t.teardown(() => redis.stop());
  const h = await startHarness(t, { config: { storage: { kind: 'redis', url: redis.url, prefix: 'tc-cli' } } });
  const sale = await storedValueSale(h);
  const env = { TRADE_REDIS_PREFIX: 'tc-cli' };
  const list = await trade(['list', '--redis', redis.url, '--json'], env);
  t.equal(list.code, 0, list.stderr);
  t.same(JSON.parse(list.stdout).items.map((i: { txnNo: string }) => i.txnNo), [sale.txnNo]);
  const inspect = await trade(['inspect', sale.txnNo, '--redis', redis.url, '--json'], env);
  t.equal(inspect.code, 0, inspect.stderr);
  t.equal(JSON.parse(inspect.stdout).transaction.txnNo, sale.txnNo);
});
