import t from 'tap';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { eventually, FUEL_SALE, startHarness } from '../helpers/harness.ts';

type ErrorBody = { error: { code: string; message: string } };

const NOON = Date.parse('2026-11-25T12:00:00+08:00');

t.test('the order system failing mark-paid 20 times: retried until it succeeds, and an alert is raised', async (t) => {
  const clock = new ManualClock(NOON);
  // The order system's circuit opens on the way; it lets a call through again after 10 ms (real time).
  const h = await startHarness(t, { clock, config: { breaker: { afterFailures: 5, halfOpenAfterMs: 10 } } });
  await h.sims.faults.order.configure({ markPaid: { failNext: 20 } });
  const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['stored_value'] });
  const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-stored_value' });
  const paid = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/payments`, { legs: [{ method: 'stored_value', cardNo: 'C1', amount: ordered.body.payableAmount }] });
  t.equal(paid.status, 200, 'the payment is answered: the money is in');
  t.equal(paid.body.state, 'paid', 'paid, still telling the order system');
  await h.drive.runDueTasks();
  const meanwhile = await h.api<TransactionView & { tasks: { task: string; status: string }[] }>('GET', `/v1/transactions/${started.body.txnNo}`);
  t.equal(meanwhile.body.tasks.find((x) => x.task === 'settlement')?.status, 'done', 'the post-payment tasks do not wait for the order system');
  for (let i = 0; i < 100; i++) {
    clock.advance(10 * 60_000);
    await h.drive.fireDueTimers();
    await h.drive.settle();
    const v = await h.api<TransactionView>('GET', `/v1/transactions/${started.body.txnNo}`);
    if (v.body.state === 'completed') break;
    await new Promise((r) => setTimeout(r, 15));
  }
  const done = await eventually(() => h.api<TransactionView>('GET', `/v1/transactions/${started.body.txnNo}`), (r) => r.body.state === 'completed');
  t.equal(done.body.state, 'completed');
  t.equal((await h.sims.systems.order.peekOrder(ordered.body.orderNo!))?.status, 'paid');
  t.equal((await h.sims.faults.order.current()).markPaid?.failNext, 0, 'all 20 failures were met by real calls');
  t.ok((await h.drive.alerts()) >= 1, 'an alert was raised while it kept failing');
});

t.test('the order system down before payment: 503 and nothing left locked', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const s = h.sims.systems;
  const before = { coupons: (await s.coupon.peekCoupons('U1')).map((c) => c.status), points: await s.points.peekPointsAccount('U1') };
  const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'], usePoints: true });
  await h.sims.faults.order.configure({ '*': { outage: true } });
  const refused = await h.api<ErrorBody>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-wechat' });
  t.equal(refused.status, 503);
  t.equal(refused.body.error.code, 'CORE_SYSTEM_UNAVAILABLE');
  t.same({ coupons: (await s.coupon.peekCoupons('U1')).map((c) => c.status), points: await s.points.peekPointsAccount('U1') }, before, 'the coupon and points locked first were released');
  t.equal((await h.api<TransactionView>('GET', `/v1/transactions/${started.body.txnNo}`)).body.state, 'quoted');
});

type TaskView = { task: string; status: string; attempts: number; lastError: string | null };
type ViewWithTasks = TransactionView & { tasks: TaskView[] };

const NON_CORE = ['promotion', 'marketing', 'campaign', 'push', 'invoice', 'notify', 'level'] as const;

/** A completed stored-value sale of 300 yuan for U4 (no coupons), at S1. */
async function completedSale(h: Awaited<ReturnType<typeof startHarness>>, scene = 'merchant_pos'): Promise<ViewWithTasks> {
  const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, scene, userId: 'U4', paymentMethods: ['stored_value'] });
  const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-stored_value' });
  await h.api('POST', `/v1/transactions/${started.body.txnNo}/payments`, { legs: [{ method: 'stored_value', cardNo: 'C1', amount: ordered.body.payableAmount }] });
  return (await eventually(() => h.api<ViewWithTasks>('GET', `/v1/transactions/${started.body.txnNo}`), (r) => r.body.state === 'completed')).body;
}

/** Runs due tasks with the clock moved on, until `check` holds. */
async function runTasksUntil(h: Awaited<ReturnType<typeof startHarness>>, clock: ManualClock, txnNo: string, check: (tasks: TaskView[]) => boolean) {
  for (let i = 0; i < 40; i++) {
    await h.drive.runDueTasks();
    const v = await h.api<ViewWithTasks>('GET', `/v1/transactions/${txnNo}`);
    if (check(v.body.tasks)) return v.body;
    clock.advance(10 * 60_000);
  }
  throw new Error('tasks did not get there');
}

t.test('with the non-core systems all failing, a sale completes and its tasks succeed once they recover', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock, config: { breaker: { afterFailures: 1000, halfOpenAfterMs: 10 } } });
  for (const system of NON_CORE) await h.sims.faults[system].configure({ '*': { outage: true } });
  const sale = await completedSale(h);
  t.same(sale.quote.degraded, ['level', 'promotion'], 'the quote went on without them');
  const first = await runTasksUntil(h, clock, sale.txnNo, (tasks) => tasks.some((x) => x.attempts > 0));
  t.ok(first.tasks.filter((x) => ['marketing', 'campaign', 'push', 'invoice', 'notify', 'growth'].includes(x.task)).every((x) => x.status === 'pending' && x.lastError), 'failing tasks wait to retry');
  t.equal(first.tasks.find((x) => x.task === 'settlement')?.status, 'done', 'settlement was up');

  for (const system of NON_CORE) await h.sims.faults[system].clear();
  const done = await runTasksUntil(h, clock, sale.txnNo, (tasks) => tasks.every((x) => x.status === 'done' || x.status === 'dead'));
  t.same(done.tasks.filter((x) => x.status !== 'done'), [], 'every task succeeded once its system recovered');
  t.equal(done.needsAttention, false);
  const effects = async (system: string, verb: string) => (await h.sims.store.effects({ system: system as 'marketing', verb })).length;
  t.equal(await effects('marketing', 'record'), 1);
  t.equal(await effects('invoice', 'issue'), 1);
  t.equal(await effects('settlement', 'record'), 1);
  t.equal(await effects('level', 'addGrowth'), 1);
  t.equal(await effects('push', 'notify'), 1);
  t.equal(await effects('notify', 'send'), 1);
  t.equal(await effects('campaign', 'reward'), 1, 'spend over 200 yuan earns the campaign reward');
  t.equal(await effects('coupon', 'issue'), 1, 'its reward coupon issued once');
  t.equal(await effects('points', 'award'), 0, 'U4 has no points account: nothing to award, and that is done');
});

t.test('settlement down past its attempts: dead, needsAttention, listed; a manual retry after recovery clears it', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock, config: { breaker: { afterFailures: 1000, halfOpenAfterMs: 10 } } });
  await h.sims.faults.settlement.configure({ '*': { outage: true } });
  const sale = await completedSale(h);
  const dead = await runTasksUntil(h, clock, sale.txnNo, (tasks) => tasks.find((x) => x.task === 'settlement')?.status === 'dead');
  t.equal(dead.tasks.find((x) => x.task === 'settlement')?.attempts, 8);
  t.equal(dead.needsAttention, true);
  const listed = await h.api<{ items: { txnNo: string }[] }>('GET', '/admin/transactions?needsAttention=true');
  t.same(listed.body.items.map((i) => i.txnNo), [sale.txnNo], 'visible in the admin list');

  const tooSoon = await h.api<{ error: { code: string } }>('POST', `/admin/transactions/${sale.txnNo}/tasks/invoice/retry`);
  t.equal(tooSoon.status, 409, 'only a dead task can be retried');
  await h.sims.faults.settlement.clear();
  const retried = await h.api<{ task: TaskView }>('POST', `/admin/transactions/${sale.txnNo}/tasks/settlement/retry`);
  t.equal(retried.status, 200);
  t.equal(retried.body.task.status, 'done');
  const after = await h.api<ViewWithTasks>('GET', `/v1/transactions/${sale.txnNo}`);
  t.equal(after.body.needsAttention, false, 'the flag is cleared');
  t.same((await h.api<{ items: unknown[] }>('GET', '/admin/transactions?needsAttention=true')).body.items, []);
  t.equal((await h.api('POST', `/admin/transactions/${sale.txnNo}/tasks/settlement/retry`, undefined, { authorization: 'Bearer nope' })).status, 401);
});

t.test('a circuit breaker opens under repeated failure and closes after recovery', async (t) => {
  const clock = new ManualClock(NOON);
  // The breaker half-opens after real time, not the test clock: long enough for the calls below
  // to finish inside it even over HTTP, where each takes a few ms.
  const h = await startHarness(t, { clock, config: { breaker: { afterFailures: 3, halfOpenAfterMs: 1_000 } } });
  const invoice = h.sims.faults.invoice;
  await invoice.configure({ '*': { failNext: 100 } });
  await completedSale(h);
  await completedSale(h);
  const reached = async () => 100 - ((await invoice.current())['*']?.failNext ?? 0);
  for (let i = 0; i < 10 && (await h.drive.breaker('invoice')) !== 'open'; i++) {
    clock.advance(10 * 60_000);
    await h.drive.runDueTasks();
  }
  t.equal((await h.drive.breaker('invoice')), 'open');
  const whenOpened = await reached();
  t.ok(whenOpened >= 3 && whenOpened <= 4, 'opened after 3 failures in a row (one more may have been in flight)');
  for (let i = 0; i < 3; i++) {
    clock.advance(10 * 60_000);
    await h.drive.runDueTasks();
  }
  t.equal(await reached(), whenOpened, 'while open, calls stop reaching the invoice system');
  await invoice.clear();
  await new Promise((r) => setTimeout(r, 1_100));
  clock.advance(10 * 60_000);
  await h.drive.runDueTasks();
  t.equal((await h.drive.breaker('invoice')), 'closed', 'a trial call succeeded: closed again');
});

t.test('a virtual item is delivered after payment by the fulfilment hook its code names, once', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock });
  const unknown = await h.api<ErrorBody>('POST', '/v1/transactions', { ...FUEL_SALE, userId: 'U4', items: [{ type: 'virtual', code: 'moon-trip', name: 'A trip to the moon', amount: 100 }] });
  t.equal(unknown.status, 400, 'nothing can deliver it: refused before anyone pays');
  const started = await h.api<TransactionView>('POST', '/v1/transactions', {
    ...FUEL_SALE,
    userId: 'U4',
    items: [{ type: 'virtual', code: 'wash-voucher', name: 'Car-wash voucher', amount: 1500 }],
    paymentMethods: ['wechat'],
  });
  t.equal(started.status, 201);
  const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-wechat' });
  t.equal(ordered.body.payableAmount, 1500);
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/payments`, { legs: [{ method: 'wechat', amount: 1500 }] });
  await h.sims.gateway.pay(paying.body.legs[0]!.paymentNo);
  await eventually(() => h.api<TransactionView>('GET', `/v1/transactions/${started.body.txnNo}`), (r) => r.body.state === 'completed');
  const done = await runTasksUntil(h, clock, started.body.txnNo, (tasks) => tasks.find((x) => x.task === 'fulfil:1')?.status === 'done');
  t.ok(done.tasks.some((x) => x.task === 'fulfil:1'));
  const vouchers = await h.sims.systems.coupon.peekCoupons('U4');
  t.equal(vouchers.length, 1, 'the voucher is in the member’s wallet');
  await h.drive.runDueTasks();
  t.equal((await h.sims.systems.coupon.peekCoupons('U4')).length, 1, 'delivered once');
});
