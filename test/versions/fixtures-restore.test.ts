import { readdirSync, readFileSync } from 'node:fs';
import t from 'tap';
import { restoreSnapshot } from '../../machines/snapshot-versions.ts';
import { treeVersion } from '../../machines/versions.ts';
import { SCENARIOS, ScriptedRun } from '../../simulation/scenarios.ts';
import type { SnapshotFixture } from '../../scripts/snapshot-fixtures.ts';

const root = new URL('../fixtures/snapshots/', import.meta.url);
const folders = readdirSync(root).filter((f) => /^v\d+$/.test(f)).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));

/**
 * Every stored snapshot of every earlier version (and of this one) restores into the current
 * machines and runs to its sale's end, on the simulators: the upgrade of transactions in flight
 * (issue 22). The sale is replayed to the point its fixture was taken, so the simulators hold
 * what that transaction did downstream; then the process is replaced by one of this version on a
 * store that holds the old snapshot.
 */
for (const folder of folders) {
  const version = Number(folder.slice(1));
  const files = readdirSync(new URL(`${folder}/`, root)).filter((f) => f.endsWith('.json')).sort();
  t.test(`every ${folder} snapshot restores into the current machines (tree v${treeVersion()}) and runs to its end (issue 22)`, async (t) => {
    t.ok(files.length > 0, `${folder} has fixtures`);
    for (const file of files) {
      const fixture = JSON.parse(readFileSync(new URL(`${folder}/${file}`, root), 'utf8')) as SnapshotFixture;
      t.equal(fixture.treeVersion, version, `${file} is a ${folder} snapshot`);
      const scenario = SCENARIOS.find((s) => s.name === fixture.scenario);
      if (!scenario) {
        t.fail(`${file}: no scenario ${fixture.scenario} (a scenario of a kept fixture folder must stay)`);
        continue;
      }
      await t.test(file, async (t) => {
        const d = await ScriptedRun.open();
        t.teardown(() => d.close());
        for (const step of scenario.steps.slice(0, fixture.step + 1)) await step.run(d);
        const current = (await d.stored()).snapshot;
        const restored = restoreSnapshot(fixture.snapshot);
        t.ok(restored.ok, 'the stored snapshot is readable by this version');
        if (!restored.ok) return;
        t.same(restored.snapshot, current, 'migrated, it is the snapshot this version stores at the same point of the same sale');

        await d.redeployWith(fixture.snapshot);
        for (const step of scenario.steps.slice(fixture.step + 1)) await step.run(d);
        await d.advance(60_000);
        const end = await d.view();
        t.equal(end.state, scenario.ends, `the sale ends ${scenario.ends}`);
        t.equal(end.needsAttention, false, 'and needs nobody');
        if (scenario.refunded) t.ok(end.refunds.length > 0 && end.refunds.every((r) => r.status === 'succeeded'), 'its refund completed');
        const record = await d.stored();
        t.ok(restoreSnapshot(record.snapshot).versions.every((v) => v.version >= 1), 'stored again at this version');
      });
    }
  });
}
