import { join } from 'node:path';
import t from 'tap';
import { SIGNATURE_HEADERS, verify } from '../../domain/signature.ts';
import { decodePaymentCallback, decodeRefundCallback } from '../../systems/payment-gateway/callback-formats.ts';
import type { AsyncChannel } from '../../systems/payment-gateway/port.ts';
import { retryDelayMs } from '../../systems/sim/callback-outbox.ts';
import { createSimulators } from '../../systems/sim/index.ts';
import { demo, key, openSims, paymentRequest, SECRET, sleep, startReceiver, until, type ReceivedCallback } from './helpers.ts';

const header = (cb: ReceivedCallback, name: string) => {
  const v = cb.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

function signatureValid(cb: ReceivedCallback, secret = SECRET): boolean {
  return verify({
    secret,
    timestamp: header(cb, SIGNATURE_HEADERS.timestamp),
    nonce: header(cb, SIGNATURE_HEADERS.nonce),
    signature: header(cb, SIGNATURE_HEADERS.signature),
    rawBody: cb.rawBody,
    nowMs: Date.now(),
    windowSeconds: 300,
  });
}

t.test('a paid payment is called back over HTTP, signed, with the payment in the body', async (t) => {
  const receiver = await startReceiver(t);
  const sims = openSims(t, { callback: { baseUrl: receiver.url, secret: SECRET } });
  sims.start();
  await sims.systems.paymentGateway.createPayment(key('T1', 'leg-2:create'), paymentRequest('T1'));
  const paid = await sims.gateway.pay('T1-P1');
  await receiver.waitFor(1);

  const [cb] = receiver.received;
  if (!cb) throw new Error('no callback');
  t.equal(cb.path, '/v1/callbacks/payments/wechat');
  t.ok(signatureValid(cb), 'the signature verifies with the shared secret');
  t.notOk(signatureValid(cb, 'another-secret'), 'and not with another one');
  t.equal(header(cb, 'content-type'), 'application/json');
  t.match(JSON.parse(cb.rawBody), { out_trade_no: 'T1-P1', attach: 'T1', total_fee: 27300, result_code: 'SUCCESS' }, 'in wechat\'s format');
  t.same(decodePaymentCallback('wechat', header(cb, 'content-type'), cb.rawBody), {
    paymentNo: 'T1-P1', txnNo: 'T1', merchantId: 'M1', channel: 'wechat', amountFen: 27300, status: 'SUCCESS',
    channelTradeNo: paid.ok ? paid.payment.channelTradeNo : '', paidAt: paid.ok ? paid.payment.paidAt : '',
  });
  await until(() => sims.gateway.callbacks('T1-P1')[0]?.deliveredAt != null);
  t.match(sims.gateway.callbacks('T1-P1'), [{ attempts: 1, deliveredAt: Number, lastError: null }]);
});

t.test('duplicateCallbacks delivers the same callback N times', async (t) => {
  const receiver = await startReceiver(t);
  const sims = openSims(t, { callback: { baseUrl: receiver.url, secret: SECRET } });
  sims.gateway.configureCallbacks({ duplicateCallbacks: 3 });
  sims.start();
  await sims.systems.paymentGateway.createPayment(key('T1', 'leg-2:create'), paymentRequest('T1'));
  await sims.gateway.pay('T1-P1');
  await receiver.waitFor(3);
  await sleep(100);
  t.equal(receiver.received.length, 3);
  t.equal(new Set(receiver.received.map((r) => r.rawBody)).size, 1, 'the same body each time');
  t.equal(new Set(receiver.received.map((r) => r.headers[SIGNATURE_HEADERS.nonce])).size, 3, 'a fresh nonce each time');
});

t.test('dropCallbacks delivers nothing; only a query tells the payment succeeded', async (t) => {
  const receiver = await startReceiver(t);
  const sims = openSims(t, { callback: { baseUrl: receiver.url, secret: SECRET } });
  sims.gateway.configureCallbacks({ dropCallbacks: true });
  sims.start();
  await sims.systems.paymentGateway.createPayment(key('T1', 'leg-2:create'), paymentRequest('T1'));
  await sims.gateway.pay('T1-P1');
  await sleep(200);
  t.equal(receiver.received.length, 0);
  t.match(await sims.systems.paymentGateway.queryPayment('T1-P1'), { status: 'succeeded' });
});

t.test('a callback waits callbackDelayMs before its first attempt', async (t) => {
  const receiver = await startReceiver(t);
  const sims = openSims(t, { callback: { baseUrl: receiver.url, secret: SECRET, delayMs: 300 } });
  sims.start();
  await sims.systems.paymentGateway.createPayment(key('T1', 'leg-2:create'), paymentRequest('T1'));
  const paidAt = Date.now();
  await sims.gateway.pay('T1-P1');
  await sleep(150);
  t.equal(receiver.received.length, 0);
  await receiver.waitFor(1);
  t.ok(Date.now() - paidAt >= 290);
});

t.test('a callback the receiver refuses is redelivered with backoff until it is accepted', async (t) => {
  const receiver = await startReceiver(t, (n) => (n < 2 ? 500 : 200));
  const sims = openSims(t, { callback: { baseUrl: receiver.url, secret: SECRET } });
  sims.start();
  await sims.systems.paymentGateway.createPayment(key('T1', 'leg-2:create'), paymentRequest('T1'));
  await sims.gateway.pay('T1-P1');
  await receiver.waitFor(3);
  await until(() => sims.gateway.callbacks('T1-P1')[0]?.deliveredAt != null);
  t.match(sims.gateway.callbacks('T1-P1'), [{ attempts: 3, deliveredAt: Number, lastError: null }]);
  t.ok(receiver.received.every((cb) => signatureValid(cb)), 'every attempt is freshly signed');
});

t.test('a callback refused for good is retried quickly for half a minute, then ever more slowly, as a real gateway does', (t) => {
  const delays = Array.from({ length: 40 }, (_, i) => retryDelayMs(i + 1));
  t.same(delays.slice(0, 6), [200, 400, 800, 1600, 3200, 5000]);
  const quick = delays.slice(0, 10).reduce((a, b) => a + b, 0);
  t.ok(quick <= 35_000, `the quick attempts take ${quick} ms`);
  t.ok(delays.every((d, i) => i === 0 || d >= delays[i - 1]!), 'no wait is shorter than the one before');
  let elapsed = 0;
  let attempts = 0;
  while (elapsed < 24 * 3_600_000) elapsed += retryDelayMs(++attempts);
  t.ok(attempts <= 25, `${attempts} attempts in a day, not one every 5 s`);
  t.equal(retryDelayMs(1_000), 6 * 3_600_000, 'then every 6 h');
  t.end();
});

t.test('an unreachable receiver is retried, and setCallbackTarget redirects the retries', async (t) => {
  const sims = openSims(t, { callback: { baseUrl: 'http://127.0.0.1:9', secret: 'old' } });
  sims.start();
  await sims.systems.paymentGateway.createPayment(key('T1', 'leg-2:create'), paymentRequest('T1'));
  await sims.gateway.pay('T1-P1');
  await sleep(100);
  t.match(sims.gateway.callbacks('T1-P1'), [{ attempts: 1, deliveredAt: null, lastError: String }]);

  const receiver = await startReceiver(t);
  sims.gateway.setCallbackTarget(receiver.url, SECRET);
  await receiver.waitFor(1);
  const [cb] = receiver.received;
  t.ok(cb && signatureValid(cb), 'signed with the new secret');
});

t.test('undelivered callbacks survive a gateway restart and are delivered by the next one', async (t) => {
  const dbPath = join(t.testdir(), 'sim.db');
  const down = await startReceiver(t, () => 503);
  const first = createSimulators({ dbPath, dataset: demo, clock: Date, callback: { baseUrl: down.url, secret: SECRET } });
  first.start();
  await first.systems.paymentGateway.createPayment(key('T1', 'leg-2:create'), paymentRequest('T1'));
  await first.gateway.pay('T1-P1');
  await until(() => (first.gateway.callbacks('T1-P1')[0]?.attempts ?? 0) >= 1);
  await first.close();
  t.equal(down.received.length, 1);

  const up = await startReceiver(t);
  const second = createSimulators({ dbPath, dataset: demo, clock: Date, callback: { baseUrl: up.url, secret: SECRET } });
  t.teardown(() => second.close());
  t.match(second.gateway.callbacks('T1-P1'), [{ attempts: 1, deliveredAt: null, lastError: 'HTTP 503' }], 'the outbox kept it');
  second.start();
  await up.waitFor(1);
  await until(() => second.gateway.callbacks('T1-P1')[0]?.deliveredAt != null);
  t.ok(up.received[0] && signatureValid(up.received[0]));
  t.match(JSON.parse(up.received[0]?.rawBody ?? '{}'), { out_trade_no: 'T1-P1', result_code: 'SUCCESS' });
  t.match(second.gateway.callbacks('T1-P1'), [{ attempts: 2, deliveredAt: Number, lastError: null }]);
});

const CHANNELS: readonly AsyncChannel[] = ['wechat', 'alipay', 'unionpay', 'senseless'];

t.test('each channel calls back in its own format on its own path, signed over the raw body', async (t) => {
  const receiver = await startReceiver(t);
  const sims = openSims(t, { callback: { baseUrl: receiver.url, secret: SECRET } });
  sims.start();
  for (const [i, channel] of CHANNELS.entries()) {
    await sims.systems.paymentGateway.createPayment(key(`T${i + 1}`, 'leg-1:create'), paymentRequest(`T${i + 1}`, 29100 + i, channel));
    await sims.gateway.pay(`T${i + 1}-P1`);
  }
  await receiver.waitFor(CHANNELS.length);

  for (const [i, channel] of CHANNELS.entries()) {
    const cb = receiver.received.find((r) => r.path === `/v1/callbacks/payments/${channel}`);
    if (!cb) throw new Error(`no ${channel} callback`);
    const payment = sims.gateway.peekPayment(`T${i + 1}-P1`);
    t.ok(signatureValid(cb), `${channel}: signed`);
    t.same(decodePaymentCallback(channel, header(cb, 'content-type'), cb.rawBody), {
      paymentNo: `T${i + 1}-P1`, txnNo: `T${i + 1}`, merchantId: 'M1', channel, amountFen: 29100 + i, status: 'SUCCESS',
      channelTradeNo: payment?.channelTradeNo, paidAt: payment?.paidAt,
    }, `${channel}: decodes to the payment on record`);
  }
  const alipay = receiver.received.find((r) => r.path.endsWith('/alipay'));
  t.match(header(alipay!, 'content-type'), /^application\/x-www-form-urlencoded/);
  t.match(alipay!.rawBody, /total_amount=291\.01/, 'alipay states yuan');
});

t.test('refund callbacks are delivered signed, in the channel format, to the refunds path', async (t) => {
  const receiver = await startReceiver(t);
  const sims = openSims(t, { callback: { baseUrl: receiver.url, secret: SECRET } });
  const gw = sims.systems.paymentGateway;
  sims.start();
  for (const [i, channel] of CHANNELS.entries()) {
    await gw.createPayment(key(`T${i + 1}`, 'leg-1:create'), paymentRequest(`T${i + 1}`, 27300, channel));
    await sims.gateway.pay(`T${i + 1}-P1`);
    await gw.refundPayment(key(`T${i + 1}`, 'refund:R1-1'), { paymentNo: `T${i + 1}-P1`, refundNo: `R${i + 1}-1`, amountFen: 1234 });
  }
  await receiver.waitFor(2 * CHANNELS.length);

  for (const [i, channel] of CHANNELS.entries()) {
    const cb = receiver.received.find((r) => r.path === `/v1/callbacks/refunds/${channel}`);
    if (!cb) throw new Error(`no ${channel} refund callback`);
    const refund = sims.gateway.peekRefund(`R${i + 1}-1`);
    t.ok(signatureValid(cb), `${channel}: signed`);
    t.same(decodeRefundCallback(channel, header(cb, 'content-type'), cb.rawBody), {
      refundNo: `R${i + 1}-1`, paymentNo: `T${i + 1}-P1`, txnNo: `T${i + 1}`, merchantId: 'M1', channel, amountFen: 1234, status: 'SUCCESS',
      channelRefundNo: refund?.channelRefundNo, refundedAt: refund?.refundedAt,
    }, `${channel}: decodes to the refund on record`);
  }
});

t.test('duplicateCallbacks and dropCallbacks apply to refund callbacks too', async (t) => {
  const receiver = await startReceiver(t);
  const sims = openSims(t, { callback: { baseUrl: receiver.url, secret: SECRET } });
  const gw = sims.systems.paymentGateway;
  await gw.createPayment(key('T1', 'leg-1:create'), paymentRequest('T1'));
  await sims.gateway.pay('T1-P1');
  sims.gateway.configureCallbacks({ duplicateCallbacks: 3 });
  await gw.refundPayment(key('T1', 'refund:R1-1'), { paymentNo: 'T1-P1', refundNo: 'R1-1', amountFen: 100 });
  sims.start();
  await until(() => sims.gateway.refundCallbacks('R1-1').filter((c) => c.deliveredAt !== null).length === 3);
  t.equal(receiver.received.filter((r) => r.path === '/v1/callbacks/refunds/wechat').length, 3);

  sims.gateway.configureCallbacks({ duplicateCallbacks: 1, dropCallbacks: true });
  await gw.refundPayment(key('T1', 'refund:R1-2'), { paymentNo: 'T1-P1', refundNo: 'R1-2', amountFen: 100 });
  await until(() => sims.gateway.peekRefund('R1-2')?.status === 'succeeded');
  await sleep(100);
  t.same(sims.gateway.refundCallbacks('R1-2'), [], 'a dropped refund callback is never sent; only a query tells');
  t.match(await gw.queryRefund('R1-2'), { status: 'succeeded' });
});

t.test('reorderCallbacks delivers the callbacks due in one pass in reverse order', async (t) => {
  const receiver = await startReceiver(t);
  const sims = openSims(t, { callback: { baseUrl: receiver.url, secret: SECRET } });
  const gw = sims.systems.paymentGateway;
  // Queued while the loop is stopped, so that all of them are due in its first pass.
  await gw.createPayment(key('T1', 'leg-1:create'), paymentRequest('T1', 20000, 'wechat', 1));
  await gw.createPayment(key('T1', 'leg-2:create'), paymentRequest('T1', 7300, 'alipay', 2));
  await sims.gateway.pay('T1-P1');
  await sims.gateway.pay('T1-P2');
  await gw.refundPayment(key('T1', 'refund:R1-1'), { paymentNo: 'T1-P1', refundNo: 'R1-1', amountFen: 500 });
  sims.gateway.configureCallbacks({ reorderCallbacks: true });
  sims.start();
  await receiver.waitFor(3);
  t.same(receiver.received.map((r) => r.path), [
    '/v1/callbacks/refunds/wechat', '/v1/callbacks/payments/alipay', '/v1/callbacks/payments/wechat',
  ], 'the refund arrives before the payment it refunds, the second leg before the first');
  t.ok(receiver.received.every((cb) => signatureValid(cb)));
});
