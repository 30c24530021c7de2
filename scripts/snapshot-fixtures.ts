/**
 * `npm run fixtures:snapshots`: drives the current machines through every scripted sale
 * (simulation/scenarios.ts: the whole platform on virtual time, a fixed seed, so the output is
 * the same on every run) and writes the snapshot stored after each step to
 * `test/fixtures/snapshots/v<N>/<scenario>.<step>-<label>.json`, N being the tree version of
 * machines/versions.ts. Folders of earlier versions are kept: their snapshots are what the
 * migrations are tested on. `--check` writes nothing and fails when the folder differs.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MACHINE_VERSIONS, treeVersion } from '../machines/versions.ts';
import { SCENARIOS, ScriptedRun } from '../simulation/scenarios.ts';

export const FIXTURES_DIR = new URL('../test/fixtures/snapshots/', import.meta.url).pathname;

/** One fixture file. */
export interface SnapshotFixture {
  scenario: string;
  /** Index of the step after which the snapshot was stored. */
  step: number;
  label: string;
  treeVersion: number;
  versions: Record<string, number>;
  state: string;
  snapshot: unknown;
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const version = treeVersion();
  const dir = join(FIXTURES_DIR, `v${version}`);
  const files = new Map<string, string>();
  for (const scenario of SCENARIOS) {
    const run = await ScriptedRun.open();
    try {
      for (const [i, step] of scenario.steps.entries()) {
        await step.run(run);
        const record = await run.stored();
        const fixture: SnapshotFixture = {
          scenario: scenario.name,
          step: i,
          label: step.label,
          treeVersion: version,
          versions: Object.fromEntries(Object.entries(MACHINE_VERSIONS).map(([id, v]) => [id, v.version])),
          state: record.state,
          snapshot: record.snapshot,
        };
        files.set(`${scenario.name}.${String(i).padStart(2, '0')}-${step.label}.json`, `${JSON.stringify(fixture, null, 1)}\n`);
        process.stderr.write(`${scenario.name} ${i} ${step.label}: ${record.state} ${JSON.stringify(record.stateValue)}\n`);
      }
    } finally {
      await run.close();
    }
  }
  if (check) {
    const existing = readdirSync(dir).sort();
    const differs = existing.join() !== [...files.keys()].sort().join() || [...files].some(([name, text]) => readFileSync(join(dir, name), 'utf8') !== text);
    if (differs) {
      process.stderr.write(`test/fixtures/snapshots/v${version} differs from what the machines store now: run npm run fixtures:snapshots\n`);
      process.exit(1);
    }
    return;
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of files) writeFileSync(join(dir, name), text);
  process.stderr.write(`wrote ${files.size} fixtures to test/fixtures/snapshots/v${version}\n`);
}

await main();
