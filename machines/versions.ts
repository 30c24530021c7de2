import type { MachineId } from './registry.ts';

/**
 * One machine's version (DESIGN.md rule 10) and the hash of the structure that version has
 * (machines/machine-shape.ts): states, events, context keys, child machines. A change of
 * structure is a new version: bump `version`, add `machines/migrations/<kind>-v<N>-to-v<N+1>.ts`,
 * set `shape` to the new hash, regenerate the fixtures (`npm run fixtures:snapshots`), and keep
 * the earlier ones. test/versions/shape-check.test.ts fails until all of that is done.
 */
export interface MachineVersion {
  version: number;
  shape: string;
}

/** The version of every machine of the tree; a stored snapshot without one is version 1. */
export const MACHINE_VERSIONS: Record<MachineId, MachineVersion> = {
  transaction: { version: 4, shape: '9897350129b5b72d' },
  paymentLeg: { version: 1, shape: '8fb81d70e0946150' },
  latePayment: { version: 1, shape: 'bf6872f2a36e7709' },
  refund: { version: 1, shape: '466af94a0f785a07' },
  refundLeg: { version: 1, shape: 'e33b683e1f55bdf3' },
};

/**
 * The version of the whole tree: 1, plus one for every bump of any machine. It names the
 * fixture folder of the snapshots this code writes (`test/fixtures/snapshots/v<N>/`).
 */
export function treeVersion(versions: Record<MachineId, MachineVersion> = MACHINE_VERSIONS): number {
  return 1 + Object.values(versions).reduce((sum, v) => sum + v.version - 1, 0);
}

/** True when `id` names a machine of the tree (a child's `src` may be a call instead). */
export function isMachineId(id: unknown): id is MachineId {
  return typeof id === 'string' && Object.hasOwn(MACHINE_VERSIONS, id);
}
