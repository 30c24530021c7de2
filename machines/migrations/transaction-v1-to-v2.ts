import type { PersistedActor, SnapshotMigration } from './migration.ts';

/** State renames of v2, by state path. */
const RENAMED: Record<string, string> = {
  // Waiting for the open legs of a failed or cancelled attempt to end is not the compensation
  // (that is `unwinding`, newest-first): the old name said otherwise.
  'paying.compensating': 'paying.endingLegs',
  // The step that starts a refund for each captured leg, not the "next leg" of anything.
  'unwinding.nextLeg': 'unwinding.refundingLegs',
};

/** A state value with the renamed states under their new names. */
function renameValue(value: unknown, prefix = ''): unknown {
  if (typeof value === 'string') {
    const renamed = RENAMED[`${prefix}${value}`];
    return renamed ? renamed.slice(prefix.length) : value;
  }
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([key, sub]) => {
      const renamed = RENAMED[`${prefix}${key}`];
      const newKey = renamed ? renamed.slice(prefix.length) : key;
      return [newKey, renameValue(sub, `${prefix}${newKey}.`)];
    }),
  );
}

/** State node ids (`transaction.paying.compensating`), as history values and invoked actors' ids name them. */
function renameId(id: string): string {
  for (const [from, to] of Object.entries(RENAMED)) {
    const old = `transaction.${from}`;
    if (id === old || id.startsWith(`${old}.`)) return `transaction.${to}${id.slice(old.length)}`;
  }
  return id;
}

/**
 * Transaction v1 → v2: `paying.compensating` is `paying.endingLegs` and `unwinding.nextLeg` is
 * `unwinding.refundingLegs`; `redrives` is always in the context (`{}` in snapshots stored before
 * re-drives existed, where v1 had it optional). Neither renamed state invokes anything, so no
 * child is keyed by their ids; history values are renamed all the same.
 */
export const transactionV1ToV2: SnapshotMigration = {
  machine: 'transaction',
  from: 1,
  description: 'paying.compensating → paying.endingLegs, unwinding.nextLeg → unwinding.refundingLegs; redrives always present',
  migrate(snapshot: PersistedActor): PersistedActor {
    const history = snapshot['historyValue'];
    return {
      ...snapshot,
      value: renameValue(snapshot.value),
      ...(history && typeof history === 'object' ? { historyValue: Object.fromEntries(Object.entries(history).map(([id, v]) => [renameId(id), v])) } : {}),
      context: { ...snapshot.context, redrives: snapshot.context?.['redrives'] ?? {} },
    };
  },
};
