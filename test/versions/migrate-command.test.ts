import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { runMigrate } from '../../bin/commands/migrate.ts';
import type { CliIo } from '../../bin/commands/cli-io.ts';
import { restoreSnapshot, type PersistedActor } from '../../machines/snapshot-versions.ts';
import { MACHINE_VERSIONS } from '../../machines/versions.ts';
import { orderRowOf } from '../../runtime/order-row.ts';
import { SCENARIOS, ScriptedRun } from '../../simulation/scenarios.ts';
import type { SnapshotFixture } from '../../scripts/snapshot-fixtures.ts';
import type { Storage } from '../../storage/types.ts';

function quietIo(): CliIo & { text: () => string } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { out, err: new PassThrough(), now: () => 0, progress: () => ({ increment: () => undefined, setTotal: () => undefined, stop: () => undefined }), text: () => text };
}

const v1Fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/snapshots/v1/${name}`, import.meta.url), 'utf8')) as SnapshotFixture;

/** A store holding an ordered sale stored by v1, a quoted one stored now, and one stored by a newer version. */
async function mixedStore(): Promise<{ d: ScriptedRun; v1: string; current: string; newer: string }> {
  const d = await ScriptedRun.open();
  await SCENARIOS.find((s) => s.name === 'order-expires')!.steps[0]!.run(d);
  const v1 = d.txnNo;
  await d.redeployWith(v1Fixture('order-expires.00-ordered.json').snapshot);
  await d.start({ userId: 'U4', items: [{ type: 'fuel', nozzleNo: 1, amount: 10_000 }], paymentMethods: ['wechat'] });
  const current = d.txnNo;
  await d.start({ userId: 'U4', items: [{ type: 'fuel', nozzleNo: 1, amount: 12_000 }], paymentMethods: ['wechat'] });
  const newer = d.txnNo;
  const snapshot = (await d.stored()).snapshot as PersistedActor;
  await d.redeployWith({ ...snapshot, machineVersion: MACHINE_VERSIONS.transaction.version + 1 });
  d.txnNo = v1;
  return { d, v1, current, newer };
}

t.test('trade migrate --check counts stored transactions per version and dry-runs the migrations, changing nothing', async (t) => {
  const { d, v1, newer } = await mixedStore();
  t.teardown(() => d.close());
  const storage = d.world.tc.storage;
  const before = await storage.snapshots.load(v1);
  const io = quietIo();
  const report = await runMigrate(storage, io, { apply: false });
  t.match(report, { examined: 3, current: 1, migratable: 1, failed: [], rewritten: 0 });
  t.same(report.newer.map((n) => n.txnNo), [newer]);
  t.same(
    report.byVersions.map((v) => v.versions),
    [`transaction v1`, `transaction v${MACHINE_VERSIONS.transaction.version + 1}`, `transaction v${MACHINE_VERSIONS.transaction.version}`].sort(),
  );
  t.match(io.text(), /3 examined \(0 archived\): 1 current, 1 older \(migration dry run clean\), 1 newer, 0 failed/);
  t.same(await storage.snapshots.load(v1), before, 'a dry run writes nothing');
});

t.test('trade migrate --apply rewrites older snapshots at this version, and the sale goes on from them', async (t) => {
  const { d, v1, newer } = await mixedStore();
  t.teardown(() => d.close());
  const storage = d.world.tc.storage;
  const newerBefore = await storage.snapshots.load(newer);
  const report = await runMigrate(storage, quietIo(), { apply: true });
  t.match(report, { rewritten: 1, movedOn: 0, migratable: 1 });
  const record = await storage.snapshots.load(v1);
  const restored = restoreSnapshot(record!.snapshot);
  t.ok(restored.ok && restored.migrated.length === 0, 'stored at this version: nothing left to migrate');
  t.same(await storage.snapshots.load(newer), newerBefore, 'a newer snapshot is left alone');
  await d.advance(16 * 60_000);
  t.equal((await d.view()).state, 'cancelled', 'the rewritten order expires as usual');
});

t.test('trade migrate --apply leaves a transaction that moved on between its read and its rewrite to its writer', async (t) => {
  const { d, v1 } = await mixedStore();
  t.teardown(() => d.close());
  const storage = d.world.tc.storage;
  // Another process saves the transaction right after the command read it.
  const racing: Storage = {
    ...storage,
    snapshots: {
      ...storage.snapshots,
      save: storage.snapshots.save.bind(storage.snapshots),
      findTxnNoByOrderNo: storage.snapshots.findTxnNoByOrderNo.bind(storage.snapshots),
      dueTimers: storage.snapshots.dueTimers.bind(storage.snapshots),
      needingWork: storage.snapshots.needingWork.bind(storage.snapshots),
      load: async (txnNo) => {
        const record = await storage.snapshots.load(txnNo);
        if (record && txnNo === v1) {
          const { version, ...rest } = record;
          await storage.snapshots.save({ ...rest, tasks: [], osEvents: [] }, version, []);
        }
        return record;
      },
    },
  };
  const report = await runMigrate(racing, quietIo(), { apply: true });
  t.match(report, { rewritten: 0, movedOn: 1 });
});

t.test('trade migrate --check counts and dry-runs the order archive\'s snapshots too, and --apply leaves the archive as it is (issue 22)', async (t) => {
  const d = await ScriptedRun.open();
  t.teardown(() => d.close());
  for (const s of SCENARIOS.find((s) => s.name === 'cancel-retried')!.steps) await s.run(d);
  // The sale was archived by a v1 process: its final snapshot in the archive is v1.
  await d.redeployWith(v1Fixture('cancel-retried.02-cancelled.json').snapshot);
  const storage = d.world.tc.storage;
  const record = (await storage.snapshots.load(d.txnNo))!;
  const journal = await storage.journal.entries(d.txnNo);
  const row = orderRowOf(record, journal);
  t.ok(row, 'a final transaction has its archive row');
  await storage.archive.put([{ row: row!, record, journal, tasks: [] }]);
  t.ok(await d.world.tc.host.retire(d.txnNo, record.version), 'and left the hot store');
  const archivedBefore = await storage.archive.get(d.txnNo);

  const check = await runMigrate(storage, quietIo(), { apply: false });
  t.match(check, { examined: 1, archived: 1, migratable: 1, current: 0, failed: [], newer: [] });
  t.same(check.byVersions.map((v) => v.versions), ['archived: transaction v1']);
  const apply = await runMigrate(storage, quietIo(), { apply: true });
  t.match(apply, { archived: 1, migratable: 1, rewritten: 0 }, 'the archive is not rewritten: a refund that rehydrates it migrates it on load');
  t.same(await storage.archive.get(d.txnNo), archivedBefore, 'the archived entry is unchanged');
});
