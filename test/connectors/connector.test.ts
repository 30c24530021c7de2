import t, { type Test } from 'tap';
import { simUrls } from '../../runtime/systems-config.ts';
import { DownstreamUnavailableError } from '../../systems/contract.ts';
import { DownstreamRejectedError } from '../../systems/http/connector.ts';
import { createHttpSystems } from '../../systems/http/index.ts';
import { freePort } from '../helpers/server-process.ts';
import { startSimServer } from './sim-server.ts';

async function connect(t: Test, url: string) {
  const remote = createHttpSystems({ urls: simUrls(url), poolSize: 2, timeoutMs: () => 2_000 });
  t.teardown(() => remote.close());
  return remote.systems;
}

t.test('reads answer the port value, null for none, over HTTP', async (t) => {
  const { url } = await startSimServer(t);
  const systems = await connect(t, url);
  t.match(await systems.fuelCatalog.getNozzle('S1', 1), { stationId: 'S1', nozzleNo: 1, grade: '92' });
  t.equal(await systems.user.getUser('NOBODY'), null);
  t.same((await systems.promotion.listPromotions({ merchantId: 'M1', stationId: 'S1' })).length > 0, true);
  t.match(await systems.storedValue.getCard('C1'), { cardNo: 'C1' });
});

t.test('a mutation carries its key: a repeat has no second effect and answers the first result', async (t) => {
  const { url, server } = await startSimServer(t);
  const systems = await connect(t, url);
  const key = { txnNo: 'T1', step: 'leg-1:lock' };
  const first = await systems.storedValue.lock(key, { lockKey: 'T1-P1', cardNo: 'C1', amountFen: 1000 });
  const again = await systems.storedValue.lock(key, { lockKey: 'T1-P1', cardNo: 'C1', amountFen: 1000 });
  t.same(first, { ok: true, lockKey: 'T1-P1' });
  t.same(again, first);
  t.equal(server.sims.store.effects({ system: 'storedValue', key: 'T1:leg-1:lock' }).length, 1);
});

t.test('a business refusal comes back as the port refusal value', async (t) => {
  const { url } = await startSimServer(t);
  const systems = await connect(t, url);
  const refused = await systems.storedValue.lock({ txnNo: 'T2', step: 'leg-1:lock' }, { lockKey: 'T2-P1', cardNo: 'C1', amountFen: 1e9 });
  t.match(refused, { ok: false, code: 'INSUFFICIENT_BALANCE' });
  t.same(await systems.order.cancelOrder({ txnNo: 'T3', step: 'order:cancel' }, { orderNo: 'O3', reason: 'x' }), { ok: true }, 'empty rollback');
  t.match(await systems.order.createOrder({ txnNo: 'T3', step: 'order:create' }, {
    orderNo: 'O3', txnNo: 'T3', merchantId: 'M1', stationId: 'S1', userId: 'U1', lines: [], originalAmountFen: 0, discountAmountFen: 0, payableAmountFen: 0,
  }), { ok: false, code: 'ORDER_CANCELLED' }, 'no hanging order');
});

t.test('a key reused with another body is a rejected request, not a refusal', async (t) => {
  const { url } = await startSimServer(t);
  const systems = await connect(t, url);
  const key = { txnNo: 'T4', step: 'leg-1:lock' };
  await systems.storedValue.lock(key, { lockKey: 'T4-P1', cardNo: 'C1', amountFen: 100 });
  const err = await systems.storedValue.lock(key, { lockKey: 'T4-P1', cardNo: 'C1', amountFen: 200 }).then(() => null, (e: unknown) => e);
  t.ok(err instanceof DownstreamRejectedError);
  t.equal((err as DownstreamRejectedError).status, 409);
});

t.test('an injected outage and a closed port are transport faults the runtime may retry', async (t) => {
  const { url, server } = await startSimServer(t);
  const systems = await connect(t, url);
  server.sims.faults.order.configure({ '*': { outage: true } });
  const outage = await systems.order.markPaid({ txnNo: 'T5', step: 'order:paid' }, { orderNo: 'O5', paidAmountFen: 1 }).then(() => null, (e: unknown) => e);
  t.ok(outage instanceof DownstreamUnavailableError);
  t.match((outage as Error).message, /HTTP 503/);
  const nowhere = createHttpSystems({ urls: simUrls(`http://127.0.0.1:${await freePort()}`), poolSize: 1, timeoutMs: () => 2_000 });
  t.teardown(() => nowhere.close());
  const refused = await nowhere.systems.user.getUser('U1').then(() => null, (e: unknown) => e);
  t.ok(refused instanceof DownstreamUnavailableError, 'connection refused');
});

t.test('calls reuse pooled keep-alive connections', async (t) => {
  const { url, server } = await startSimServer(t);
  const systems = await connect(t, url);
  const before = server.connectionsOpened();
  for (let i = 0; i < 50; i++) await systems.user.getUser('U1');
  await Promise.all(Array.from({ length: 20 }, () => systems.fuelCatalog.getStation('S1')));
  t.ok(server.connectionsOpened() - before <= 2, `at most the pool size (${server.connectionsOpened() - before} opened)`);
});
