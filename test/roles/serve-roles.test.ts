import { join } from 'node:path';
import t from 'tap';
import { freePort, startServerProcess } from '../helpers/server-process.ts';
import { trade } from '../helpers/trade-binary.ts';

t.test('trade serve --role api or worker refuses to start on the in-process simulators, which belong to one process', async (t) => {
  for (const role of ['api', 'worker']) {
    const run = await trade(['serve', '--role', role, '--port', '0', '--db', join(t.testdir(), `${role}.db`)], { TRADE_SYSTEMS: 'sim' });
    t.equal(run.code, 1, `--role ${role} exits 1`);
    t.match(run.stderr, /TRADE_SYSTEMS=http/, 'and says what it needs');
  }
  const bad = await trade(['serve', '--port', '0'], { TRADE_ROLE: 'everything' });
  t.equal(bad.code, 1);
  t.match(bad.stderr, /TRADE_ROLE/, 'a bad TRADE_ROLE is named');
});

t.test('a worker process serves /healthz and /metrics on its own port and not the public API (issue 21)', async (t) => {
  const dir = t.testdir();
  const port = await freePort();
  // No downstream system is called at start: an unreachable one is enough here.
  const worker = await startServerProcess(dir, port, ['--role', 'worker'], { TRADE_SYSTEMS: 'http', TRADE_SIM_URL: `http://127.0.0.1:${await freePort()}` });
  t.teardown(() => worker.stop());
  t.match(worker.output(), /Trade Center worker is running/);
  t.equal((await fetch(`${worker.url}/healthz`)).status, 200, '/healthz answers');
  const metrics = await fetch(`${worker.url}/metrics`);
  t.equal(metrics.status, 200, '/metrics answers');
  t.match(await metrics.text(), /tc_/, 'with the platform’s metrics');
  const sale = await fetch(`${worker.url}/v1/transactions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  t.equal(sale.status, 404, 'no public API');
  t.equal((await fetch(`${worker.url}/v1/callbacks/payments/wechat`, { method: 'POST' })).status, 404, 'no callbacks');
});
