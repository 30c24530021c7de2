import { MACHINES, type ActorKind } from '../machines/registry.ts';

export type { ActorKind };

/** Child id prefixes, longest first, so `late-leg-1` is a late-payment check and not a leg. */
const PREFIXES = MACHINES.flatMap((m) => m.childIdPrefixes.map((prefix) => ({ prefix, kind: m.kind }))).sort((a, b) => b.prefix.length - a.prefix.length);

/**
 * The machine behind a journal entry's actor id: children are spawned with stable ids by kind
 * (machines/registry.ts), so the id says which machine it runs.
 */
export function actorKind(actorId: string): ActorKind | 'other' {
  if (actorId === 'transaction') return 'transaction';
  return PREFIXES.find((p) => actorId.startsWith(p.prefix))?.kind ?? 'other';
}
