import Fastify from 'fastify';
import t from 'tap';
import { simAdminRoutes } from '../../systems/sim/admin-routes.ts';
import type { Simulators } from '../../systems/sim/index.ts';
import { key, openSims, paymentRequest, until } from './helpers.ts';

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

t.test('GET /sim/cards shows credits and debits in the card balance', async (t) => {
  const sims = openSims(t);
  const app = await adminApp(t, sims);
  const sv = sims.systems.storedValue;
  await sv.credit(key('T1', 'top-up:credit'), { cardNo: 'C3', creditNo: 'T1-top-up', amountFen: 50000, reason: 'top-up' });
  await sv.debit(key('R1', 'top-up:debit'), { cardNo: 'C3', debitNo: 'R1-1', amountFen: 20000, reason: 'top-up-refund' });
  t.match((await app.inject({ method: 'GET', url: '/sim/cards/C3' })).json(), { card: { cardNo: 'C3', availableFen: 31200, lockedFen: 0 }, locks: [] });
});

t.test('GET /sim/goods, /sim/coupons and /sim/points show stock, coupons and points with their locks', async (t) => {
  const sims = openSims(t, { clock: { now: () => Date.parse('2026-11-25T10:00:00+08:00') } });
  const app = await adminApp(t, sims);
  const { goods, coupon, points } = sims.systems;
  await goods.reserve(key('T1', 'goods:reserve'), { lockKey: 'T1:goods', stationId: 'S1', items: [{ sku: 'SKU-WATER', quantity: 3 }] });
  await coupon.lock(key('T1', 'coupons:lock'), { lockKey: 'T1:coupons', userId: 'U1', couponIds: ['CP1'] });
  await points.lock(key('T1', 'points:lock'), { lockKey: 'T1:points', userId: 'U1', points: 500 });

  t.match((await app.inject({ method: 'GET', url: '/sim/goods/S1/SKU-WATER' })).json(), {
    stock: { stationId: 'S1', sku: 'SKU-WATER', category: 'drinks', priceFen: 200, availableStock: 117, reservedStock: 3 },
    reservations: [{ lockKey: 'T1:goods', items: [{ sku: 'SKU-WATER', quantity: 3 }], status: 'locked' }],
  });
  t.same((await app.inject({ method: 'GET', url: '/sim/goods/S1/SKU-COLA' })).json().reservations, []);
  t.equal((await app.inject({ method: 'GET', url: '/sim/goods/S3/SKU-OIL' })).statusCode, 404);

  const coupons = (await app.inject({ method: 'GET', url: '/sim/coupons/U1' })).json();
  t.same(coupons.coupons.map((c: { couponId: string; status: string }) => `${c.couponId}:${c.status}`), [
    'CP1:locked', 'CP2:available', 'CP3:available', 'CP4:available', 'CP5:available', 'CP6:used',
  ]);
  t.match(coupons.coupons[2], { benefit: { type: 'percent', bp: 500, maxDiscountFen: 1500 }, scope: { kind: 'goods' }, lockKey: null });
  t.match(coupons.locks, [{ lockKey: 'T1:coupons', couponIds: ['CP1'], status: 'locked' }]);

  t.match((await app.inject({ method: 'GET', url: '/sim/points/U1' })).json(), {
    account: { userId: 'U1', balance: 4500, locked: 500, rule: { pointsPerYuan: 100, step: 100, maxRatioBp: 1000 } },
    locks: [{ lockKey: 'T1:points', points: 500, status: 'locked' }],
  });
  t.equal((await app.inject({ method: 'GET', url: '/sim/points/U4' })).statusCode, 404);
});

