import { TradeError } from '../domain/errors.ts';
import { restoreSnapshot, type PersistedActor, type SnapshotRestore } from '../machines/snapshot-versions.ts';
import type { TxnContext } from '../machines/types.ts';
import type { TransactionRecord } from '../storage/types.ts';
import { buildView, type TransactionView } from './view.ts';

type Refused = Extract<SnapshotRestore, { ok: false }>;

/**
 * A stored snapshot this code will not read back into its machines (DESIGN.md rule 10): one a
 * newer version wrote (`SNAPSHOT_TOO_NEW`, a rolled-back deploy), or one whose migration failed
 * (`INTERNAL`, a bug of that migration). The transaction is left as it is stored.
 */
export class UnreadableSnapshot extends TradeError {
  constructor(
    readonly txnNo: string,
    readonly refused: Refused,
  ) {
    super(
      refused.reason === 'newer' ? 'SNAPSHOT_TOO_NEW' : 'INTERNAL',
      refused.reason === 'newer'
        ? `transaction ${txnNo} was stored by ${refused.machine} v${refused.stored} (at ${refused.path}); this version runs v${refused.current} and leaves it untouched`
        : `migrating the stored snapshot of ${txnNo} failed at ${refused.path} (${refused.machine} v${refused.stored}): ${refused.error}`,
      { txnNo, path: refused.path, machine: refused.machine, storedVersion: refused.stored, ...(refused.reason === 'newer' ? { currentVersion: refused.current } : {}) },
    );
    this.name = 'UnreadableSnapshot';
  }
}

/** The record's snapshot at this code's versions (migrated when older); throws {@link UnreadableSnapshot}. */
export function readableSnapshot(record: Pick<TransactionRecord, 'txnNo' | 'snapshot'>): PersistedActor {
  const restored = restoreSnapshot(record.snapshot);
  if (!restored.ok) throw new UnreadableSnapshot(record.txnNo, restored);
  return restored.snapshot;
}

/**
 * The view of a stored transaction, from its snapshot brought to this code's versions. One a
 * newer version wrote is shown from its stored data as long as that still reads as a view (a
 * newer version's context may have moved on, so this is a best effort, never written back);
 * otherwise, and for a failed migration, a clear error.
 */
export function storedView(record: TransactionRecord): TransactionView {
  const restored = restoreSnapshot(record.snapshot);
  if (restored.ok) return viewOf(restored.snapshot, record);
  if (restored.reason === 'newer') {
    try {
      return viewOf(record.snapshot as PersistedActor, record);
    } catch {
      // The newer context does not read as this version's view: say why instead.
    }
  }
  throw new UnreadableSnapshot(record.txnNo, restored);
}

function viewOf(snapshot: PersistedActor, record: TransactionRecord): TransactionView {
  return buildView(snapshot.context as unknown as TxnContext, snapshot.value, record.version, record.updatedAt);
}
