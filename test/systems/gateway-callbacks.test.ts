import { join } from 'node:path';
import t from 'tap';
import { SIGNATURE_HEADERS, verify } from '../../domain/signature.ts';
import type { PaymentCallbackBody } from '../../systems/payment-gateway/port.ts';
import { createSimulators } from '../../systems/sim/index.ts';
import { demo, key, openSims, paymentRequest, SECRET, sleep, startReceiver, until, type ReceivedCallback } from './helpers.ts';

function signatureValid(cb: ReceivedCallback, secret = SECRET): boolean {
  const header = (name: string) => {
    const v = cb.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  return verify({
    secret,
    timestamp: header(SIGNATURE_HEADERS.timestamp),
    nonce: header(SIGNATURE_HEADERS.nonce),
    signature: header(SIGNATURE_HEADERS.signature),
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
  const body = JSON.parse(cb.rawBody) as PaymentCallbackBody;
  t.same(body, {
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
  t.match(JSON.parse(up.received[0]?.rawBody ?? '{}'), { paymentNo: 'T1-P1', status: 'SUCCESS' });
  t.match(second.gateway.callbacks('T1-P1'), [{ attempts: 2, deliveredAt: Number, lastError: null }]);
});