t.test('PUT /sim/faults works for goods, coupon, points and level too', async (t) => {
  const sims = openSims(t);
  const app = await adminApp(t, sims);
  for (const [system, op] of [['goods', 'reserve'], ['coupon', 'use'], ['points', 'deduct'], ['level', 'getLevel']] as const) {
    const put = await app.inject({ method: 'PUT', url: `/sim/faults/${system}`, payload: { [op]: { outage: true } } });
    t.equal(put.statusCode, 200, `${system}.${op}`);
  }
  await t.rejects(sims.systems.level.getLevel('U1'), { name: 'DownstreamUnavailableError', system: 'level' });
  await t.rejects(sims.systems.goods.reserve(key('T1', 'goods:reserve'), { lockKey: 'T1:goods', stationId: 'S1', items: [{ sku: 'SKU-WATER', quantity: 1 }] }));
  const badOp = await app.inject({ method: 'PUT', url: '/sim/faults/coupon', payload: { confirm: { outage: true } } });
  t.match(badOp.json(), { error: { code: 'INVALID_REQUEST', message: /known: \*, listCoupons, lock, use, release/ } });
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
  const defaults = { reorderCallbacks: false, refundDelayMs: 0, failRefunds: false };
  const res = await app.inject({ method: 'PUT', url: '/sim/gateway', payload: { duplicateCallbacks: 2, callbackDelayMs: 100 } });
  t.same(res.json(), { callbackDelayMs: 100, duplicateCallbacks: 2, dropCallbacks: false, ...defaults });
  t.same(sims.gateway.callbackSettings(), { callbackDelayMs: 100, duplicateCallbacks: 2, dropCallbacks: false, ...defaults });
  const drop = await app.inject({ method: 'PUT', url: '/sim/gateway', payload: { dropCallbacks: true } });
  t.same(drop.json(), { callbackDelayMs: 100, duplicateCallbacks: 2, dropCallbacks: true, ...defaults });
  const refunds = await app.inject({ method: 'PUT', url: '/sim/gateway', payload: { refundDelayMs: 500, failRefunds: true, reorderCallbacks: true } });
  t.same(refunds.json(), { callbackDelayMs: 100, duplicateCallbacks: 2, dropCallbacks: true, reorderCallbacks: true, refundDelayMs: 500, failRefunds: true });
  t.equal((await app.inject({ method: 'PUT', url: '/sim/gateway', payload: { refundDelayMs: -1 } })).statusCode, 400);
});

t.test('POST /sim/payments/:paymentNo/force-pay captures a closed payment', async (t) => {
  const sims = openSims(t);
  const app = await adminApp(t, sims);
  const gw = sims.systems.paymentGateway;
  await gw.createPayment(key('T1', 'leg-2:create'), paymentRequest('T1'));
  await gw.closePayment(key('T1', 'leg-2:close'), { paymentNo: 'T1-P1' });
  t.equal((await app.inject({ method: 'POST', url: '/sim/payments/T1-P1/pay' })).statusCode, 409);
  const forced = await app.inject({ method: 'POST', url: '/sim/payments/T1-P1/force-pay' });
  t.equal(forced.statusCode, 200);
  t.match(forced.json(), { payment: { paymentNo: 'T1-P1', status: 'succeeded', refundedFen: 0 } });
  t.equal((await app.inject({ method: 'POST', url: '/sim/payments/NOPE/force-pay' })).statusCode, 404);
});

t.test('GET /sim/refunds/:refundNo shows a refund and its callbacks; GET /sim/payments lists its refunds', async (t) => {
  const sims = openSims(t);
  const app = await adminApp(t, sims);
  const gw = sims.systems.paymentGateway;
  await gw.createPayment(key('T1', 'leg-2:create'), paymentRequest('T1', 27300, 'alipay'));
  await sims.gateway.pay('T1-P1');
  await gw.refundPayment(key('T1', 'refund:R1-1'), { paymentNo: 'T1-P1', refundNo: 'R1-1', amountFen: 5000 });

  const pending = await app.inject({ method: 'GET', url: '/sim/refunds/R1-1' });
  t.equal(pending.statusCode, 200);
  t.match(pending.json(), {
    refund: { refundNo: 'R1-1', paymentNo: 'T1-P1', txnNo: 'T1', channel: 'alipay', amountFen: 5000, status: 'pending', channelRefundNo: /^2089/ },
    callbacks: [],
  });
  sims.start();
  await until(() => sims.gateway.peekRefund('R1-1')?.status === 'succeeded');
  t.match((await app.inject({ method: 'GET', url: '/sim/refunds/R1-1' })).json(), {
    refund: { status: 'succeeded', refundedAt: String },
    callbacks: [{ refundNo: 'R1-1', path: '/v1/callbacks/refunds/alipay', contentType: /^application\/x-www-form-urlencoded/ }],
  });
  t.match((await app.inject({ method: 'GET', url: '/sim/payments/T1-P1' })).json(), {
    payment: { refundedFen: 5000 }, refunds: [{ refundNo: 'R1-1' }], callbacks: [{ refundNo: null }, { refundNo: 'R1-1' }],
  });
  t.same((await app.inject({ method: 'GET', url: '/sim/refunds/R404' })).json(), { error: { code: 'NOT_FOUND', message: 'no refund R404' } });
});

