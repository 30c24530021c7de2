import t from 'tap';
import { DownstreamUnavailableError } from '../../systems/contract.ts';
import { ConnectionPools, HttpConnector } from '../../systems/http/connector.ts';
import { simUrls } from '../../runtime/systems-config.ts';
import { FUEL_SALE, startHarness } from '../helpers/harness.ts';
import { httpSystems, startSimServer } from './sim-server.ts';

t.test('a system that stops answering makes the connector give up at its timeout with a transport fault', async (t) => {
  const { url, server } = await startSimServer(t);
  server.sims.faults.user.configure({ '*': { hang: true } });
  const pools = new ConnectionPools(2);
  t.teardown(() => pools.close());
  const user = new HttpConnector({ system: 'user', baseUrl: simUrls(url).user, timeoutMs: 200, pools });
  const err = await user.read('getUser', { userId: 'U1' }).then(() => null, (e: unknown) => e);
  t.ok(err instanceof DownstreamUnavailableError, 'retryable for the runtime');
  t.match((err as Error).message, /^user: getUser: no answer within \d+ ms$/);
});

t.test('a hanging non-core system degrades the quote and opens its breaker; a hanging core system fails it with 503', async (t) => {
  const { url, server } = await startSimServer(t);
  const h = await startHarness(t, {
    config: {
      systems: httpSystems(url),
      systemTimeoutsMs: { promotion: 300, fuelCatalog: 300 },
      breaker: { afterFailures: 2, halfOpenAfterMs: 60_000 },
      cacheTtlMs: 0,
    },
  });
  server.sims.faults.promotion.configure({ listPromotions: { hang: true } });
  for (let i = 0; i < 2; i++) {
    const quoted = await h.api<{ quote: { degraded: string[] } }>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
    t.equal(quoted.status, 201, 'the quote still answers');
    t.same(quoted.body.quote.degraded, ['promotion'], 'without the promotions');
  }
  t.equal(h.tc.downstream.state('promotion'), 'open', 'two timeouts in a row open the promotion breaker');
  t.equal(h.tc.downstream.state('fuelCatalog'), 'closed');

  server.sims.faults.fuelCatalog.configure({ '*': { hang: true } });
  const refused = await h.api<{ error: { code: string } }>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  t.equal(refused.status, 503);
  t.equal(refused.body.error.code, 'CORE_SYSTEM_UNAVAILABLE');
  t.same(server.sims.store.effects(), [], 'nothing happened downstream');
});

t.test('a 503 for a core system that cannot be reached names the system, not its address or the transport error (API.md: a 5xx never carries internals)', async (t) => {
  const { url } = await startSimServer(t);
  // The order system's address refuses connections: nothing listens on port 9 of this host.
  const systems = { mode: 'http' as const, urls: { ...simUrls(url), order: 'http://127.0.0.1:9' }, poolSize: 8, sendClock: false };
  const h = await startHarness(t, { config: { systems, breaker: { afterFailures: 100, halfOpenAfterMs: 60_000 } } });
  const quoted = await h.api<{ txnNo: string; quote: { quoteId: string; bestComboId: string } }>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  t.equal(quoted.status, 201);
  const refused = await h.api<{ error: { code: string; message: string } }>('POST', `/v1/transactions/${quoted.body.txnNo}/order`, { quoteId: quoted.body.quote.quoteId, comboId: quoted.body.quote.bestComboId });
  t.equal(refused.status, 503);
  t.equal(refused.body.error.code, 'CORE_SYSTEM_UNAVAILABLE');
  t.match(refused.body.error.message, /order/, 'says which system');
  t.notMatch(refused.body.error.message, /127\.0\.0\.1|ECONNREFUSED|createOrder|:9\b/, 'but not where it lives or how the call failed');
});
