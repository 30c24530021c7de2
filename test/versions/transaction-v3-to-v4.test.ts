import { readFileSync } from 'node:fs';
import t from 'tap';
import { transactionV3ToV4 } from '../../machines/migrations/transaction-v3-to-v4.ts';
import { restoreSnapshot } from '../../machines/snapshot-versions.ts';
import type { SnapshotFixture } from '../../scripts/snapshot-fixtures.ts';

const v3 = (context: Record<string, unknown>) => ({ status: 'active', value: 'completed', context, historyValue: {}, children: {}, machineVersion: 3 });

t.test('transaction v3 → v4: os-sync leaves the task names, the others keep their order (issue 20)', async (t) => {
  const migrated = transactionV3ToV4.migrate(v3({ txnNo: 'T1', taskNames: ['settlement', 'os-sync', 'marketing', 'settlement-reverse:R1'], deadTasks: [] }));
  t.same(migrated.context, { txnNo: 'T1', taskNames: ['settlement', 'marketing', 'settlement-reverse:R1'], deadTasks: [] });
});

t.test('transaction v3 → v4: a dead os-sync stays dead (its row still blocks the archive until retried), the input is not changed', async (t) => {
  const input = v3({ txnNo: 'T1', taskNames: ['settlement', 'os-sync'], deadTasks: ['os-sync'] });
  const before = JSON.stringify(input);
  const migrated = transactionV3ToV4.migrate(input);
  t.same(migrated.context, { txnNo: 'T1', taskNames: ['settlement'], deadTasks: ['os-sync'] });
  t.equal(JSON.stringify(input), before, 'pure: the stored copy is untouched');
});

t.test('transaction v3 → v4: a snapshot without the task or before any task is the same', async (t) => {
  t.same(transactionV3ToV4.migrate(v3({ txnNo: 'T1', taskNames: [] })).context, { txnNo: 'T1', taskNames: [] });
  t.same(transactionV3ToV4.migrate(v3({ txnNo: 'T1', taskNames: ['settlement'] })).context, { txnNo: 'T1', taskNames: ['settlement'] });
});

t.test('a stored v3 snapshot that names os-sync restores without it, and so does a v2 one through v3', async (t) => {
  for (const path of ['../fixtures/snapshots/v3/mixed-sale.02-completed.json', '../fixtures/snapshots/v2/mixed-sale.02-completed.json']) {
    const fixture = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as SnapshotFixture;
    t.match(JSON.stringify(fixture.snapshot), /"os-sync"/, `${path} names the task`);
    const restored = restoreSnapshot(fixture.snapshot);
    t.ok(restored.ok, path);
    if (!restored.ok) continue;
    const context = (restored.snapshot as { context: { taskNames: string[] } }).context;
    t.ok(context.taskNames.length > 0 && !context.taskNames.includes('os-sync'), `${path}: ${context.taskNames.join(', ')}`);
  }
});
