import { Redis } from 'ioredis';
import t from 'tap';
import { eventually } from '../helpers/harness.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { crashScenario } from './crash-scenario.ts';

t.test('300 sales in flight on two Redis server processes sharing trade sim survive four SIGKILLs of either (must-show 3)', async (t) => {
  const redis = await startRedisServer({ appendonly: true });
  t.teardown(() => redis.stop());
  const prefix = 'tc-crash';
  await crashScenario(t, {
    transactions: 300,
    processes: 2,
    crashes: 4,
    env: { TRADE_STORAGE: 'redis', REDIS_URL: redis.url, TRADE_REDIS_PREFIX: prefix },
    afterwards: async (t) => {
      const client = new Redis(redis.url);
      t.teardown(() => client.quit());
      // Post-payment tasks still take leases for a moment; a lease of a killed process lapses.
      const leases = await eventually(() => client.keys(`${prefix}:*:lease`), (keys) => keys.length === 0, 30_000).catch(() => ['left']);
      t.same(leases, [], 'no lease left behind');
    },
  });
});
