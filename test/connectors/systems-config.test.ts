import t from 'tap';
import { ConfigError, systemsSettingsFromEnv } from '../../runtime/systems-config.ts';

function problemsOf(env: Record<string, string>): string[] {
  try {
    systemsSettingsFromEnv(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

t.test('the in-process simulators are the default', async (t) => {
  t.same(systemsSettingsFromEnv({}).systems, { mode: 'sim' });
  t.same(systemsSettingsFromEnv({ TRADE_SYSTEMS: 'sim' }).systems, { mode: 'sim' });
});

t.test('one trade sim URL serves every system under its prefix, and a system URL overrides it', async (t) => {
  const { systems } = systemsSettingsFromEnv({
    TRADE_SYSTEMS: 'http',
    TRADE_SIM_URL: 'http://127.0.0.1:4000/',
    TRADE_SYSTEM_URL_COUPON: 'https://coupon.example.com/api',
    TRADE_HTTP_POOL_SIZE: '8',
  });
  if (systems.mode !== 'http') throw new Error('expected http mode');
  t.equal(systems.urls.order, 'http://127.0.0.1:4000/order');
  t.equal(systems.urls.fuelCatalog, 'http://127.0.0.1:4000/fuel-catalog');
  t.equal(systems.urls.paymentGateway, 'http://127.0.0.1:4000/payment-gateway');
  t.equal(systems.urls.coupon, 'https://coupon.example.com/api');
  t.equal(systems.poolSize, 8);
  t.equal(systems.sendClock, false);
});

t.test('per-system timeouts and tiers come from their own keys', async (t) => {
  const settings = systemsSettingsFromEnv({ TRADE_SYSTEM_TIMEOUT_MS_FUEL_CATALOG: '1500', TRADE_SYSTEM_TIER_SETTLEMENT: 'non-core' });
  t.same(settings.systemTimeoutsMs, { fuelCatalog: 1500 });
  t.same(settings.tiers, { settlement: 'non-core' });
});

t.test('a bad system URL is refused, naming its key', async (t) => {
  const problems = problemsOf({ TRADE_SYSTEMS: 'http', TRADE_SIM_URL: 'http://127.0.0.1:4000', TRADE_SYSTEM_URL_COUPON: 'ftp://coupon' });
  t.same(problems, ['TRADE_SYSTEM_URL_COUPON: not an http(s) URL: "ftp://coupon"']);
  t.match(problemsOf({ TRADE_SYSTEMS: 'http', TRADE_SIM_URL: 'localhost:4000' })[0], /^TRADE_SIM_URL: not an http\(s\) URL/);
});

t.test('a system without a URL is refused, naming the missing key of each', async (t) => {
  const problems = problemsOf({ TRADE_SYSTEMS: 'http', TRADE_SYSTEM_URL_ORDER: 'http://order:8080' });
  t.equal(problems.length, 16, 'every system but order');
  t.ok(problems.some((p) => p.startsWith('TRADE_SYSTEM_URL_PAYMENT_GATEWAY: missing')));
  t.notOk(problems.some((p) => p.startsWith('TRADE_SYSTEM_URL_ORDER')));
});

t.test('a misspelt system, an unknown mode and bad numbers are refused by name', async (t) => {
  t.match(problemsOf({ TRADE_SYSTEM_URL_COUPONS: 'http://x' })[0], /^TRADE_SYSTEM_URL_COUPONS: no system COUPONS/);
  t.match(problemsOf({ TRADE_SYSTEMS: 'grpc' })[0], /^TRADE_SYSTEMS: must be sim or http/);
  t.match(problemsOf({ TRADE_SYSTEM_TIMEOUT_MS_PUSH: '2s' })[0], /^TRADE_SYSTEM_TIMEOUT_MS_PUSH: not a positive integer/);
  t.match(problemsOf({ TRADE_SYSTEM_TIER_PUSH: 'gold' })[0], /^TRADE_SYSTEM_TIER_PUSH: must be core or non-core/);
  t.match(problemsOf({ TRADE_SYSTEMS: 'http', TRADE_SIM_URL: 'http://x', TRADE_HTTP_POOL_SIZE: '0' })[0], /^TRADE_HTTP_POOL_SIZE: not a positive integer/);
});
