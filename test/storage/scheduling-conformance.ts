import type { Test } from 'tap';
import { BullmqScheduler } from '../../runtime/bullmq-scheduler.ts';
import { TIMERS } from '../../machines/types.ts';
import type { TradeCenterConfig } from '../../runtime/trade-center.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { eventually, FUEL_SALE, orderedSale, startHarness, type Harness } from '../helpers/harness.ts';

/** The configuration of one backend for one test (a fresh Redis prefix, say). */
export type BackendConfig = (t: Test) => Partial<TradeCenterConfig>;

type TaskView = { task: string; status: string; attempts: number };
type WithTasks = TransactionView & { tasks: TaskView[] };

/** Real time, short: the timers and tasks are woken by the backend's own scheduler. */
const FAST: Partial<TradeCenterConfig> = {
  timerPollMs: 25,
  tasks: { pollMs: 25, baseBackoffMs: 30, maxBackoffMs: 200 },
  breaker: { afterFailures: 1000, halfOpenAfterMs: 10 },
  queryAfterMs: 60 * 60_000,
};

async function storedValueSale(h: Harness): Promise<WithTasks> {
  const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, userId: 'U4', paymentMethods: ['stored_value'] });
  const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-stored_value' });
  const paid = await h.api<WithTasks>('POST', `/v1/transactions/${started.body.txnNo}/payments`, { legs: [{ method: 'stored_value', cardNo: 'C1', amount: ordered.body.payableAmount }] });
  if (paid.status !== 200) throw new Error(`payment failed: ${JSON.stringify(paid.body)}`);
  return paid.body;
}

const view = (h: Harness, txnNo: string) => h.api<WithTasks>('GET', `/v1/transactions/${txnNo}`);

/**
 * The timer and task behaviours every backend's scheduler must show (polling SQLite, BullMQ on
 * Redis), through a real server with real time and short delays.
 */
export function schedulingConformance(t: Test, backend: BackendConfig): void {
  const start = (t: Test, config: Partial<TradeCenterConfig> = {}) => startHarness(t, { config: { ...FAST, ...backend(t), ...config } });

  // Deadlines of seconds, not milliseconds: a PAY that reaches a loaded machine after its deadline
  // is refused (issue 15), so a deadline shorter than a slow request would fail the sale, not the timer.
  t.test('a payment-expiry timer fires when due and cancels the unpaid payment', async (t) => {
    const h = await start(t, { paymentTtlMs: 3_000 });
    const ordered = await orderedSale(h.api, 'wechat');
    const paying = await h.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.payableAmount }] });
    t.equal(paying.body.state, 'paying');
    const done = await eventually(() => view(h, ordered.txnNo), (r) => r.body.state === 'cancelled');
    t.equal(done.body.outcome?.message, 'payment expired');
    t.equal(h.tc.sims!.systems.paymentGateway.peekPayment(paying.body.legs[0]!.paymentNo)?.status, 'closed');
  });

  t.test('a timer dropped because the state moved on never fires', async (t) => {
    const h = await start(t, { paymentTtlMs: 3_000 });
    const ordered = await orderedSale(h.api, 'wechat');
    const paying = await h.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.payableAmount }] });
    const dueAt = Date.parse(paying.body.expiresAt!);
    const jobId = BullmqScheduler.timerJobId(ordered.txnNo, TIMERS.paymentExpiry, dueAt);
    if (h.tc.scaleOut) t.ok(await h.tc.scaleOut.scheduler.timers.getJob(jobId), 'armed as a delayed job');
    await h.tc.sims!.gateway.pay(paying.body.legs[0]!.paymentNo);
    await eventually(() => view(h, ordered.txnNo), (r) => r.body.state === 'completed');
    if (h.tc.scaleOut) t.notOk(await h.tc.scaleOut.scheduler.timers.getJob(jobId), 'its job was removed');
    t.same((await h.tc.storage.snapshots.dueTimers(Number.MAX_SAFE_INTEGER, 100)).filter((x) => x.txnNo === ordered.txnNo), [], 'no timer row left');
    await new Promise((r) => setTimeout(r, Math.max(0, dueAt - Date.now()) + 300));
    const after = await view(h, ordered.txnNo);
    t.equal(after.body.state, 'completed', 'still completed after the old deadline');
    t.equal(after.body.legs[0]?.status, 'succeeded');
  });

  t.test('the post-payment tasks run once each', async (t) => {
    const h = await start(t);
    const sale = await storedValueSale(h);
    const done = await eventually(() => view(h, sale.txnNo), (r) => r.body.tasks.length > 0 && r.body.tasks.every((x) => x.status === 'done'));
    t.equal(done.body.tasks.length, 8);
    const effects = (system: string, verb: string) => h.tc.sims!.store.effects({ system: system as 'settlement', verb }).length;
    t.equal(effects('settlement', 'record'), 1);
    t.equal(effects('invoice', 'issue'), 1);
  });

  t.test('a failing task is retried with backoff until its system recovers', async (t) => {
    const h = await start(t);
    h.tc.sims!.faults.settlement.configure({ record: { failNext: 2 } });
    const sale = await storedValueSale(h);
    const done = await eventually(() => view(h, sale.txnNo), (r) => r.body.tasks.find((x) => x.task === 'settlement')?.status === 'done');
    t.equal(done.body.tasks.find((x) => x.task === 'settlement')?.attempts, 3, 'two failures, then success');
    t.equal(h.tc.sims!.store.effects({ system: 'settlement', verb: 'record' }).length, 1);
  });

  t.test('a task out of attempts is dead and listed; a manual retry after recovery finishes it', async (t) => {
    const h = await start(t);
    h.tc.sims!.faults.push.configure({ '*': { outage: true } });
    const sale = await storedValueSale(h);
    // The task's row turns dead first; the transaction hears of it (needsAttention) in a write of its own.
    const dead = await eventually(() => view(h, sale.txnNo), (r) => r.body.tasks.find((x) => x.task === 'push')?.status === 'dead' && r.body.needsAttention);
    t.equal(dead.body.tasks.find((x) => x.task === 'push')?.attempts, 3);
    t.equal(dead.body.needsAttention, true);
    // On BullMQ the job is failed once its run has returned, just after the row was written.
    const listed = await eventually(() => h.api<{ items: { txnNo: string; task: string }[] }>('GET', '/admin/tasks/dead'), (r) => r.body.items.length > 0);
    t.same(listed.body.items.map((i) => `${i.txnNo}:${i.task}`), [`${sale.txnNo}:push`], 'visible to the admin API');
    if (h.tc.scaleOut) {
      const queues = await h.api<{ queues: { tasks: { failed: number } } }>('GET', '/admin/queues');
      t.equal(queues.body.queues.tasks.failed, 1, 'a failed job in the task queue');
    }
    h.tc.sims!.faults.push.clear();
    const retried = await h.api<{ task: TaskView }>('POST', `/admin/transactions/${sale.txnNo}/tasks/push/retry`);
    t.equal(retried.status, 200);
    t.equal(retried.body.task.status, 'done');
    t.same((await h.api<{ items: unknown[] }>('GET', '/admin/tasks/dead')).body.items, [], 'no longer dead');
    const after = await eventually(() => view(h, sale.txnNo), (r) => !r.body.needsAttention);
    t.equal(after.body.needsAttention, false);
  });
}
