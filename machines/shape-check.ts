import type { AnyStateMachine } from 'xstate';
import { machineShape, SAMPLE_INPUTS, shapeHash, type MachineShape } from './machine-shape.ts';
import type { SnapshotMigration } from './migrations/migration.ts';
import type { ActorKind, MachineId } from './registry.ts';
import { treeVersion, type MachineVersion } from './versions.ts';

/** What the check reads of one machine: its definition, and the shape its current version committed (machines/shapes/). */
export interface CheckedMachine {
  id: MachineId;
  kind: ActorKind;
  machine: AnyStateMachine;
  /** `machines/shapes/<kind>.v<N>.json` of its current version, when there is one. */
  committedShape: MachineShape | null;
}

/**
 * The shape check (DESIGN.md rule 10): every machine's structure is the one its version
 * committed, and every version has its migration. Returns what is wrong, each with what to do.
 */
export function checkShapes(machines: readonly CheckedMachine[], versions: Record<MachineId, MachineVersion>, migrations: readonly SnapshotMigration[]): string[] {
  const problems: string[] = [];
  for (const m of machines) {
    const { version, shape } = versions[m.id];
    const now = machineShape(m.machine, SAMPLE_INPUTS[m.id]);
    const hash = shapeHash(now);
    if (hash !== shape) {
      problems.push(
        [
          `the structure of the ${m.id} machine changed without a version bump (shape ${hash}, v${version} committed ${shape})${describeChange(m.committedShape, now)}.`,
          `Stored snapshots of v${version} would restore into a machine they do not fit. Bump it:`,
          `  1. machines/versions.ts: ${m.id} { version: ${version + 1}, shape: '${hash}' }`,
          `  2. machines/migrations/${m.kind}-v${version}-to-v${version + 1}.ts: a pure migration of v${version} snapshots (tested), listed in machines/migrations/index.ts`,
          `  3. npm run fixtures:snapshots: writes test/fixtures/snapshots/v${treeVersion(versions) + 1}/ (and machines/shapes/${m.kind}.v${version + 1}.json); keep the earlier folders`,
          `If the change really leaves every stored snapshot valid, it still changes the shape: bump anyway, with a migration that returns its input.`,
        ].join('\n'),
      );
    }
    for (let v = 1; v < version; v++) {
      const steps = migrations.filter((s) => s.machine === m.id && s.from === v);
      if (steps.length !== 1) problems.push(`${m.id} v${v} → v${v + 1} needs exactly one migration (machines/migrations/${m.kind}-v${v}-to-v${v + 1}.ts, listed in machines/migrations/index.ts); found ${steps.length}`);
    }
  }
  return problems;
}

/** Which states, events, context keys and children were added and removed, against the committed shape. */
function describeChange(before: MachineShape | null, after: MachineShape): string {
  if (!before) return '';
  const parts: string[] = [];
  for (const key of ['states', 'events', 'contextKeys', 'children'] as const) {
    const was = new Set(before[key]);
    const is = new Set(after[key]);
    const added = [...is].filter((x) => !was.has(x));
    const removed = [...was].filter((x) => !is.has(x));
    if (added.length) parts.push(`${key} added: ${added.join('; ')}`);
    if (removed.length) parts.push(`${key} removed: ${removed.join('; ')}`);
  }
  return parts.length ? `: ${parts.join('; ')}` : '';
}
