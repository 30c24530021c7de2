import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import { archiveFromEnv } from '../../runtime/bullmq-backend.ts';
import { createRedisStorage } from '../../storage/redis/storage.ts';
import { createTestDatabase } from '../helpers/postgres.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { archiveEntry, orderRow } from './conformance/archive-fixtures.ts';

t.test('the archive beside Redis', async (t) => {
  const server = await startRedisServer();
  t.teardown(() => server.stop());

  t.test('is PostgreSQL when TRADE_ARCHIVE_URL is set, closed with the storage', async (t) => {
    const url = await createTestDatabase(t);
    const env = { TRADE_ARCHIVE_URL: url, TRADE_ARCHIVE_SCHEMA: 'beside_redis' };
    t.same(archiveFromEnv(env), { archiveUrl: url, archiveSchema: 'beside_redis' });
    const storage = createRedisStorage({ url: server.url, prefix: 'tc-archive-pg', ...archiveFromEnv(env) });
    t.ok(storage.archive.enabled);
    const entry = archiveEntry(orderRow('T1'));
    t.same(await storage.archive.put([entry]), { written: 1, skipped: 0 });
    t.same(await storage.archive.get('T1'), entry);
    await storage.close();
    await t.rejects(storage.archive.ping(), 'the archive closed with the storage');
  });

  t.test('is none without TRADE_ARCHIVE_URL: said at start, nothing may be archived, nothing is found', async (t) => {
    const lines: { level: number; msg: string }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as (typeof lines)[number]);
        done();
      },
    });
    t.same(archiveFromEnv({}), {});
    const storage = createRedisStorage({ url: server.url, prefix: 'tc-archive-none', log: pino({ level: 'warn' }, sink) });
    t.teardown(() => storage.close());
    t.equal(storage.archive.enabled, false);
    t.match(lines, [{ level: 40, msg: /no order archive: TRADE_ARCHIVE_URL is not set/ }]);
    await t.rejects(storage.archive.put([archiveEntry(orderRow('T1'))]), /no order archive is configured/);
    t.equal(await storage.archive.get('T1'), null);
    t.same(await storage.archive.search({}, 10, null), { rows: [], nextCursor: null });
    t.same((await storage.archive.summary({}, [])).map((s) => s.count), [0]);
    await storage.archive.ping();
  });
});
