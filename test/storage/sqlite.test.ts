import { join } from 'node:path';
import t from 'tap';
import { SqliteTransactionStore } from '../../storage/sqlite/sqlite-store.ts';
import { storeConformance } from './conformance.ts';
import { schedulingConformance } from './scheduling-conformance.ts';

t.test('the SQLite store', async (t) => {
  storeConformance(t, async (t) => new SqliteTransactionStore(join(t.testdir(), 'trade.db')));
});

t.test('timers and tasks on SQLite (polling)', async (t) => {
  schedulingConformance(t, () => ({ storage: { kind: 'sqlite' } }));
});
