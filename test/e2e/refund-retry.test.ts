import t from 'tap';
import { CAPTURE_AFTER_CLOSE_GRACE_MS, QUERIES_AFTER_CLOSE_MS } from '../../machines/payment-leg.machine.ts';
import type { RefundView } from '../../machines/types.ts';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { runTimersUntil } from '../helpers/durable-timers.ts';
import { eventually, orderedSale, startHarness, type Harness } from '../helpers/harness.ts';

/**
 * Issue 15, points 3 and 4: money a channel holds for a moment too long is not stranded. A refund
 * or give-back the channel fails is asked again on a backoff of durable timers and waits for a
 * person only once the backoff is spent; a nudge re-drives it. A payment captured after its close
 * whose callback is lost is found by the query after the close (or a nudge) and given back.
 */

const NOON = Date.parse('2026-11-25T12:00:00+08:00');
const HOUR = 3_600_000;
type RefundAnswer = { refundNo: string; refund: RefundView };

const view = async (h: Harness, txnNo: string) => (await h.api<TransactionView>('GET', `/v1/transactions/${txnNo}`)).body;
const gatewayRefunds = (h: Harness, paymentNo: string) => h.sims.systems.paymentGateway.peekRefunds(paymentNo);
const refundsAskedAgain = async (h: Harness) => (await h.sims.store.effects({ system: 'paymentGateway', verb: 'refundPayment' })).filter((e) => e.detail === 'retry').length;
/** When a refund leg waiting to ask again is due, if one is. */
const armedRetry = (h: Harness) => async () => (await h.tc.storage.snapshots.dueTimers(Number.MAX_SAFE_INTEGER, 100)).find((timer) => timer.name.endsWith('/retry'))?.dueAt ?? null;
/** How long the channel fails refunds in the tests of a passing fault. */
const FAULT_MS = 3_000;

/**
 * The channel keeps failing while the platform's timers move the clock `ms` past `from`: only a
 * refund still waiting on a durable timer gets there (one given up on arms none).
 */
const failingFor = (h: Harness, clock: ManualClock, from: number, ms: number) => runTimersUntil(h, clock, async () => clock.now() - from, (elapsed) => elapsed >= ms, 20_000);
const nudge = (h: Harness, txnNo: string) => h.api<TransactionView>('POST', `/admin/transactions/${txnNo}/nudge`);

/** A completed wechat sale: its payment number and what it paid. */
async function wechatSale(h: Harness): Promise<{ txnNo: string; paymentNo: string; paidFen: number }> {
  const ordered = await orderedSale(h.api, 'wechat');
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.payableAmount }] });
  const paymentNo = paying.body.legs[0]!.paymentNo;
  await h.sims.gateway.pay(paymentNo);
  await eventually(() => view(h, ordered.txnNo), (v) => v.state === 'completed');
  return { txnNo: ordered.txnNo, paymentNo, paidFen: ordered.payableAmount };
}

/** Wechat captures 100 yuan, then alipay fails: the sale fails and the wechat money must go back. */
async function failedAfterCapture(h: Harness): Promise<{ txnNo: string; paymentNo: string }> {
  const ordered = await orderedSale(h.api, 'wechat');
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, {
    legs: [
      { method: 'wechat', amount: 10_000 },
      { method: 'alipay', amount: ordered.payableAmount - 10_000 },
    ],
  });
  const [wechat, alipay] = paying.body.legs;
  await h.sims.gateway.pay(wechat!.paymentNo);
  await eventually(() => view(h, ordered.txnNo), (v) => v.legs[0]?.status === 'succeeded');
  await h.sims.gateway.fail(alipay!.paymentNo);
  await eventually(() => view(h, ordered.txnNo), (v) => v.state === 'failed');
  return { txnNo: ordered.txnNo, paymentNo: wechat!.paymentNo };
}

