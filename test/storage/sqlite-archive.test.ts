import { join } from 'node:path';
import t from 'tap';
import { openSqliteStorage } from '../../storage/sqlite/storage.ts';
import { orderArchiveConformance } from './conformance/order-archive.ts';

t.test('the order archive in the SQLite file', async (t) => {
  orderArchiveConformance(t, async (t) => {
    const storage = openSqliteStorage(join(t.testdir(), 'trade.db'));
    t.teardown(() => storage.close());
    return storage.archive;
  });
});
