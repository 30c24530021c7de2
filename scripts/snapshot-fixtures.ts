/**
 * `npm run fixtures:snapshots`: drives the current machines through every scripted sale
 * (simulation/scenarios.ts: the whole platform on virtual time, a fixed seed, so the output is
 * the same on every run) and writes the snapshot stored after each step to
 * `test/fixtures/snapshots/v<N>/<scenario>.<step>-<label>.json`, N being the tree version of
 * machines/versions.ts. Folders of earlier versions are kept: their snapshots are what the
 * migrations are tested on. It also writes each machine's shape at its current version,
 * `machines/shapes/<kind>.v<N>.json` (what the shape check's message diffs against), once the
 * version's hash in machines/versions.ts matches it. `--check` writes nothing and fails when the
 * folder differs.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { machineShape, SAMPLE_INPUTS, shapeHash } from '../machines/machine-shape.ts';
import { MACHINES } from '../machines/registry.ts';
import { MACHINE_VERSIONS, treeVersion } from '../machines/versions.ts';
import { shapeFile } from './machine-shapes.ts';
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
  for (const m of MACHINES) {
    const shape = machineShape(m.machine, SAMPLE_INPUTS[m.id]);
    const { version, shape: committed } = MACHINE_VERSIONS[m.id];
    if (shapeHash(shape) !== committed) {
      process.stderr.write(`${m.id}: its shape is not the one v${version} committed: bump its version first (npx tap test/versions/shape-check.test.ts says how)\n`);
      process.exit(1);
    }
    mkdirSync(new URL('../machines/shapes/', import.meta.url).pathname, { recursive: true });
    writeFileSync(shapeFile(m.kind, version), `${JSON.stringify(shape, null, 1)}\n`);
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of files) writeFileSync(join(dir, name), text);
  process.stderr.write(`wrote ${files.size} fixtures to test/fixtures/snapshots/v${version}\n`);
}

await main();
