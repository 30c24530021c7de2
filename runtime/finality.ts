import { AT_REST_STATES, type TxnContext } from '../machines/types.ts';
import { needsAttention } from './view.ts';

/**
 * DOMAIN.md "Archive": a transaction is final when it is completed, cancelled or failed and no
 * refund, give-back or task of it is still running. What the snapshot tells: nothing working, no
 * durable timer armed anywhere in the actor tree (a closed async leg keeps querying the gateway
 * for about an hour after its close, `QUERIES_AFTER_CLOSE_MS`, on timers), every refund and
 * give-back settled, nothing waiting for a person. Whether every task it asked for is done the
 * snapshot does not say (tasks live in the task store): the archiver checks the task store before it
 * takes the transaction, and leaves it for a later turn while one is not.
 */
export function isFinal(context: TxnContext, state: string, working: boolean, timers: Record<string, number>): boolean {
  if (!(AT_REST_STATES as readonly string[]).includes(state) || working) return false;
  if (Object.keys(timers).length > 0 || needsAttention(context)) return false;
  if (context.lateLegs.length > 0 || context.pendingRequestId !== null) return false;
  if (!context.refunds.every((r) => r.status === 'succeeded' || r.status === 'rejected')) return false;
  return context.legs.every((l) => !l.giveBack || l.giveBack.status === 'succeeded');
}
