import t from 'tap';
import type { RefundView } from '../../machines/types.ts';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { runTimersUntil } from '../helpers/durable-timers.ts';
import { eventually, FUEL_SALE, startHarness, type Harness } from '../helpers/harness.ts';

type ErrorBody = { error: { code: string; message: string } };
type RefundAnswer = { refundNo: string; refund: RefundView; transaction: TransactionView };

const NOON = Date.parse('2026-11-25T12:00:00+08:00');
const CARD_LEG = 20_000;

const view = (h: Harness, txnNo: string) => h.api<TransactionView>('GET', `/v1/transactions/${txnNo}`);

/** U1 pays 300 yuan of 92# with CP2 and 2800 points: 200 yuan by card C1, the rest by wechat. */
async function mixedSale(h: Harness): Promise<TransactionView> {
  const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'], usePoints: true });
  const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-wechat' });
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/payments`, {
    legs: [
      { method: 'stored_value', cardNo: 'C1', amount: CARD_LEG },
      { method: 'wechat', amount: ordered.body.payableAmount - CARD_LEG },
    ],
  });
  await h.sims.gateway.pay(paying.body.legs[1]!.paymentNo);
  return (await eventually(() => view(h, started.body.txnNo), (r) => r.body.state === 'completed')).body;
}

async function refundSettled(h: Harness, txnNo: string, refundNo: string): Promise<RefundView> {
  const done = await eventually(
    () => h.api<RefundView>('GET', `/v1/transactions/${txnNo}/refunds/${refundNo}`),
    (r) => r.body.status === 'succeeded' || r.body.status === 'attention',
  );
  return done.body;
}

/** Runs the post-payment tasks of a transaction until none is left pending. */
async function drainTasks(h: Harness, txnNo: string) {
  for (let i = 0; i < 20; i++) {
    await h.tc.host.settle();
    await h.tc.tasks.runDue();
    const tasks = (await h.tc.storage.tasks.tasksOf(txnNo)).filter((x) => x.status === 'pending' || x.status === 'running');
    if (tasks.length === 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('tasks still pending');
}

async function ledgers(h: Harness) {
  const s = h.sims.systems;
  return { card: (await s.storedValue.peekCard('C1'))!.availableFen, points: (await s.points.peekPointsAccount('U1'))!.balance, cp2: (await s.coupon.peekCoupon('CP2'))!.status };
}

t.test('a mixed-paid order refunded in three parts puts every ledger back where it started', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const before = await ledgers(h);
  const sale = await mixedSale(h);
  await drainTasks(h, sale.txnNo);
  const awarded = Math.floor(sale.paidAmount / 100);
  t.same(await ledgers(h), { card: before.card - CARD_LEG, points: before.points - 2800 + awarded, cp2: 'used' }, 'paid, with a point per yuan awarded');
  const wechatPayment = sale.legs[1]!.paymentNo;

  const parts = [5000, 5000, undefined];
  for (const amount of parts) {
    const res = await h.api<RefundAnswer>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { ...(amount ? { amount } : {}), reason: 'returned' });
    t.equal(res.status, 202);
    t.match(res.body.refundNo, /^R/);
    const settled = await refundSettled(h, sale.txnNo, res.body.refundNo);
    t.equal(settled.status, 'succeeded');
    t.equal(settled.legs.reduce((a, l) => a + l.amount, 0), settled.amount, 'the legs add up to the refund');
  }
  // The points awarded for the purchase and their reversal are tasks: let them all finish first.
  await drainTasks(h, sale.txnNo);
  const after = (await view(h, sale.txnNo)).body;
  t.equal(after.refundedAmount, sale.paidAmount);
  t.equal(after.state, 'completed', 'refunds do not change the state');
  t.same(await ledgers(h), { ...before, cp2: 'available' }, 'card, points and coupon back where they started');
  t.equal((await h.sims.systems.paymentGateway.peekPayment(wechatPayment))?.refundedFen, sale.payableAmount - CARD_LEG, 'wechat refunded in full');
  t.same(after.refunds.map((r) => r.pointsReturned), [555, 556, 1689], 'points go back in proportion to the cumulative refund, floored');

  const more = await h.api<ErrorBody>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { amount: 1, reason: 'again' });
  t.equal(more.status, 422);
  t.equal(more.body.error.code, 'REFUND_EXCEEDS_PAID');
});

t.test('50 concurrent partial refunds asking for more than was paid: the accepted ones fit, the ledgers agree', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const sale = await mixedSale(h);
  const cardBefore = (await h.sims.systems.storedValue.peekCard('C1'))!.availableFen;
  const answers = await Promise.all(
    Array.from({ length: 50 }, () => h.api<RefundAnswer & ErrorBody>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { amount: 1000, reason: 'rush' })),
  );
  const accepted = answers.filter((a) => a.status === 202);
  const refused = answers.filter((a) => a.status === 422);
  t.equal(accepted.length, Math.floor(sale.paidAmount / 1000));
  t.equal(refused.length, 50 - accepted.length);
  t.ok(refused.every((r) => r.body.error.code === 'REFUND_EXCEEDS_PAID'));
  for (const a of accepted) await refundSettled(h, sale.txnNo, a.body.refundNo);
  const after = (await view(h, sale.txnNo)).body;
  t.equal(after.refundedAmount, accepted.length * 1000);
  const toCard = (await h.sims.systems.storedValue.peekCard('C1'))!.availableFen - cardBefore;
  const toWechat = (await h.sims.systems.paymentGateway.peekPayment(sale.legs[1]!.paymentNo))!.refundedFen;
  t.equal(toCard + toWechat, after.refundedAmount, 'what the card and wechat got back is what was refunded');
});

t.test('refund callbacks: duplicated change nothing, lost ones are recovered by the query', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock });
  const sale = await mixedSale(h);
  await h.sims.gateway.configureCallbacks({ duplicateCallbacks: 3 });
  const first = await h.api<RefundAnswer>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { amount: 5000, reason: 'dup' });
  t.equal((await refundSettled(h, sale.txnNo, first.body.refundNo)).status, 'succeeded');

  await h.sims.gateway.configureCallbacks({ duplicateCallbacks: 1, dropCallbacks: true });
  const second = await h.api<RefundAnswer>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { amount: 5000, reason: 'lost' });
  await h.tc.host.settle();
  t.equal((await h.api<RefundView>('GET', `/v1/transactions/${sale.txnNo}/refunds/${second.body.refundNo}`)).body.status, 'processing', 'no callback: still waiting');
  // Silence: the leg queries after queryAfterMs, then again with backoff until the gateway says done.
  const status = () => h.api<RefundView>('GET', `/v1/transactions/${sale.txnNo}/refunds/${second.body.refundNo}`);
  for (let i = 0; i < 10 && (await status()).body.status === 'processing'; i++) {
    clock.advance(h.tc.config.queryAfterMs * 2 ** i);
    await h.tc.host.fireDueTimers();
    await h.tc.host.settle();
    await new Promise((r) => setTimeout(r, 20));
  }
  t.equal((await refundSettled(h, sale.txnNo, second.body.refundNo)).status, 'succeeded', 'the query found it done');
  t.equal((await h.sims.store.effects({ system: 'paymentGateway', verb: 'refundPayment' })).length, 2, 'one gateway refund per refund');
});

t.test('a refund the gateway keeps failing is retried through the backoff, then waits for a person without losing the amount', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock });
  const sale = await mixedSale(h);
  await h.sims.gateway.configureCallbacks({ failRefunds: true });
  const res = await h.api<RefundAnswer>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { reason: 'all' });
  const settled = (
    await runTimersUntil(h, clock, () => h.api<RefundView>('GET', `/v1/transactions/${sale.txnNo}/refunds/${res.body.refundNo}`), (r) => r.body.status !== 'processing' && r.body.status !== 'requested')
  ).body;
  t.equal(settled.status, 'attention');
  t.same(settled.legs.map((l) => [l.method, l.status]), [['stored_value', 'succeeded'], ['wechat', 'attention']]);
  const after = (await view(h, sale.txnNo)).body;
  t.equal(after.needsAttention, true);
  t.equal(after.refundedAmount, sale.paidAmount, 'the amount stays owed on the refund, not forgotten');
  t.equal((await h.sims.systems.paymentGateway.peekRefunds(sale.legs[1]!.paymentNo)).length, 1, 'one refund number, asked again at the gateway');
});

t.test('a top-up refund is refused once the credited balance has been spent', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const cards = h.sims.systems.storedValue;
  const before = (await cards.peekCard('C4'))!.availableFen;
  const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, userId: 'U4', items: [{ type: 'stored_value', cardNo: 'C4', amount: 50_000 }], paymentMethods: ['wechat'] });
  const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-wechat' });
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.body.payableAmount }] });
  await h.sims.gateway.pay(paying.body.legs[0]!.paymentNo);
  await eventually(() => view(h, started.body.txnNo), (r) => r.body.state === 'completed');
  t.equal((await cards.peekCard('C4'))!.availableFen, before + 55_000, 'the top-up and its bonus were credited after payment');

  await cards.lock({ txnNo: 'T-SPEND', step: 'l' }, { lockKey: 'spend', cardNo: 'C4', amountFen: before + 20_000 });
  await cards.confirm({ txnNo: 'T-SPEND', step: 'c' }, { lockKey: 'spend' });
  const refused = await h.api<ErrorBody>('POST', `/v1/transactions/${started.body.txnNo}/refunds`, { reason: 'changed my mind' });
  t.equal(refused.status, 422);
  t.equal(refused.body.error.code, 'INSUFFICIENT_BALANCE');
  t.match(refused.body.error.message, /spent/);
  t.equal((await h.sims.systems.paymentGateway.peekPayment(paying.body.legs[0]!.paymentNo))?.refundedFen, 0, 'no money went back');
  t.equal((await view(h, started.body.txnNo)).body.refundedAmount, 0);
});

t.test('a refund before payment is INVALID_STATE; bad refund input is refused', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const started = await h.api<TransactionView>('POST', '/v1/transactions', FUEL_SALE);
  const early = await h.api<ErrorBody>('POST', `/v1/transactions/${started.body.txnNo}/refunds`, { reason: 'too early' });
  t.equal(early.status, 409);
  t.equal(early.body.error.code, 'INVALID_STATE');
  const sale = await mixedSale(h);
  t.equal((await h.api('POST', `/v1/transactions/${sale.txnNo}/refunds`, { amount: 0, reason: 'x' })).status, 400);
  t.equal((await h.api('POST', `/v1/transactions/${sale.txnNo}/refunds`, { amount: 100 })).status, 400, 'a reason is required');
  const tooMuch = await h.api<ErrorBody>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { amount: sale.paidAmount + 1, reason: 'x' });
  t.equal(tooMuch.body.error.code, 'REFUND_EXCEEDS_PAID');
  const byLine = await h.api<RefundAnswer>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { lines: [{ lineNo: 1, amount: 3000 }], reason: 'pump stopped early' });
  t.equal(byLine.status, 202);
  t.equal(byLine.body.refund.amount, 3000);
});

t.test('with a priority policy the card is refunded before wechat', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON), config: { refundPolicy: { kind: 'priority', order: ['stored_value', 'wechat'] } } });
  const sale = await mixedSale(h);
  const first = await h.api<RefundAnswer>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { amount: 15_000, reason: 'priority' });
  t.same(first.body.refund.legs.map((l) => [l.method, l.amount]), [['stored_value', 15_000]]);
  const second = await h.api<RefundAnswer>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { amount: 8_000, reason: 'priority' });
  t.same(second.body.refund.legs.map((l) => [l.method, l.amount]), [['stored_value', 5_000], ['wechat', 3_000]]);
});

t.test('a full refund reverses settlement, invoice and rewards: the reward coupon is revoked', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock });
  const sale = await mixedSale(h);
  await h.tc.tasks.runDue();
  const rewards = async () => (await h.sims.systems.coupon.peekCoupons('U1')).filter((c) => c.couponId.startsWith('CP-'));
  t.equal((await rewards()).length, 1, 'spending over 200 yuan earned a reward coupon');
  const res = await h.api<RefundAnswer>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { reason: 'everything back' });
  await refundSettled(h, sale.txnNo, res.body.refundNo);
  await h.tc.host.settle();
  await h.tc.tasks.runDue();
  const tasks = (await h.api<TransactionView & { tasks: { task: string; status: string }[] }>('GET', `/v1/transactions/${sale.txnNo}`)).body.tasks;
  const reversals = tasks.filter((x) => x.task.endsWith(res.body.refundNo));
  t.same(reversals.map((x) => [x.task.split(':')[0], x.status]), [
    ['order-refunded', 'done'],
    ['settlement-reverse', 'done'],
    ['invoice-reverse', 'done'],
    ['marketing-reverse', 'done'],
    ['points-reverse', 'done'],
    ['growth-reverse', 'done'],
    ['campaign-reverse', 'done'],
  ]);
  t.same(await rewards(), [], 'the reward coupon was revoked');
  t.equal((await h.sims.store.effects({ system: 'settlement', verb: 'reverse' })).length, 1);
  t.equal((await h.sims.store.effects({ system: 'order', verb: 'markRefunded' })).length, 1, 'the order system learned of the refund');
});

t.test('a reversal refused because its record is not there yet asks again under a new key and lands', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock });
  await h.sims.faults.settlement.configure({ record: { outage: true } });
  const sale = await mixedSale(h);
  const res = await h.api<RefundAnswer>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { amount: 5000, reason: 'early refund' });
  await refundSettled(h, sale.txnNo, res.body.refundNo);
  await h.tc.host.settle();
  await h.tc.tasks.runDue();
  type Tasks = TransactionView & { tasks: { task: string; status: string; lastError: string | null }[] };
  const reverse = (v: Tasks) => v.tasks.find((x) => x.task === `settlement-reverse:${res.body.refundNo}`);
  const first = (await h.api<Tasks>('GET', `/v1/transactions/${sale.txnNo}`)).body;
  t.match(reverse(first)?.lastError, /RECORD_NOT_FOUND/, 'refused: nothing to reverse yet');
  await h.sims.faults.settlement.clear();
  for (let i = 0; i < 10 && reverse((await h.api<Tasks>('GET', `/v1/transactions/${sale.txnNo}`)).body)?.status !== 'done'; i++) {
    clock.advance(10 * 60_000);
    await h.tc.tasks.runDue();
  }
  const done = (await h.api<Tasks>('GET', `/v1/transactions/${sale.txnNo}`)).body;
  t.equal(reverse(done)?.status, 'done', 'the retry was a new question, not the stored refusal');
  t.equal((await h.sims.store.effects({ system: 'settlement', verb: 'reverse' })).length, 1);
});

t.test('issue 15: points the points system refuses to take back leave the refund in attention, recorded, with the money paid back', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const sale = await mixedSale(h);
  await h.sims.systems.points.closeAccount('U1');
  const res = await h.api<RefundAnswer>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { reason: 'returned' });
  t.equal(res.status, 202);
  const settled = await refundSettled(h, sale.txnNo, res.body.refundNo);
  t.equal(settled.status, 'attention');
  t.match(settled.benefitRefusals, [{ system: 'points', points: 2800, code: 'ACCOUNT_NOT_FOUND' }], 'the refusal is recorded with the points still owed');
  t.same(settled.legs.map((l) => l.status), ['succeeded', 'succeeded'], 'the money went back regardless');
  t.same(settled.couponsRestored, ['CP2'], 'the coupon went back too');
  const after = (await view(h, sale.txnNo)).body;
  t.equal(after.needsAttention, true, 'the transaction waits for a person');
  t.equal(after.refundedAmount, sale.paidAmount);
});

t.test('issue 15: a coupon the coupon system refuses to take back leaves the refund in attention, recorded, with the points returned', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const before = await ledgers(h);
  const sale = await mixedSale(h);
  await h.sims.systems.coupon.withdraw('CP2');
  const res = await h.api<RefundAnswer>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { reason: 'returned' });
  const settled = await refundSettled(h, sale.txnNo, res.body.refundNo);
  t.equal(settled.status, 'attention');
  t.match(settled.benefitRefusals, [{ system: 'coupon', couponIds: ['CP2'], code: 'COUPON_NOT_FOUND' }]);
  t.same(settled.couponsRestored, []);
  t.equal((await h.sims.systems.points.peekPointsAccount('U1'))!.balance - (before.points - 2800), 2800, 'the points went back');
  t.equal((await view(h, sale.txnNo)).body.needsAttention, true);
});

t.test('issue 15: a refund whose points and coupon went back has no refusals and flags nothing', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const sale = await mixedSale(h);
  const res = await h.api<RefundAnswer>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { reason: 'returned' });
  const settled = await refundSettled(h, sale.txnNo, res.body.refundNo);
  t.equal(settled.status, 'succeeded');
  t.equal(settled.benefitRefusals, undefined);
  t.equal((await view(h, sale.txnNo)).body.needsAttention, false);
});
