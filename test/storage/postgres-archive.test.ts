import pg from 'pg';
import t from 'tap';
import { monthOf } from '../../storage/postgres/partitions.ts';
import { PostgresOrderArchive } from '../../storage/postgres/order-archive.ts';
import { createTestDatabase } from '../helpers/postgres.ts';
import { archiveEntry, orderRow } from './conformance/archive-fixtures.ts';
import { orderArchiveConformance } from './conformance/order-archive.ts';

t.test('the order archive on PostgreSQL', async (t) => {
  const url = await createTestDatabase(t);
  let schemas = 0;
  // A private schema per test: each starts from an empty, freshly migrated archive.
  orderArchiveConformance(t, async () => new PostgresOrderArchive({ url, schema: `conformance_${++schemas}` }));
});
