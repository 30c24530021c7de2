import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { RedisCallbackNonces } from '../../storage/redis/callback-nonces.ts';
import { connectRedis } from '../../storage/redis/handle.ts';
import { SqliteCallbackNonces } from '../../storage/sqlite/callback-nonces.ts';
import type { CallbackNonces } from '../../storage/types.ts';
import { startRedisServer } from '../helpers/redis-server.ts';

/** Two handles on one backend, as two processes sharing the store would hold them. */
const BACKENDS: { name: string; open: (t: Test) => Promise<[CallbackNonces, CallbackNonces]> }[] = [
  {
    name: 'SQLite',
    open: async (t) => {
      const file = join(t.testdir(), 'trade.db');
      const pair: [CallbackNonces, CallbackNonces] = [new SqliteCallbackNonces(file), new SqliteCallbackNonces(file)];
      t.teardown(() => Promise.all(pair.map((n) => n.close())));
      return pair;
    },
  },
  {
    name: 'Redis',
    open: async (t) => {
      const server = await startRedisServer();
      const prefix = `tc-nonce-${randomUUID().slice(0, 8)}`;
      const clients = [connectRedis(server.url, false), connectRedis(server.url, false)];
      t.teardown(async () => {
        for (const c of clients) c.disconnect();
        await server.stop();
      });
      return [new RedisCallbackNonces(clients[0]!, prefix), new RedisCallbackNonces(clients[1]!, prefix)];
    },
  },
];

for (const backend of BACKENDS) {
  t.test(`a nonce remembered by one process is a duplicate or a conflict for another until it expires (${backend.name})`, async (t) => {
    const [a, b] = await backend.open(t);
    const now = Date.now();
    t.equal(await a.remember('n1', 'hash-1', now, now + 60_000), 'new');
    t.equal(await b.remember('n1', 'hash-1', now, now + 60_000), 'duplicate', 'the same body seen by the other process');
    t.equal(await b.remember('n1', 'hash-2', now, now + 60_000), 'conflict', 'another body under the same nonce');
    t.equal(await b.remember('n2', 'hash-1', now, now + 60_000), 'new', 'nonces are independent');
  });

  t.test(`a forgotten nonce is new again, and only its own body forgets it (${backend.name})`, async (t) => {
    const [a, b] = await backend.open(t);
    const now = Date.now();
    await a.remember('n1', 'hash-1', now, now + 60_000);
    await b.forget('n1', 'hash-2');
    t.equal(await a.remember('n1', 'hash-1', now, now + 60_000), 'duplicate', 'another body does not forget it');
    await b.forget('n1', 'hash-1');
    t.equal(await a.remember('n1', 'hash-2', now, now + 60_000), 'new');
  });

  t.test(`a nonce past its expiry is forgotten (${backend.name})`, async (t) => {
    const [a, b] = await backend.open(t);
    const start = Date.now();
    await a.remember('n1', 'hash-1', start, start + 200);
    // Redis expires by its own clock: poll until it has, within a generous deadline.
    const deadline = start + 30_000;
    let seen = await b.remember('n1', 'hash-2', Date.now(), Date.now() + 60_000);
    while (seen !== 'new' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      seen = await b.remember('n1', 'hash-2', Date.now(), Date.now() + 60_000);
    }
    t.equal(seen, 'new', 'taken by another body once expired');
    t.ok(Date.now() - start >= 150, 'not before its expiry');
  });
}
