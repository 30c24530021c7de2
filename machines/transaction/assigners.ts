import type { Outcome, Refusal } from '../../domain/errors.ts';
import { backoff } from '../durable-timers.ts';
import { TIMERS, type BenefitHold } from '../types.ts';
import { withHoldStatus, type TxnArgs } from './context.ts';

/**
 * The transaction machine's actions that take parameters from where the machine names them
 * (`{ type: 'armRetry', params: … }`): plain assigners, bound with `assign` in the machine's setup.
 */

export const replyRefusal = ({ context, event }: TxnArgs, params: { refusal: Refusal }) => {
    const requestId = 'requestId' in event ? event.requestId : context.pendingRequestId;
    return requestId ? { reply: { requestId, ok: false as const, refusal: params.refusal }, pendingRequestId: null } : {};
  };

export const armRetry = ({ context }: TxnArgs, params: { step: string; at: number }) => {
    const attempt = context.attempts[params.step] ?? 0;
    return {
      attempts: { ...context.attempts, [params.step]: attempt + 1 },
      timers: { ...context.timers, [TIMERS.retry]: params.at + backoff(attempt) },
    };
  };

export const clearTimer = ({ context }: TxnArgs, params: { name: string }) => {
    const { [params.name]: _dropped, ...rest } = context.timers;
    return { timers: rest };
  };

export const setHold = ({ context }: TxnArgs, params: { lockKey: string; status: BenefitHold['status'] }) => ({ holds: withHoldStatus(context.holds, params.lockKey, params.status) });

export const topUpCredited = ({ context }: TxnArgs, params: { lineNo: number; ok: boolean }) => ({
    topUps: context.topUps.map((t) => (t.lineNo === params.lineNo ? { ...t, status: params.ok ? ('credited' as const) : ('refused' as const) } : t)),
    needsAttention: context.needsAttention || !params.ok,
  });

export const noteOutcome = (_: TxnArgs, params: { refusal: Outcome }) => ({ outcome: params.refusal });

export const unwind = (_: TxnArgs, params: { to: 'quoted' | 'cancelled' | 'failed'; refusal: Outcome }) => ({ unwindTo: params.to, outcome: params.refusal });
