import Fastify from 'fastify';
import t from 'tap';
import { simAdminRoutes } from '../../systems/sim/admin-routes.ts';
import type { Simulators } from '../../systems/sim/index.ts';
import { key, openSims, paymentRequest } from './helpers.ts';

async function adminApp(t: Parameters<typeof openSims>[0], sims: Simulators) {
  const app = Fastify();
  await app.register(simAdminRoutes, { prefix: '/sim', sims });
  await app.ready();
  t.teardown(() => app.close());
  return app;
}

t.test('POST /sim/payments/:paymentNo/pay plays the customer and answers with the payment', async (t) => {
  const sims = openSims(t);
  const app = await adminApp(t, sims);
  await sims.systems.paymentGateway.createPayment(key('T1', 'leg-2:create'), paymentRequest('T1'));

  const paid = await app.inject({ method: 'POST', url: '/sim/payments/T1-P1/pay' });
  t.equal(paid.statusCode, 200);
  t.match(paid.json(), { payment: { paymentNo: 'T1-P1', status: 'succeeded', channelTradeNo: String } });

  const shown = await app.inject({ method: 'GET', url: '/sim/payments/T1-P1' });
  t.match(shown.json(), { payment: { status: 'succeeded' }, callbacks: [{ path: '/v1/callbacks/payments/wechat', deliveredAt: null }] });

  const unknown = await app.inject({ method: 'POST', url: '/sim/payments/NOPE/pay' });
  t.equal(unknown.statusCode, 404);
  t.same(unknown.json(), { error: { code: 'PAYMENT_NOT_FOUND', message: 'no payment NOPE' } });

  const failLate = await app.inject({ method: 'POST', url: '/sim/payments/T1-P1/fail' });
  t.equal(failLate.statusCode, 409);
  t.match(failLate.json(), { error: { code: 'ALREADY_PAID' } });
});

t.test('GET /sim/cards, /sim/orders and /sim/effects show the downstream state', async (t) => {
  const sims = openSims(t);
  const app = await adminApp(t, sims);
  await sims.systems.storedValue.lock(key('T1', 'leg-1:lock'), { lockKey: 'T1:leg-1', cardNo: 'C1', amountFen: 30000 });

  const card = await app.inject({ method: 'GET', url: '/sim/cards/C1' });
  t.match(card.json(), {
    card: { cardNo: 'C1', userId: 'U1', availableFen: 70000, lockedFen: 30000 },
    locks: [{ lockKey: 'T1:leg-1', amountFen: 30000, status: 'locked' }],
  });
  t.equal((await app.inject({ method: 'GET', url: '/sim/cards/C404' })).statusCode, 404);
  const order = await app.inject({ method: 'GET', url: '/sim/orders/O404' });
  t.same(order.json(), { error: { code: 'NOT_FOUND', message: 'no order O404' } });

  const effects = await app.inject({ method: 'GET', url: '/sim/effects?system=storedValue&key=T1:leg-1:lock' });
  t.match(effects.json(), { effects: [{ system: 'storedValue', verb: 'lock', key: 'T1:leg-1:lock', detail: null }] });
  t.same((await app.inject({ method: 'GET', url: '/sim/effects?system=order' })).json(), { effects: [] });
});

t.test('PUT /sim/faults/:system replaces the knobs and DELETE /sim/faults clears them all', async (t) => {
  const sims = openSims(t);
  const app = await adminApp(t, sims);
  const put = await app.inject({ method: 'PUT', url: '/sim/faults/storedValue', payload: { lock: { outage: true }, '*': { latencyMs: 1, failAfterEffect: 2 } } });
  t.equal(put.statusCode, 200);
  t.same(put.json(), { lock: { outage: true }, '*': { latencyMs: 1, failAfterEffect: 2 } });
  await t.rejects(sims.systems.storedValue.lock(key('T1', 'leg-1:lock'), { lockKey: 'T1:leg-1', cardNo: 'C1', amountFen: 1 }));

  const replaced = await app.inject({ method: 'PUT', url: '/sim/faults/storedValue', payload: { confirm: { failNext: 1 } } });
  t.same(replaced.json(), { confirm: { failNext: 1 } }, 'a PUT replaces, it does not merge');

  const cleared = await app.inject({ method: 'DELETE', url: '/sim/faults' });
  t.equal(cleared.statusCode, 204);
  t.same(sims.faults.storedValue.current(), {});
  t.match(await sims.systems.storedValue.lock(key('T1', 'leg-1:lock'), { lockKey: 'T1:leg-1', cardNo: 'C1', amountFen: 1 }), { ok: true });
});

t.test('PUT /sim/faults refuses an unknown system, operation or knob value', async (t) => {
  const app = await adminApp(t, openSims(t));
  const badOp = await app.inject({ method: 'PUT', url: '/sim/faults/storedValue', payload: { lok: { outage: true } } });
  t.equal(badOp.statusCode, 400);
  t.match(badOp.json(), { error: { code: 'INVALID_REQUEST', message: /no operation lok/ } });
  const badSystem = await app.inject({ method: 'PUT', url: '/sim/faults/coffee', payload: {} });
  t.equal(badSystem.statusCode, 400);
  const badRate = await app.inject({ method: 'PUT', url: '/sim/faults/order', payload: { '*': { failRate: 2 } } });
  t.match(badRate.json(), { error: { code: 'INVALID_REQUEST' } });
});

t.test('PUT /sim/gateway changes how callbacks are delivered', async (t) => {
  const sims = openSims(t);
  const app = await adminApp(t, sims);
  const res = await app.inject({ method: 'PUT', url: '/sim/gateway', payload: { duplicateCallbacks: 2, callbackDelayMs: 100 } });
  t.same(res.json(), { callbackDelayMs: 100, duplicateCallbacks: 2, dropCallbacks: false });
  t.same(sims.gateway.callbackSettings(), { callbackDelayMs: 100, duplicateCallbacks: 2, dropCallbacks: false });
  const drop = await app.inject({ method: 'PUT', url: '/sim/gateway', payload: { dropCallbacks: true } });
  t.same(drop.json(), { callbackDelayMs: 100, duplicateCallbacks: 2, dropCallbacks: true });
});
