import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { PostgresReconciliationRecords } from '../../storage/postgres/reconciliation-records.ts';
import { SqliteReconciliationRecords } from '../../storage/sqlite/reconciliation-records.ts';
import { createTestDatabase } from '../helpers/postgres.ts';
import { reconciliationRecordsConformance } from './conformance/reconciliation-records.ts';

t.test('the reconciliation records on SQLite', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'recon-records-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let files = 0;
  reconciliationRecordsConformance(t, async () => new SqliteReconciliationRecords(join(dir, `hot-${++files}.db`)));
});

t.test('the reconciliation records on PostgreSQL', async (t) => {
  const url = await createTestDatabase(t);
  let schemas = 0;
  // A private schema per test: each starts from freshly migrated, empty tables.
  reconciliationRecordsConformance(t, async () => new PostgresReconciliationRecords({ url, schema: `recon_${++schemas}` }));
});
