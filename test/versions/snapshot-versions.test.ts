import t from 'tap';
import { MIGRATIONS } from '../../machines/migrations/index.ts';
import type { SnapshotMigration } from '../../machines/migrations/migration.ts';
import { restoreSnapshot, stampVersions, storedVersions, type PersistedActor } from '../../machines/snapshot-versions.ts';
import { MACHINE_VERSIONS } from '../../machines/versions.ts';

/** A tree as XState persists it: a transaction with a payment leg (and its running call) and a refund with a leg. */
const tree = (): PersistedActor => ({
  status: 'active',
  value: 'completed',
  context: { txnNo: 'T1' },
  children: {
    'leg-1': { src: 'paymentLeg', snapshot: { status: 'done', value: 'succeeded', context: {} } },
    'refund-R1': {
      src: 'refund',
      snapshot: {
        status: 'active',
        value: 'refundingMoney',
        context: {},
        children: {
          'rleg-1': { src: 'refundLeg', snapshot: { status: 'active', value: 'pending', context: {} } },
          '0.refund.debiting': { src: 'debitCard', snapshot: { status: 'active', output: undefined, error: undefined, input: {} } },
        },
      },
    },
  },
});

t.test('a stored snapshot without versions is version 1 of every machine in it', async (t) => {
  t.same(storedVersions(tree()), [
    { path: 'transaction', machine: 'transaction', version: 1 },
    { path: 'leg-1', machine: 'paymentLeg', version: 1 },
    { path: 'refund-R1', machine: 'refund', version: 1 },
    { path: 'refund-R1/rleg-1', machine: 'refundLeg', version: 1 },
  ]);
});

t.test('stamping gives every machine actor its version and leaves running calls alone', async (t) => {
  const stamped = stampVersions(tree());
  t.same(storedVersions(stamped).map((v) => v.version), [MACHINE_VERSIONS.transaction.version, MACHINE_VERSIONS.paymentLeg.version, MACHINE_VERSIONS.refund.version, MACHINE_VERSIONS.refundLeg.version]);
  const call = stamped.children!['refund-R1']!.snapshot!.children!['0.refund.debiting']!.snapshot!;
  t.notOk('machineVersion' in call, 'a promise actor has no machine version');
});

const versions3 = { ...MACHINE_VERSIONS, refundLeg: { version: 3, shape: 'x' } };
const rename = (from: string, to: string, step: number): SnapshotMigration => ({
  machine: 'refundLeg',
  from: step,
  description: `${from} → ${to}`,
  migrate: (s) => ({ ...s, value: s.value === from ? to : s.value }),
});

t.test('restore runs each machine\'s migrations in order, on a copy, and stamps the result', async (t) => {
  const stored = tree();
  const before = structuredClone(stored);
  const restored = restoreSnapshot(stored, versions3, [...MIGRATIONS, rename('waiting', 'waitingForChannel', 2), rename('pending', 'waiting', 1)]);
  t.ok(restored.ok);
  if (!restored.ok) return;
  const leg = restored.snapshot.children!['refund-R1']!.snapshot!.children!['rleg-1']!.snapshot!;
  t.equal(leg.value, 'waitingForChannel', 'v1 → v2 → v3, in that order');
  t.equal(leg.machineVersion, 3);
  t.same(
    restored.migrated.filter((m) => m.startsWith('refund-R1/rleg-1')),
    ['refund-R1/rleg-1: refundLeg v1 → v2', 'refund-R1/rleg-1: refundLeg v2 → v3'],
  );
  t.same(stored, before, 'the stored value is not changed');
});

t.test('restore refuses a tree with any actor newer than this code, naming it', async (t) => {
  const stored = stampVersions(tree());
  stored.children!['refund-R1']!.snapshot!.children!['rleg-1']!.snapshot!.machineVersion = MACHINE_VERSIONS.refundLeg.version + 1;
  const restored = restoreSnapshot(stored);
  t.match(restored, { ok: false, reason: 'newer', path: 'refund-R1/rleg-1', machine: 'refundLeg', stored: MACHINE_VERSIONS.refundLeg.version + 1, current: MACHINE_VERSIONS.refundLeg.version });
});

t.test('a migration that throws is reported with where it failed, not half applied', async (t) => {
  const failing: SnapshotMigration = { machine: 'refundLeg', from: 1, description: 'breaks', migrate: () => { throw new Error('no such field'); } };
  const restored = restoreSnapshot(tree(), { ...MACHINE_VERSIONS, refundLeg: { version: 2, shape: 'x' } }, [...MIGRATIONS, failing]);
  t.match(restored, { ok: false, reason: 'failed', path: 'refund-R1/rleg-1', machine: 'refundLeg', error: 'no such field' });
});