t.test('POST /sim/historic-payments admits OS payments the channel took, which the gateway then refunds like live ones, while an unknown payment stays refused (issue 20)', async (t) => {
  const sims = openSims(t);
  const app = await adminApp(t, sims);
  const gateway = sims.systems.paymentGateway;
  const historic = {
    paymentNo: 'TH1-P2', txnNo: 'TH1', merchantId: 'M1', channel: 'alipay', amountFen: 8_000, channelTradeNo: '2088202506010001',
    paidAt: '2025-06-01T00:01:00.000Z', refunds: [{ refundNo: 'RH1-H1-1', amountFen: 3_000, refundedAt: '2025-06-01T01:00:00.000Z' }],
  };

  const unknown = await gateway.refundPayment(key('RH1', 'R1-1:request:1'), { paymentNo: 'TH1-P2', refundNo: 'RH1-1', amountFen: 1_000 });
  t.match(unknown, { ok: false, code: 'PAYMENT_NOT_FOUND' }, 'not admitted: refused as the contract says');

  const admitted = await app.inject({ method: 'POST', url: '/sim/historic-payments', payload: { payments: [historic] } });
  t.equal(admitted.statusCode, 200);
  t.same(admitted.json(), { admitted: 1, alreadyAdmitted: 0 });
  t.same((await app.inject({ method: 'POST', url: '/sim/historic-payments', payload: { payments: [historic] } })).json(), { admitted: 0, alreadyAdmitted: 1 }, 'again: nothing changes');
  const other = await app.inject({ method: 'POST', url: '/sim/historic-payments', payload: { payments: [{ ...historic, amountFen: 9_000 }] } });
  t.equal(other.statusCode, 409, 'the same payment number with other content is refused');
  const bad = await app.inject({ method: 'POST', url: '/sim/historic-payments', payload: { payments: [{ ...historic, channel: 'cash' }] } });
  t.equal(bad.statusCode, 400, 'only channel payments');
  const tooMuchRefunded = await app.inject({ method: 'POST', url: '/sim/historic-payments', payload: { payments: [{ ...historic, paymentNo: 'TH2-P1', refunds: [{ ...historic.refunds[0], refundNo: 'RH2-H1-1', amountFen: 9_000 }] }] } });
  t.equal(tooMuchRefunded.statusCode, 400, 'refunds over the payment are refused');

  const shown = await app.inject({ method: 'GET', url: '/sim/payments/TH1-P2' });
  t.match(shown.json(), { payment: { status: 'succeeded', channelTradeNo: '2088202506010001', refundedFen: 3_000 }, refunds: [{ refundNo: 'RH1-H1-1', status: 'succeeded' }], callbacks: [] });

  const over = await gateway.refundPayment(key('RH1', 'R2-1:request:1'), { paymentNo: 'TH1-P2', refundNo: 'RH1-2', amountFen: 5_001 });
  t.match(over, { ok: false, code: 'REFUND_EXCEEDS_PAID' }, "OS's refund is no longer refundable");
  const rest = await gateway.refundPayment(key('RH1', 'R3-1:request:1'), { paymentNo: 'TH1-P2', refundNo: 'RH1-3', amountFen: 5_000 });
  t.same(rest, { ok: true, refundNo: 'RH1-3', status: 'pending' });
  await sims.gateway.deliverDue();
  t.equal(sims.gateway.peekRefund('RH1-3')?.status, 'succeeded');
  t.match(sims.gateway.refundCallbacks('RH1-3'), [{ path: '/v1/callbacks/refunds/alipay' }], 'settled by the channel with a refund callback');
});
