import { MIGRATIONS } from './migrations/index.ts';
import type { PersistedActor, PersistedChild, SnapshotMigration } from './migrations/migration.ts';
import type { MachineId } from './registry.ts';
import { isMachineId, MACHINE_VERSIONS, type MachineVersion } from './versions.ts';

export type { PersistedActor };

/** The version of one actor of a stored tree. */
export interface StoredVersion {
  /** `transaction`, `leg-1`, `refund-R1/rleg-1`. */
  path: string;
  machine: MachineId;
  version: number;
}

/** What restoring a stored snapshot into this code's machines comes to. */
export type SnapshotRestore =
  | { ok: true; snapshot: PersistedActor; versions: StoredVersion[]; migrated: string[] }
  /** An actor of the tree was written by a newer version of its machine (a rolled-back deploy): it cannot be read back. */
  | { ok: false; reason: 'newer'; versions: StoredVersion[]; path: string; machine: MachineId; stored: number; current: number }
  /** A migration step threw: a bug of that step, or a snapshot it did not foresee. */
  | { ok: false; reason: 'failed'; versions: StoredVersion[]; path: string; machine: MachineId; stored: number; error: string };

const ROOT: MachineId = 'transaction';

/** Copies `snapshot` with every machine actor of the tree stamped with its machine's current version. */
export function stampVersions(snapshot: unknown, versions: Record<MachineId, MachineVersion> = MACHINE_VERSIONS): PersistedActor {
  const stamp = (snap: PersistedActor, machine: MachineId): PersistedActor => ({
    ...snap,
    machineVersion: versions[machine].version,
    ...(snap.children ? { children: mapChildren(snap.children, (child, src) => ({ ...child, snapshot: stamp(child.snapshot!, src) })) } : {}),
  });
  return stamp(snapshot as PersistedActor, ROOT);
}

/** The version of every machine actor of a stored tree (absent: 1). */
export function storedVersions(snapshot: unknown): StoredVersion[] {
  const out: StoredVersion[] = [];
  walk(snapshot as PersistedActor, (snap, path, machine) => void out.push({ path, machine, version: snap.machineVersion ?? 1 }));
  return out;
}

/**
 * Brings a stored snapshot to this code's versions: each actor's own migrations in order, the
 * parent's before its children's, on a copy (the stored value is never changed). Refuses, and
 * changes nothing, when any actor was written by a newer version than this code has.
 */
export function restoreSnapshot(snapshot: unknown, versions: Record<MachineId, MachineVersion> = MACHINE_VERSIONS, migrations: readonly SnapshotMigration[] = MIGRATIONS): SnapshotRestore {
  const stored = storedVersions(snapshot);
  const newer = stored.find((v) => v.version > versions[v.machine].version);
  if (newer) return { ok: false, reason: 'newer', versions: stored, path: newer.path, machine: newer.machine, stored: newer.version, current: versions[newer.machine].version };
  const migrated: string[] = [];
  let failure: Extract<SnapshotRestore, { reason: 'failed' }> | null = null;
  const bring = (snap: PersistedActor, path: string, machine: MachineId): PersistedActor => {
    let current: PersistedActor = snap;
    for (let v = snap.machineVersion ?? 1; v < versions[machine].version; v++) {
      const step = migrations.find((m) => m.machine === machine && m.from === v);
      if (!step) throw new MigrationGap(machine, v);
      try {
        current = { ...step.migrate(structuredClone(current)), machineVersion: v + 1 };
      } catch (err) {
        failure = { ok: false, reason: 'failed', versions: stored, path, machine, stored: snap.machineVersion ?? 1, error: err instanceof Error ? err.message : String(err) };
        return snap;
      }
      migrated.push(`${path}: ${machine} v${v} → v${v + 1}`);
    }
    if (!current.children) return current;
    return { ...current, children: mapChildren(current.children, (child, src, id) => ({ ...child, snapshot: bring(child.snapshot!, childPath(path, id), src) })) };
  };
  const result = bring(snapshot as PersistedActor, ROOT, ROOT);
  if (failure) return failure;
  return { ok: true, snapshot: result, versions: stored, migrated };
}

/** A version with no migration step out of it: a bump without its migration (the shape check's test catches it first). */
export class MigrationGap extends Error {
  constructor(machine: MachineId, from: number) {
    super(`no migration of ${machine} from v${from} to v${from + 1} (machines/migrations/)`);
  }
}

function childPath(parent: string, id: string): string {
  return parent === ROOT ? id : `${parent}/${id}`;
}

/** Machine children only: an invoked call's snapshot (a promise) has no machine and no version. */
function isMachineChild(child: PersistedChild | undefined): child is PersistedChild & { snapshot: PersistedActor; src: MachineId } {
  return !!child?.snapshot && isMachineId(child.src) && 'value' in child.snapshot;
}

function mapChildren(children: Record<string, PersistedChild | undefined>, f: (child: PersistedChild, src: MachineId, id: string) => PersistedChild): Record<string, PersistedChild | undefined> {
  return Object.fromEntries(Object.entries(children).map(([id, child]) => [id, isMachineChild(child) ? f(child, child.src, id) : child]));
}

function walk(snap: PersistedActor, visit: (snap: PersistedActor, path: string, machine: MachineId) => void, path: string = ROOT, machine: MachineId = ROOT): void {
  visit(snap, path, machine);
  for (const [id, child] of Object.entries(snap.children ?? {})) if (isMachineChild(child)) walk(child.snapshot, visit, childPath(path, id), child.src);
}
