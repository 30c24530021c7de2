import type { SnapshotMigration } from './migration.ts';

/** Every migration step, one file each (`<kind>-v<N>-to-v<N+1>.ts`). */
export const MIGRATIONS: readonly SnapshotMigration[] = [];
