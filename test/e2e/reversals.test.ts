import t from 'tap';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { eventually, orderedSale, startHarness, type Harness } from '../helpers/harness.ts';

/**
 * A refund reverses what the sale's post-payment tasks did (points awarded, growth, reward
 * coupons). A reversal must not run ahead of what it reverses: a task still retrying or dead
 * when the refund comes has done nothing yet, and may still do it once retried.
 */

const NOON = Date.parse('2026-11-25T12:00:00+08:00');

type TaskView = { task: string; status: string; lastError: string | null };
type ViewWithTasks = TransactionView & { tasks: TaskView[] };

const tasksOf = async (h: Harness, txnNo: string) => (await h.api<ViewWithTasks>('GET', `/v1/transactions/${txnNo}`)).body.tasks;
const statusOf = async (h: Harness, txnNo: string, task: string) => (await tasksOf(h, txnNo)).find((x) => x.task === task)?.status;

/** Moves the clock past every backoff and runs the due tasks, `rounds` times. */
async function runTasks(h: Harness, clock: ManualClock, rounds = 8) {
  for (let i = 0; i < rounds; i++) {
    await h.tc.host.settle();
    await h.tc.tasks.runDue();
    clock.advance(10 * 60_000);
  }
  await h.tc.host.settle();
}

const pointsOf = async (h: Harness) => (await h.sims.systems.points.peekPointsAccount('U1'))!.balance;
const rewardCoupons = async (h: Harness) => (await h.sims.systems.coupon.peekCoupons('U1')).filter((c) => c.couponId.startsWith('CP-')).map((c) => c.status);

t.test('a full refund while the points award and the campaign reward are dead takes nothing back early, and all is even once they are retried', async (t) => {
  const clock = new ManualClock(NOON);
  // No breaker in the way: each failing run counts as an attempt, so the tasks die quickly.
  const h = await startHarness(t, { clock, config: { breaker: { afterFailures: 1_000, halfOpenAfterMs: 10 } } });
  const pointsBefore = await pointsOf(h);
  await h.sims.faults.points.configure({ award: { outage: true } });
  await h.sims.faults.campaign.configure({ reward: { outage: true } });

  const ordered = await orderedSale(h.api, 'wechat');
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.payableAmount }] });
  await h.sims.gateway.pay(paying.body.legs[0]!.paymentNo);
  await eventually(() => h.api<TransactionView>('GET', `/v1/transactions/${ordered.txnNo}`), (r) => r.body.state === 'completed');
  await runTasks(h, clock);
  t.equal(await statusOf(h, ordered.txnNo, 'points-award'), 'dead');
  t.equal(await statusOf(h, ordered.txnNo, 'campaign'), 'dead');
  t.equal(await pointsOf(h), pointsBefore, 'no points awarded');

  const refund = await h.api<{ refundNo: string }>('POST', `/v1/transactions/${ordered.txnNo}/refunds`, { reason: 'everything back' });
  t.equal(refund.status, 202);
  await eventually(() => h.api<TransactionView>('GET', `/v1/transactions/${ordered.txnNo}`), (r) => r.body.refunds[0]?.status === 'succeeded');
  await runTasks(h, clock);
  t.equal(await pointsOf(h), pointsBefore, 'no points taken back for an award that never landed');
  t.not(await statusOf(h, ordered.txnNo, `points-reverse:${refund.body.refundNo}`), 'done', 'the points reversal waits for the award');
  t.not(await statusOf(h, ordered.txnNo, `campaign-reverse:${refund.body.refundNo}`), 'done', 'the campaign reversal waits for the reward');

  // A person brings the systems back and retries what died, forward tasks first.
  await h.sims.faults.points.clear();
  await h.sims.faults.campaign.clear();
  for (const task of ['points-award', 'campaign', `points-reverse:${refund.body.refundNo}`, `campaign-reverse:${refund.body.refundNo}`]) {
    if ((await statusOf(h, ordered.txnNo, task)) === 'dead') await h.api('POST', `/admin/transactions/${ordered.txnNo}/tasks/${task}/retry`);
    await runTasks(h, clock, 3);
  }
  const tasks = await tasksOf(h, ordered.txnNo);
  t.same(tasks.filter((x) => x.status !== 'done').map((x) => x.task), [], 'every task done');
  t.equal(await pointsOf(h), pointsBefore, 'the award and its reversal cancel out');
  t.same(await rewardCoupons(h), [], 'no reward coupon kept for a sale refunded in full');
});