/** A wechat sale cancelled while its payment was pending: the leg is closed at the gateway. */
async function cancelledWhilePending(h: Harness): Promise<{ txnNo: string; paymentNo: string; amountFen: number }> {
  const ordered = await orderedSale(h.api, 'wechat');
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.payableAmount }] });
  const cancelled = await h.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/cancel`, {});
  if (cancelled.body.state !== 'cancelled') throw new Error(JSON.stringify(cancelled.body));
  return { txnNo: ordered.txnNo, paymentNo: paying.body.legs[0]!.paymentNo, amountFen: ordered.payableAmount };
}

t.test('issue 15: a refund whose channel fails refunds for a few seconds ends paid back', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock });
  const sale = await wechatSale(h);
  await h.sims.gateway.configureCallbacks({ failRefunds: true });
  const asked = clock.now();
  const res = await h.api<RefundAnswer>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { reason: 'changed my mind' });
  t.ok(res.status < 300, `the refund is taken on (${res.status})`);
  const retry = await eventually(armedRetry(h), (due) => due !== null);
  t.ok(retry! - asked <= 5_000, `asked again ${retry! - asked} ms later, on a durable timer`);
  await failingFor(h, clock, asked, FAULT_MS);
  t.ok((await refundsAskedAgain(h)) >= 1, 'asked again while the channel was failing');
  await h.sims.gateway.configureCallbacks({ failRefunds: false });

  const refund = await runTimersUntil(h, clock, async () => (await view(h, sale.txnNo)).refunds[0], (r) => r?.status !== 'processing');
  t.equal(refund?.status, 'succeeded');
  t.same(refund?.legs.map((l) => l.status), ['succeeded']);
  t.ok(clock.now() - asked < 5 * 60_000, 'paid back within minutes of the request, not hours');
  const atGateway = await gatewayRefunds(h, sale.paymentNo);
  t.same(atGateway.map((r) => r.status), ['succeeded'], 'one refund number, paid back by the channel');
  t.equal((await h.sims.systems.paymentGateway.peekPayment(sale.paymentNo))?.refundedFen, sale.paidFen, 'refunded once, in full');
  t.equal((await view(h, sale.txnNo)).needsAttention, false);
});

t.test('issue 15: a give-back whose channel fails refunds for a few seconds ends paid back', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock });
  await h.sims.gateway.configureCallbacks({ failRefunds: true });
  const started = clock.now();
  const { txnNo, paymentNo } = await failedAfterCapture(h);
  // The give-back's first ask may still be in flight on a busy machine: let it fail and arm its
  // retry before the clock moves, or the clock could jump past the fault to another timer first.
  await eventually(armedRetry(h), (due) => due !== null);
  await failingFor(h, clock, started, FAULT_MS);
  t.ok((await refundsAskedAgain(h)) >= 1, 'asked again while the channel was failing');
  await h.sims.gateway.configureCallbacks({ failRefunds: false });

  const done = await runTimersUntil(h, clock, () => view(h, txnNo), (v) => v.legs[0]?.status === 'refunded' || v.needsAttention);
  t.equal(done.legs[0]?.status, 'refunded');
  t.same(done.legs[0]?.giveBack, { refundNo: `${paymentNo}-C`, status: 'succeeded' });
  t.equal(done.needsAttention, false);
  t.ok(clock.now() - started < 5 * 60_000, 'given back within minutes, not hours');
  t.same((await gatewayRefunds(h, paymentNo)).map((r) => r.status), ['succeeded']);
});

t.test('issue 15: a refund waits for a person only once its backoff of hours is spent, and a nudge re-drives it to paid back', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock });
  const sale = await wechatSale(h);
  await h.sims.gateway.configureCallbacks({ failRefunds: true });
  const asked = clock.now();
  const res = await h.api<RefundAnswer>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { reason: 'changed my mind' });
  const stuck = await runTimersUntil(h, clock, () => view(h, sale.txnNo), (v) => v.refunds[0]?.status === 'attention');
  t.ok(clock.now() - asked > 2 * HOUR, `the backoff ran for hours first (${((clock.now() - asked) / HOUR).toFixed(1)} h)`);
  t.equal(await refundsAskedAgain(h), 9, 'asked again at every step of the backoff');
  t.equal(stuck.needsAttention, true);
  t.equal(stuck.refundedAmount, sale.paidFen, 'the amount stays owed on the refund');

  await h.sims.gateway.configureCallbacks({ failRefunds: false });
  const nudged = await nudge(h, sale.txnNo);
  t.equal(nudged.status, 200);
  const refund = await runTimersUntil(h, clock, () => h.api<RefundView>('GET', `/v1/transactions/${sale.txnNo}/refunds/${res.body.refundNo}`), (r) => r.body.status !== 'processing');
  t.equal(refund.body.status, 'succeeded', 'the nudge re-drove it');
  t.same(refund.body.legs.map((l) => l.status), ['succeeded']);
  t.same((await gatewayRefunds(h, sale.paymentNo)).map((r) => r.status), ['succeeded'], 'under the same refund number');
  t.equal((await h.sims.systems.paymentGateway.peekPayment(sale.paymentNo))?.refundedFen, sale.paidFen, 'refunded once, in full');
  const keys = (await h.sims.store.effects({ system: 'paymentGateway', verb: 'refundPayment' })).map((e) => e.key);
  t.ok(keys.some((k) => k.includes(':redrive:1:request:1')), 'the re-drive asked under keys of its own');
});

t.test('issue 15: a give-back that waits for a person is re-driven by a nudge to paid back', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock });
  await h.sims.gateway.configureCallbacks({ failRefunds: true });
  const { txnNo, paymentNo } = await failedAfterCapture(h);
  const stuck = await runTimersUntil(h, clock, () => view(h, txnNo), (v) => v.legs[0]?.giveBack?.status === 'attention');
  t.equal(stuck.needsAttention, true);
  t.equal(stuck.legs[0]?.status, 'succeeded', 'still captured, and owed');

  await h.sims.gateway.configureCallbacks({ failRefunds: false });
  t.equal((await nudge(h, txnNo)).status, 200);
  const done = await runTimersUntil(h, clock, () => view(h, txnNo), (v) => v.legs[0]?.giveBack?.status !== 'pending');
  t.equal(done.legs[0]?.status, 'refunded', 'the nudge re-drove it');
  t.same((await gatewayRefunds(h, paymentNo)).map((r) => [r.refundNo, r.status]), [[`${paymentNo}-C`, 'succeeded']]);
});

t.test('issue 15: a payment captured after its close, its callback lost, is found by the query after the close and given back', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock });
  const sale = await cancelledWhilePending(h);
  // The channel captures it anyway and every callback from now on is lost.
  await h.sims.gateway.configureCallbacks({ dropCallbacks: true });
  t.equal((await h.sims.gateway.forcePay(sale.paymentNo)).ok, true);
  await h.tc.host.settle();
  t.equal((await view(h, sale.txnNo)).legs[0]?.status, 'closed', 'nothing heard of it yet');

  const closedAt = clock.now();
  const done = await runTimersUntil(h, clock, () => view(h, sale.txnNo), (v) => v.legs[0]?.status === 'refunded');
  t.ok(clock.now() - closedAt >= CAPTURE_AFTER_CLOSE_GRACE_MS, 'found by the query after the grace period');
  t.equal(done.state, 'cancelled');
  t.same(done.legs[0]?.giveBack, { refundNo: `${sale.paymentNo}-L`, status: 'succeeded' });
  t.equal(done.needsAttention, false);
  t.equal((await h.sims.systems.paymentGateway.peekPayment(sale.paymentNo))?.refundedFen, sale.amountFen, 'given back in full');
});

t.test('issue 15 (simulation seed 1002): a payment captured half an hour after its close, its callback lost, is found by a later query and given back', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock });
  const sale = await cancelledWhilePending(h);
  await h.sims.gateway.configureCallbacks({ dropCallbacks: true });
  const closedAt = clock.now();
  // The first query after the close finds nothing: the channel has not captured yet.
  await runTimersUntil(h, clock, async () => clock.now() - closedAt, (elapsed) => elapsed >= CAPTURE_AFTER_CLOSE_GRACE_MS);
  await h.tc.host.settle();
  t.equal((await view(h, sale.txnNo)).legs[0]?.status, 'closed');
  clock.set(closedAt + 30 * 60_000);
  t.equal((await h.sims.gateway.forcePay(sale.paymentNo)).ok, true, 'captured 30 minutes after the close');
  const done = await runTimersUntil(h, clock, () => view(h, sale.txnNo), (v) => v.legs[0]?.status === 'refunded');
  t.ok(clock.now() - closedAt <= QUERIES_AFTER_CLOSE_MS.at(-1)!, 'found within the queries after the close');
  t.same(done.legs[0]?.giveBack, { refundNo: `${sale.paymentNo}-L`, status: 'succeeded' });
  t.equal((await h.sims.systems.paymentGateway.peekPayment(sale.paymentNo))?.refundedFen, sale.amountFen, 'given back in full');
});

t.test('issue 15: a closed payment the channel never captures is asked about three times after its close, then left alone', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock });
  const sale = await cancelledWhilePending(h);
  const closedAt = clock.now();
  // A query is a read, not an effect of the gateway's: count the leg's queries in the journal.
  const queries = async () => (await h.tc.storage.journal.entries(sale.txnNo)).filter((e) => e.actor === 'leg-1' && e.to === 'queryingAfterClose').length;
  const armed = async () => (await h.tc.storage.snapshots.dueTimers(Number.MAX_SAFE_INTEGER, 100)).filter((timer) => timer.txnNo === sale.txnNo);
  await runTimersUntil(h, clock, armed, (timers) => timers.length === 0 && clock.now() > closedAt);
  t.equal(await queries(), QUERIES_AFTER_CLOSE_MS.length, 'one query per time of the series');
  t.equal(clock.now() - closedAt, QUERIES_AFTER_CLOSE_MS.at(-1), 'the last an hour after the close');
  t.equal((await view(h, sale.txnNo)).legs[0]?.status, 'closed');
});

t.test('issue 15: a payment captured after it expired, its callback lost, is given back', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock });
  const ordered = await orderedSale(h.api, 'wechat');
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.payableAmount }] });
  const paymentNo = paying.body.legs[0]!.paymentNo;
  clock.set(Date.parse(paying.body.expiresAt!));
  await h.tc.host.fireDueTimers();
  const expired = await eventually(() => view(h, ordered.txnNo), (v) => v.state === 'cancelled');
  t.equal(expired.outcome?.message, 'payment expired');
  t.equal(expired.legs[0]?.status, 'closed');
  await h.sims.gateway.configureCallbacks({ dropCallbacks: true });
  await h.sims.gateway.forcePay(paymentNo);
  const done = await runTimersUntil(h, clock, () => view(h, ordered.txnNo), (v) => v.legs[0]?.status === 'refunded');
  t.same(done.legs[0]?.giveBack, { refundNo: `${paymentNo}-L`, status: 'succeeded' });
});

t.test('issue 15: a nudge finds a payment captured after its close before the grace period ends', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock });
  const sale = await cancelledWhilePending(h);
  await h.sims.gateway.configureCallbacks({ dropCallbacks: true, refundDelayMs: 0 });
  await h.sims.gateway.forcePay(sale.paymentNo);
  t.equal((await nudge(h, sale.txnNo)).status, 200);
  await eventually(() => gatewayRefunds(h, sale.paymentNo), (r) => r.length === 1);
  t.ok(clock.now() - NOON < CAPTURE_AFTER_CLOSE_GRACE_MS, 'before the query after the close was due');
  const done = await runTimersUntil(h, clock, () => view(h, sale.txnNo), (v) => v.legs[0]?.status === 'refunded');
  t.same(done.legs[0]?.giveBack, { refundNo: `${sale.paymentNo}-L`, status: 'succeeded' });
  t.equal((await h.sims.systems.paymentGateway.peekPayment(sale.paymentNo))?.refundedFen, sale.amountFen, 'given back once, in full');
});

t.test('issue 15: a nudge gives back no payment the channel captured at another amount: that one stays a person\'s', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock });
  const ordered = await orderedSale(h.api, 'wechat');
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.payableAmount }] });
  const paymentNo = paying.body.legs[0]!.paymentNo;
  await h.tc.sims!.gateway.pay(paymentNo, { capturedFen: ordered.payableAmount - 100 });
  await h.api('POST', `/v1/transactions/${ordered.txnNo}/cancel`, {});
  await eventually(() => view(h, ordered.txnNo), (v) => v.state === 'cancelled' && v.needsAttention);
  t.equal((await nudge(h, ordered.txnNo)).status, 200);
  clock.advance(CAPTURE_AFTER_CLOSE_GRACE_MS);
  await h.tc.host.fireDueTimers();
  await h.tc.host.settle();
  const after = await view(h, ordered.txnNo);
  t.equal(after.legs[0]?.status, 'closed');
  t.equal(after.legs[0]?.giveBack, undefined, 'nothing given back automatically');
  t.same(await gatewayRefunds(h, paymentNo), [], 'no refund asked of the channel');
});
