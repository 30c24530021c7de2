import t from 'tap';
import { transactionV2ToV3 } from '../../machines/migrations/transaction-v2-to-v3.ts';

const spec = (task: string) => ({ task, kind: task, system: 'settlement', core: false, maxAttempts: 8, payload: { txnNo: 'T1', amountFen: 15000 } });
const v2 = (context: Record<string, unknown>) => ({ status: 'active', value: 'completed', context, historyValue: {}, children: {}, machineVersion: 2 });

t.test('transaction v2 → v3: the task specs in the context become their names, in the order asked for (issue 21)', async (t) => {
  const migrated = transactionV2ToV3.migrate(v2({ txnNo: 'T1', tasks: [spec('settlement'), spec('os-sync'), spec('settlement-reverse:R1')], deadTasks: ['os-sync'] }));
  t.same(migrated.context, { txnNo: 'T1', taskNames: ['settlement', 'os-sync', 'settlement-reverse:R1'], deadTasks: ['os-sync'] });
  t.notOk('tasks' in migrated.context!, 'no spec is left in the snapshot');
});

t.test('transaction v2 → v3: a transaction that asked for no task has no names', async (t) => {
  t.same(transactionV2ToV3.migrate(v2({ txnNo: 'T1', tasks: [] })).context, { txnNo: 'T1', taskNames: [] });
});

t.test('transaction v2 → v3 keeps the state and leaves children to their own migrations', async (t) => {
  const children = { 'refund-R1': { src: 'refund', snapshot: { status: 'active', value: 'debiting', context: {} } } };
  const migrated = transactionV2ToV3.migrate({ ...v2({ tasks: [spec('settlement')] }), value: { paid: 'markingOrderPaid' }, children });
  t.same(migrated.value, { paid: 'markingOrderPaid' });
  t.same(migrated.children, children);
});
