import type { MachineId } from '../registry.ts';

/** A persisted actor snapshot as XState writes it (`getPersistedSnapshot()`), plus the version the host stamps on it. */
export interface PersistedActor {
  status?: string;
  value?: unknown;
  context?: Record<string, unknown>;
  children?: Record<string, PersistedChild | undefined>;
  /** The version of the machine that wrote this snapshot (machines/versions.ts); absent: 1. */
  machineVersion?: number;
  [key: string]: unknown;
}

/** A child as XState persists it under its parent: its own snapshot and the name of its logic. */
export interface PersistedChild {
  snapshot?: PersistedActor;
  /** The machine id (`paymentLeg`) for machine children, the call's name for invoked promises. */
  src?: unknown;
  [key: string]: unknown;
}

/**
 * One step of one machine's snapshots, version `from` to `from + 1`: a pure function of the
 * snapshot, given a copy it may change. It sees the machine's own snapshot with its children as
 * they were stored (their own migrations run after it, on what it leaves).
 */
export interface SnapshotMigration {
  machine: MachineId;
  from: number;
  /** What it changes, for `trade migrate` and the docs. */
  description: string;
  migrate(snapshot: PersistedActor): PersistedActor;
}
