import { join } from 'node:path';
import t from 'tap';
import type { LiveTransition } from '../../bin/commands/source.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { DEMO_KEY, FUEL_SALE, startHarness } from '../helpers/harness.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { spawnTethered, STARTUP_DEADLINE_MS } from '../helpers/tethered-spawn.ts';
import { storedValueSale } from './helpers.ts';
import { trade, TRADE } from '../helpers/trade-binary.ts';



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

t.test('the trade binary tails a Redis deployment directly: the transitions of a sale made meanwhile, then stops at --count', async (t) => {
  const redis = await startRedisServer();
  t.teardown(() => redis.stop());
  const h = await startHarness(t, { config: { storage: { kind: 'redis', url: redis.url, prefix: 'tc-tail' } } });
  const tailing = spawnTethered(process.execPath, [TRADE, 'tail', '--redis', redis.url, '--json', '--count', '2'], { env: { ...process.env, TRADE_REDIS_PREFIX: 'tc-tail' } });
  const tail = tailing.child;
  const limit = setTimeout(() => void tailing.kill('SIGKILL'), STARTUP_DEADLINE_MS);
  t.teardown(() => {
    clearTimeout(limit);
    return tailing.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  tail.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  const following = new Promise<void>((resolve) =>
    tail.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('following')) resolve();
    }),
  );
  const exited = new Promise<number | null>((resolve) => tail.once('exit', resolve));
  await Promise.race([following, exited]);
  t.match(stderr, `following ${redis.url}`, 'it says what it follows once it listens');
  const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  await h.api('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-wechat' });
  t.equal(await exited, 0, `it exits once it has printed --count transitions ${stderr.trim()}`);
  const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as LiveTransition);
  t.same(
    lines.map((l) => [l.type, l.txnNo, l.actor, l.event, l.from]),
    [
      ['transition', started.body.txnNo, 'transaction', 'xstate.init', null],
      ['transition', started.body.txnNo, 'transaction', 'ORDER', 'quoted'],
    ],
  );
  t.ok(lines.every((l) => !Number.isNaN(Date.parse(l.at))), 'times are ISO-8601');
});
