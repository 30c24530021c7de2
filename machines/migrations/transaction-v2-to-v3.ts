import type { PersistedActor, SnapshotMigration } from './migration.ts';

/** A task spec as v2 kept it in the context: only its name is read here. */
interface V2Task {
  task: string;
}

/**
 * Transaction v2 → v3 (issue 21, task payloads out of the snapshot): the context's `tasks` (every
 * spec asked for, re-serialised by each save) becomes `taskNames`. The specs themselves need no
 * copying: every v2 save listed its context's tasks to the store, which wrote each as its task row
 * with the very save that first held it, so each name of a stored v2 snapshot already has its row.
 */
export const transactionV2ToV3: SnapshotMigration = {
  machine: 'transaction',
  from: 2,
  description: 'context.tasks (task specs) → context.taskNames (their names; the specs are in the task rows)',
  migrate(snapshot: PersistedActor): PersistedActor {
    const { tasks, ...context } = snapshot.context ?? {};
    const names = Array.isArray(tasks) ? (tasks as V2Task[]).map((t) => t.task) : [];
    return { ...snapshot, context: { ...context, taskNames: names } };
  },
};
