/** The kinds of actor in a transaction's tree: the root and the child machines it spawns. */
export type ActorKind = 'transaction' | 'payment-leg' | 'late-payment' | 'refund' | 'refund-leg';

/**
 * The machine behind a journal entry's actor id. Children are spawned with stable ids by kind
 * (`leg-1`, `late-leg-1`, `giveback-leg-1`, `refund-R…`, `rleg-1`: machines/transaction.machine.ts and
 * refund.machine.ts), so the id says which machine it runs.
 */
export function actorKind(actorId: string): ActorKind | 'other' {
  if (actorId === 'transaction') return 'transaction';
  if (actorId.startsWith('late-')) return 'late-payment';
  if (actorId.startsWith('refund-')) return 'refund';
  if (actorId.startsWith('rleg-') || actorId.startsWith('giveback-')) return 'refund-leg';
  if (actorId.startsWith('leg-')) return 'payment-leg';
  return 'other';
}
