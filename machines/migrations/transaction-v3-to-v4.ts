import type { PersistedActor, SnapshotMigration } from './migration.ts';

/** The task names v4 no longer asks for (machines/post-payment-tasks.ts RETIRED_TASK_KINDS). */
const RETIRED = new Set(['os-sync']);

/**
 * Transaction v3 → v4 (issue 20, the OS sync retired as a task): `taskNames` loses `os-sync`, which
 * v4 never asks for (the order's events go to its station's outbox with the saves instead), so a
 * restored v3 snapshot is the one v4 stores at the same point of the same sale. Its task row, if
 * the store still holds one, stays: run, it is done at once without a call, and its TASK_DONE
 * brings the save that puts the order's events in the outbox. `deadTasks` is left as it was: a
 * dead row still blocks the archive until it is retried (and then done at once), so the person
 * who is told about it must still be told.
 */
export const transactionV3ToV4: SnapshotMigration = {
  machine: 'transaction',
  from: 3,
  description: 'context.taskNames without os-sync (retired: the OS order events go through the station outbox)',
  migrate(snapshot: PersistedActor): PersistedActor {
    const names = snapshot.context?.['taskNames'];
    if (!Array.isArray(names)) return snapshot;
    return { ...snapshot, context: { ...snapshot.context, taskNames: names.filter((n) => !(typeof n === 'string' && RETIRED.has(n))) } };
  },
};
