import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { RoutingTable } from '../../domain/routing.ts';
import { connectRedis } from '../../storage/redis/handle.ts';
import { RedisRoutingStore } from '../../storage/redis/routing-store.ts';
import { SqliteRoutingStore } from '../../storage/sqlite/routing-store.ts';
import type { RoutingStore } from '../../storage/types.ts';
import { startRedisServer } from '../helpers/redis-server.ts';

/** Two handles on one backend, as two processes sharing the store would hold them. */
const BACKENDS: { name: string; open: (t: Test) => Promise<[RoutingStore, RoutingStore]> }[] = [
  {
    name: 'SQLite',
    open: async (t) => {
      const file = join(t.testdir(), 'trade.db');
      const pair: [RoutingStore, RoutingStore] = [new SqliteRoutingStore(file), new SqliteRoutingStore(file)];
      t.teardown(() => Promise.all(pair.map((s) => s.close())));
      return pair;
    },
  },
  {
    name: 'Redis',
    open: async (t) => {
      const server = await startRedisServer();
      const prefix = `tc-routing-${randomUUID().slice(0, 8)}`;
      const clients = [connectRedis(server.url, false), connectRedis(server.url, false)];
      t.teardown(async () => {
        for (const c of clients) c.disconnect();
        await server.stop();
      });
      return [new RedisRoutingStore(clients[0]!, prefix), new RedisRoutingStore(clients[1]!, prefix)];
    },
  },
];

const EMPTY: RoutingTable = { default: 'live', rules: [] };
const PILOT: RoutingTable = { default: 'legacy', rules: [{ scene: 'senseless', group: 'G1', mode: 'live' }] };

for (const backend of BACKENDS) {
  t.test(`a change is journalled with who, when, before and after, and the other process reads it (${backend.name})`, async (t) => {
    const [a, b] = await backend.open(t);
    t.equal(await a.current(), null, 'never set');
    const first = await a.change(0, { at: 1_000, by: 'file:routing.json', before: EMPTY, after: PILOT });
    t.same(first, { ok: true, change: { seq: 1, at: 1_000, by: 'file:routing.json', before: EMPTY, after: PILOT } });
    t.same(await b.current(), { table: PILOT, seq: 1 });
    const second = await b.change(1, { at: 2_000, by: 'ops', before: PILOT, after: EMPTY });
    t.ok(second.ok);
    t.same(await a.current(), { table: EMPTY, seq: 2 }, 'an empty rules list stays a list');
    t.same((await a.history(10)).map((c) => [c.seq, c.by, c.at]), [[2, 'ops', 2_000], [1, 'file:routing.json', 1_000]], 'newest first');
    t.same((await a.history(1)).map((c) => c.seq), [2]);
  });

  t.test(`of two processes changing from the same table, the second is refused and nothing of it is stored (${backend.name})`, async (t) => {
    const [a, b] = await backend.open(t);
    t.ok((await a.change(0, { at: 1, by: 'a', before: EMPTY, after: PILOT })).ok);
    t.same(await b.change(0, { at: 2, by: 'b', before: EMPTY, after: { default: 'shadow', rules: [] } }), { ok: false, conflict: true, actualSeq: 1 });
    t.same(await b.current(), { table: PILOT, seq: 1 });
    t.equal((await b.history(10)).length, 1);
  });
}
