import { randomUUID } from 'node:crypto';
import t from 'tap';
import { sign, SIGNATURE_HEADERS } from '../../domain/signature.ts';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { runTimersUntil } from '../helpers/durable-timers.ts';
import { eventually, FUEL_SALE, startHarness, type Harness } from '../helpers/harness.ts';

/**
 * Money captured for a sale that did not happen goes back: a leg captured before another leg
 * failed (compensation), or a payment the channel captured after we closed it (late payment).
 * Going back means the channel paid it back, not that it accepted to.
 */

const NOON = Date.parse('2026-11-25T12:00:00+08:00');
const view = (h: Harness, txnNo: string) => h.api<TransactionView>('GET', `/v1/transactions/${txnNo}`);

async function ordered(h: Harness): Promise<TransactionView> {
  const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  const res = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-wechat' });
  if (res.status !== 201) throw new Error(JSON.stringify(res.body));
  return res.body;
}

/** Wechat captures 100 yuan, then alipay fails: the sale fails and the wechat money must go back. */
async function failedAfterCapture(h: Harness): Promise<{ txnNo: string; paymentNo: string }> {
  const v = await ordered(h);
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${v.txnNo}/payments`, {
    legs: [
      { method: 'wechat', amount: 10_000 },
      { method: 'alipay', amount: v.payableAmount - 10_000 },
    ],
  });
  const [wechat, alipay] = paying.body.legs;
  await h.sims.gateway.pay(wechat!.paymentNo);
  await eventually(() => view(h, v.txnNo), (r) => r.body.legs[0]?.status === 'succeeded');
  await h.sims.gateway.fail(alipay!.paymentNo);
  await eventually(() => view(h, v.txnNo), (r) => r.body.state === 'failed');
  return { txnNo: v.txnNo, paymentNo: wechat!.paymentNo };
}

t.test('a captured leg is shown refunded once the channel has paid it back', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const { txnNo, paymentNo } = await failedAfterCapture(h);
  const done = await eventually(() => view(h, txnNo), (r) => r.body.legs[0]?.status === 'refunded');
  t.equal((await h.sims.systems.paymentGateway.peekRefunds(paymentNo))[0]?.status, 'succeeded', 'the channel paid it back');
  t.equal(done.body.needsAttention, false);
});

t.test('a captured leg whose refund the channel keeps failing is asked again through the backoff, then waits for a person with the money still owed', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock });
  await h.sims.gateway.configureCallbacks({ failRefunds: true });
  const { txnNo, paymentNo } = await failedAfterCapture(h);
  const stuck = await runTimersUntil(h, clock, () => view(h, txnNo), (r) => r.body.needsAttention);
  t.equal(stuck.body.state, 'failed');
  t.equal(stuck.body.legs[0]?.status, 'succeeded', 'not refunded: the money is still captured, and owed');
  const refunds = await h.sims.systems.paymentGateway.peekRefunds(paymentNo);
  t.same(refunds.map((r) => [r.refundNo, r.status]), [[`${paymentNo}-C`, 'failed']], 'one refund number, failed at the channel');
  t.ok((await h.sims.store.effects({ system: 'paymentGateway', verb: 'refundPayment' })).some((e) => e.detail === 'retry'), 'asked again before giving up');

});

t.test('a late payment whose refund the channel keeps failing is not reported refunded and waits for a person', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock });
  const v = await ordered(h);
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${v.txnNo}/payments`, { legs: [{ method: 'wechat', amount: v.payableAmount }] });
  const paymentNo = paying.body.legs[0]!.paymentNo;
  t.equal((await h.api<TransactionView>('POST', `/v1/transactions/${v.txnNo}/cancel`, {})).body.state, 'cancelled');
  await h.sims.gateway.configureCallbacks({ failRefunds: true });
  await h.sims.gateway.forcePay(paymentNo);
  const stuck = await runTimersUntil(h, clock, () => view(h, v.txnNo), (r) => r.body.needsAttention);
  t.equal(stuck.body.state, 'cancelled');
  t.equal(stuck.body.legs[0]?.status, 'closed', 'not refunded');
  t.same((await h.sims.systems.paymentGateway.peekRefunds(paymentNo)).map((r) => [r.refundNo, r.status]), [[`${paymentNo}-L`, 'failed']]);
});

