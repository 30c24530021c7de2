import type { Outcome } from '../systems/contract.ts';
import type { Systems } from '../systems/index.ts';
import type { TaskRecord, TaskStore } from '../storage/types.ts';
import { FULFILMENT_HOOKS, type FulfilmentRequest } from './fulfilment.ts';
import type { TaskHandler } from './task-runner.ts';

/**
 * What each post-payment task kind does downstream (machines/post-payment-tasks.ts makes them).
 * Every call is keyed `txnNo:task[:step]`, so a task run again after a crash or a retry has no
 * second effect. A refusal that means "already as wanted" counts as done.
 */
export function taskHandlers(systems: Systems, store: Pick<TaskStore, 'task'>): Record<string, TaskHandler> {
  // After a refusal the callee has stored that answer under the key: the next attempt is a new question.
  const key = (t: TaskRecord, step?: string) => {
    const base = t.refusals > 0 ? `${t.task}:r${t.refusals}` : t.task;
    return { txnNo: t.txnNo, step: step ? `${base}:${step}` : base };
  };
  const p = <T>(t: TaskRecord) => t.payload as T;
  type Base = { txnNo: string; orderNo: string; userId: string; stationId: string; merchantId: string; amountFen: number };
  type Reverse = { txnNo: string; refundNo: string; amountFen: number; userId: string };
  const ok: Outcome<Record<string, unknown>> = { ok: true };
  /**
   * Points, growth and campaign rewards are taken back by callees that cannot tell whether they
   * were ever given (a reversal takes from the balance): so a reversal waits, retried like a
   * refusal, until the task it reverses is done. One still retrying or dead has given nothing yet
   * and may still give once retried; reversing first would take what the sale never gave, and the
   * late award would then stand unreversed.
   */
  const afterForward = async (t: TaskRecord, forward: string, reverse: () => Promise<Outcome<Record<string, unknown>>>): Promise<Outcome<Record<string, unknown>>> => {
    const done = (await store.task(t.txnNo, forward))?.status === 'done';
    return done ? reverse() : { ok: false, code: 'NOT_YET_GIVEN', message: `${forward} is not done yet: nothing to reverse before it` };
  };
  return {
    settlement: (t) => systems.settlement.record(key(t), p<Base & { legs: { method: string; amountFen: number }[] }>(t)),
    marketing: (t) => systems.marketing.record(key(t), p<Base & { discounts: { kind: string; id?: string; amountFen: number }[] }>(t)),
    // Spend-X-get-Y: the campaign decides the rewards; the reward coupons are then issued, each keyed.
    campaign: async (t) => {
      const b = p<Base>(t);
      const rewarded = await systems.campaign.reward(key(t), b);
      if (!rewarded.ok) return rewarded;
      const couponIds: string[] = [];
      for (const [i, reward] of rewarded.rewards.entries()) {
        const issued = await systems.coupon.issue(key(t, `issue-${i}`), { userId: b.userId, issueNo: `${b.orderNo}-RW${i + 1}`, templateId: reward.templateId });
        if (!issued.ok) return issued;
        couponIds.push(issued.couponId);
      }
      // Kept on the task, so that a full refund knows which reward coupons to revoke.
      return { ok: true, couponIds };
    },
    // A member without a points account earns nothing: that is an answer, not a failure.
    'points-award': async (t) => {
      const b = p<{ userId: string; points: number }>(t);
      if (b.points <= 0) return ok;
      const awarded = await systems.points.award(key(t), { userId: b.userId, awardNo: `${t.txnNo}-A`, points: b.points });
      return !awarded.ok && awarded.code === 'ACCOUNT_NOT_FOUND' ? ok : awarded;
    },
    growth: (t) => {
      const b = p<{ userId: string; growth: number }>(t);
      return b.growth > 0 ? systems.level.addGrowth(key(t), { userId: b.userId, txnNo: t.txnNo, growth: b.growth }) : Promise.resolve(ok);
    },
    invoice: (t) => systems.invoice.issue(key(t), p<Base>(t)),
    push: (t) => systems.push.notify(key(t), { ...p<{ stationId: string; message: string }>(t), txnNo: t.txnNo }),
    notify: (t) => systems.notify.send(key(t), { ...p<{ userId: string; message: string }>(t), txnNo: t.txnNo }),
    'fulfil-virtual': (t) => {
      const req = p<FulfilmentRequest>(t);
      const hook = FULFILMENT_HOOKS[req.code];
      return hook ? hook(systems, key(t), req) : Promise.resolve({ ok: false, code: 'NO_FULFILMENT', message: `no fulfilment hook for ${req.code}` });
    },
    'order-refunded': (t) => {
      const b = p<Reverse & { orderNo: string }>(t);
      return systems.order.markRefunded(key(t), { orderNo: b.orderNo, refundNo: b.refundNo, amountFen: b.amountFen });
    },
    'settlement-reverse': (t) => systems.settlement.reverse(key(t), p<Reverse>(t)),
    'invoice-reverse': (t) => systems.invoice.reverse(key(t), p<Reverse>(t)),
    'marketing-reverse': (t) => systems.marketing.reverse(key(t), p<Reverse>(t)),
    'points-reverse': (t) =>
      afterForward(t, 'points-award', async () => {
        const b = p<Reverse & { points: number }>(t);
        if (b.points <= 0) return ok;
        const reversed = await systems.points.reverseAward(key(t), { userId: b.userId, reverseNo: `${b.refundNo}-A`, points: b.points });
        return !reversed.ok && reversed.code === 'ACCOUNT_NOT_FOUND' ? ok : reversed;
      }),
    'growth-reverse': (t) =>
      afterForward(t, 'growth', () => {
        const b = p<Reverse & { growth: number }>(t);
        return b.growth > 0 ? systems.level.reverseGrowth(key(t), { userId: b.userId, txnNo: t.txnNo, refundNo: b.refundNo, growth: b.growth }) : Promise.resolve(ok);
      }),
    // A full refund takes back the campaign's rewards: the reward coupons issued are revoked,
    // except one the customer has already used (it stays used; recorded on the task).
    'campaign-reverse': (t) =>
      afterForward(t, 'campaign', async () => {
        const b = p<Reverse>(t);
        const reversed = await systems.campaign.reverse(key(t), { txnNo: b.txnNo, refundNo: b.refundNo });
        if (!reversed.ok) return reversed;
        const campaign = await store.task(t.txnNo, 'campaign');
        const issued = Array.isArray(campaign?.result?.couponIds) ? (campaign.result.couponIds as string[]) : [];
        const keptUsed: string[] = [];
        for (const couponId of issued) {
          const revoked = await systems.coupon.revoke(key(t, `revoke-${couponId}`), { userId: b.userId, couponId });
          if (!revoked.ok && revoked.code === 'COUPON_USED') keptUsed.push(couponId);
        }
        return { ok: true, revoked: issued.filter((c) => !keptUsed.includes(c)), keptUsed };
      }),
  };
}
