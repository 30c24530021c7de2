import type { SnapshotMigration } from './migration.ts';
import { transactionV1ToV2 } from './transaction-v1-to-v2.ts';
import { transactionV2ToV3 } from './transaction-v2-to-v3.ts';
import { transactionV3ToV4 } from './transaction-v3-to-v4.ts';

/** Every migration step, one file each (`<kind>-v<N>-to-v<N+1>.ts`); restore picks them by machine and version. */
export const MIGRATIONS: readonly SnapshotMigration[] = [transactionV1ToV2, transactionV2ToV3, transactionV3ToV4];