t.test('a late payment is shown refunded once the channel has paid it back, found by a query when the refund callback is lost', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock });
  const v = await ordered(h);
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${v.txnNo}/payments`, { legs: [{ method: 'wechat', amount: v.payableAmount }] });
  const paymentNo = paying.body.legs[0]!.paymentNo;
  await h.api('POST', `/v1/transactions/${v.txnNo}/cancel`, {});
  // The channel takes a minute to pay a refund back, and its refund callback never arrives.
  await h.sims.gateway.configureCallbacks({ refundDelayMs: 60_000 });
  await h.sims.gateway.forcePay(paymentNo);
  await eventually(async () => (await h.sims.systems.paymentGateway.peekRefunds(paymentNo)).length, (n) => n === 1);
  await h.sims.gateway.configureCallbacks({ dropCallbacks: true });
  await h.tc.host.settle();
  const pending = (await view(h, v.txnNo)).body;
  t.equal(pending.legs[0]?.status, 'closed', 'not refunded while the channel has not paid it back');
  t.same(pending.legs[0]?.giveBack, { refundNo: `${paymentNo}-L`, status: 'pending' });

  clock.advance(60_000);
  await eventually(async () => (await h.sims.systems.paymentGateway.peekRefunds(paymentNo))[0]?.status, (s) => s === 'succeeded');
  for (let i = 0; i < 5 && (await view(h, v.txnNo)).body.legs[0]?.status !== 'refunded'; i++) {
    clock.advance(h.tc.config.queryAfterMs * 2 ** i);
    await h.tc.host.fireDueTimers();
    await h.tc.host.settle();
  }
  const done = await eventually(() => view(h, v.txnNo), (r) => r.body.legs[0]?.status === 'refunded');
  t.equal(done.body.state, 'cancelled');
  t.equal(done.body.needsAttention, false);
  t.equal((await h.sims.systems.paymentGateway.peekPayment(paymentNo))?.refundedFen, v.payableAmount, 'refunded once, in full');
});

t.test('issue 15: a late payment the gateway cannot confirm at once is asked again on a durable timer, across a restart, and given back without another callback', async (t) => {
  const dir = t.testdir();
  const clock = new ManualClock(NOON);
  const first = await startHarness(t, { clock, dir });
  const v = await ordered(first);
  const paying = await first.api<TransactionView>('POST', `/v1/transactions/${v.txnNo}/payments`, { legs: [{ method: 'wechat', amount: v.payableAmount }] });
  const paymentNo = paying.body.legs[0]!.paymentNo;
  await first.api('POST', `/v1/transactions/${v.txnNo}/cancel`, {});
  // The channel captures after the close and calls back once; the gateway does not answer the check.
  await first.sims.faults.paymentGateway.configure({ queryPayment: { outage: true } });
  await first.sims.gateway.forcePay(paymentNo);
  const timerName = 'late-leg-1/query';
  const stored = await eventually(async () => (await first.tc.storage.snapshots.load(v.txnNo))?.timers ?? {}, (timers) => timerName in timers, 15_000);
  t.equal(stored[timerName], clock.now() + first.tc.config.queryAfterMs, 'the check waits on a stored timer, after the leg query silence');
  t.equal((await view(first, v.txnNo)).body.legs[0]?.status, 'closed', 'nothing given back on an unconfirmed callback');
  await first.close();

  const second = await startHarness(t, { clock, dir });
  await second.sims.faults.paymentGateway.clear();
  clock.advance(second.tc.config.queryAfterMs);
  t.equal(await second.tc.host.fireDueTimers(), 1, 'the stored timer fires after the restart');
  const done = await eventually(() => view(second, v.txnNo), (r) => r.body.legs[0]?.status === 'refunded', 15_000);
  t.equal(done.body.state, 'cancelled');
  t.equal(done.body.needsAttention, false);
  t.same((await second.sims.systems.paymentGateway.peekRefunds(paymentNo)).map((r) => [r.refundNo, r.status]), [[`${paymentNo}-L`, 'succeeded']], 'given back once');
  t.equal((await second.sims.gateway.callbacks(paymentNo)).filter((c) => !c.refundNo).length, 1, 'the channel called back only once');
});

t.test('issue 15: a late payment check waiting on the gateway asks at once when another callback comes', async (t) => {
  const clock = new ManualClock(NOON);
  // The breaker stays closed, so the ask on the callback reaches the gateway (the breaker is not what this pins).
  const h = await startHarness(t, { clock, config: { breaker: { afterFailures: 1000, halfOpenAfterMs: 10_000 } } });
  const v = await ordered(h);
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${v.txnNo}/payments`, { legs: [{ method: 'wechat', amount: v.payableAmount }] });
  const paymentNo = paying.body.legs[0]!.paymentNo;
  await h.api('POST', `/v1/transactions/${v.txnNo}/cancel`, {});
  await h.sims.faults.paymentGateway.configure({ queryPayment: { outage: true } });
  await h.sims.gateway.forcePay(paymentNo);
  await eventually(async () => (await h.tc.storage.snapshots.load(v.txnNo))?.timers ?? {}, (timers) => 'late-leg-1/query' in timers, 15_000);
  await h.sims.faults.paymentGateway.clear();
  // The channel delivers its callback again (a new delivery: a fresh nonce), long before the timer.
  const callback = (await h.sims.gateway.callbacks(paymentNo))[0]!;
  const timestamp = String(Math.floor(clock.now() / 1000));
  const nonce = randomUUID();
  const again = await fetch(`${h.url}${callback.path}`, {
    method: 'POST',
    headers: {
      'content-type': callback.contentType,
      [SIGNATURE_HEADERS.timestamp]: timestamp,
      [SIGNATURE_HEADERS.nonce]: nonce,
      [SIGNATURE_HEADERS.signature]: sign(h.tc.config.callbackSecret, timestamp, nonce, callback.body),
    },
    body: callback.body,
  });
  t.equal(again.status, 200);
  const done = await eventually(() => view(h, v.txnNo), (r) => r.body.legs[0]?.status === 'refunded', 15_000);
  t.equal(done.body.state, 'cancelled');
  t.equal(clock.now(), NOON, 'without waiting for the timer');
});
