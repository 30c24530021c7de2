import t from 'tap';
import { transactionV1ToV2 } from '../../machines/migrations/transaction-v1-to-v2.ts';

const v1 = (value: unknown, context: Record<string, unknown> = {}) => ({ status: 'active', value, context, historyValue: {}, children: {} });

t.test('transaction v1 → v2: a payment waiting for its legs to end is in paying.endingLegs', async (t) => {
  t.same(transactionV1ToV2.migrate(v1({ paying: 'compensating' })).value, { paying: 'endingLegs' });
});

t.test('transaction v1 → v2: unwinding.nextLeg is unwinding.refundingLegs, other unwinding states keep their names', async (t) => {
  t.same(transactionV1ToV2.migrate(v1({ unwinding: 'nextLeg' })).value, { unwinding: 'refundingLegs' });
  t.same(transactionV1ToV2.migrate(v1({ unwinding: 'waitingToRetry' })).value, { unwinding: 'waitingToRetry' });
  t.same(transactionV1ToV2.migrate(v1({ paying: 'collecting' })).value, { paying: 'collecting' });
  t.same(transactionV1ToV2.migrate(v1('completed')).value, 'completed');
});

t.test('transaction v1 → v2: redrives is always present, and kept when it was', async (t) => {
  t.same(transactionV1ToV2.migrate(v1('completed', { txnNo: 'T1' })).context, { txnNo: 'T1', redrives: {} });
  t.same(transactionV1ToV2.migrate(v1('completed', { redrives: { 'R1-1': 2 } })).context, { redrives: { 'R1-1': 2 } });
});

t.test('transaction v1 → v2: history values keyed by a renamed state node follow it', async (t) => {
  const migrated = transactionV1ToV2.migrate({ ...v1('completed'), historyValue: { 'transaction.paying.compensating': [], 'transaction.paid': [] } });
  t.same(Object.keys(migrated['historyValue'] as object).sort(), ['transaction.paid', 'transaction.paying.endingLegs']);
});

t.test('transaction v1 → v2 leaves children to their own migrations', async (t) => {
  const children = { 'leg-1': { src: 'paymentLeg', snapshot: { status: 'active', value: 'pending', context: {} } } };
  t.same(transactionV1ToV2.migrate({ ...v1({ paying: 'compensating' }), children }).children, children);
});
