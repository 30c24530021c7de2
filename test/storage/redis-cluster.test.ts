import { randomUUID } from 'node:crypto';
import t from 'tap';
import { createRedisStorage } from '../../storage/redis/storage.ts';
import { startRedisCluster } from '../helpers/redis-server.ts';
import { storeConformance } from './conformance.ts';
import { schedulingConformance } from './scheduling-conformance.ts';

t.test('the Redis store on a three-node Redis Cluster', async (t) => {
  const cluster = await startRedisCluster(3);
  t.teardown(() => cluster.stop());
  // Every script and transaction keeps to one hash slot, or the cluster refuses it (CROSSSLOT).
  storeConformance(t, async (_t, options) => createRedisStorage({ url: cluster.url, cluster: true, prefix: `tc-test-${randomUUID().slice(0, 8)}`, ...options }));

  t.test('timers and tasks on a Redis Cluster (BullMQ)', async (t) => {
    schedulingConformance(t, () => ({ storage: { kind: 'redis', url: cluster.url, cluster: true, prefix: `tc-test-${randomUUID().slice(0, 8)}` } }));
  });
});
