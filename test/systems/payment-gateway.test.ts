import t from 'tap';
import { key, openSims, paymentRequest } from './helpers.ts';

t.test('createPayment stores a pending payment and returns where the customer pays', async (t) => {
  const { systems: { paymentGateway: gw } } = openSims(t);
  const created = await gw.createPayment(key('T1', 'leg-2:create'), paymentRequest('T1'));
  t.same(created, { ok: true, paymentNo: 'T1-P1', payUrl: 'https://pay.sim.local/wechat/T1-P1', prepayId: 'prepay_T1-P1' });
  t.same(await gw.queryPayment('T1-P1'), {
    paymentNo: 'T1-P1', txnNo: 'T1', merchantId: 'M1', channel: 'wechat', amountFen: 27300, status: 'pending', refundedFen: 0,
  });
  t.equal(await gw.queryPayment('T9-P1'), null);
});

t.test('repeated and concurrent creates with the same key return the first result and create once', async (t) => {
  const { systems: { paymentGateway: gw }, store } = openSims(t);
  const req = paymentRequest('T1');
  const first = await gw.createPayment(key('T1', 'leg-2:create'), req);
  const more = await Promise.all(Array.from({ length: 5 }, () => gw.createPayment(key('T1', 'leg-2:create'), req)));
  for (const r of more) t.same(r, first);
  t.equal(store.effects({ system: 'paymentGateway', verb: 'createPayment' }).length, 1);
});

t.test('a close before the create succeeds and the late create is refused with PAYMENT_CLOSED', async (t) => {
  const { systems: { paymentGateway: gw }, store } = openSims(t);
  t.same(await gw.closePayment(key('T1', 'leg-2:close'), { paymentNo: 'T1-P1' }), { ok: true });
  t.match(await gw.createPayment(key('T1', 'leg-2:create'), paymentRequest('T1')), { ok: false, code: 'PAYMENT_CLOSED' });
  t.equal(await gw.queryPayment('T1-P1'), null);
  t.match(store.effects({ system: 'paymentGateway' }), [{ verb: 'closePayment', detail: 'empty-rollback' }]);
});

t.test('a closed payment cannot be paid and a paid payment cannot be closed', async (t) => {
  const { systems: { paymentGateway: gw }, gateway } = openSims(t);
  await gw.createPayment(key('T1', 'leg-2:create'), paymentRequest('T1'));
  t.same(await gw.closePayment(key('T1', 'leg-2:close'), { paymentNo: 'T1-P1' }), { ok: true });
  t.match(await gateway.pay('T1-P1'), { ok: false, code: 'PAYMENT_CLOSED' });
  t.match(await gw.queryPayment('T1-P1'), { status: 'closed' });
  t.match(await gw.createPayment(key('T1', 'leg-2:create:again'), paymentRequest('T1')), { ok: false, code: 'PAYMENT_CLOSED' });

  await gw.createPayment(key('T2', 'leg-2:create'), paymentRequest('T2'));
  const paid = await gateway.pay('T2-P1');
  t.match(paid, { ok: true, payment: { status: 'succeeded', channelTradeNo: /^4200\d{24}$/, paidAt: String } });
  t.match(await gw.closePayment(key('T2', 'leg-2:close'), { paymentNo: 'T2-P1' }), { ok: false, code: 'ALREADY_PAID' });
  t.match(await gw.queryPayment('T2-P1'), { status: 'succeeded' });
});

t.test('paying twice charges once', async (t) => {
  const { systems: { paymentGateway: gw }, gateway, store } = openSims(t);
  await gw.createPayment(key('T1', 'leg-2:create'), paymentRequest('T1'));
  const first = await gateway.pay('T1-P1');
  t.same(await gateway.pay('T1-P1'), first);
  t.equal(store.effects({ system: 'paymentGateway', verb: 'pay' }).length, 1);
  t.equal(gateway.callbacks('T1-P1').length, 1);
});

t.test('the gateway refuses to collect after the payment expired', async (t) => {
  const { systems: { paymentGateway: gw }, gateway } = openSims(t);
  await gw.createPayment(key('T1', 'leg-2:create'), { ...paymentRequest('T1'), expiresAt: new Date(Date.now() - 1000).toISOString() });
  t.match(await gateway.pay('T1-P1'), { ok: false, code: 'PAYMENT_EXPIRED' });
  t.match(await gw.queryPayment('T1-P1'), { status: 'pending' });
});

t.test('a declined payment is failed, cannot be paid, and can still be closed', async (t) => {
  const { systems: { paymentGateway: gw }, gateway } = openSims(t);
  await gw.createPayment(key('T1', 'leg-2:create'), paymentRequest('T1'));
  t.match(await gateway.fail('T1-P1'), { ok: true, payment: { status: 'failed' } });
  t.match(await gateway.pay('T1-P1'), { ok: false, code: 'PAYMENT_FAILED' });
  t.same(await gw.closePayment(key('T1', 'leg-2:close'), { paymentNo: 'T1-P1' }), { ok: true });
  t.match(gateway.callbacks('T1-P1'), [{ body: /"result_code":"FAIL","err_code":"PAYERROR"/ }], 'in wechat\'s words');
  t.match(await gateway.pay('T9-P1'), { ok: false, code: 'PAYMENT_NOT_FOUND' });
});

t.test('forcePay captures a closed payment, as when the customer paid just as we closed it', async (t) => {
  const { systems: { paymentGateway: gw }, gateway, store } = openSims(t);
  await gw.createPayment(key('T1', 'leg-2:create'), paymentRequest('T1'));
  await gw.closePayment(key('T1', 'leg-2:close'), { paymentNo: 'T1-P1' });
  t.match(await gateway.pay('T1-P1'), { ok: false, code: 'PAYMENT_CLOSED' }, 'the customer cannot pay it');

  const forced = await gateway.forcePay('T1-P1');
  t.match(forced, { ok: true, payment: { status: 'succeeded', channelTradeNo: /^4200/, paidAt: String } });
  t.same(await gateway.forcePay('T1-P1'), forced, 'forcing again changes nothing');
  t.match(store.effects({ system: 'paymentGateway', verb: 'forcePay' }), [{ key: 'T1-P1', detail: 'after-close' }]);
  t.match(gateway.callbacks('T1-P1'), [{ path: '/v1/callbacks/payments/wechat', body: /"result_code":"SUCCESS"/ }], 'a success callback follows');
  t.same(await gw.closePayment(key('T1', 'leg-2:close'), { paymentNo: 'T1-P1' }), { ok: true }, 'the close keeps its first answer');
  t.match(await gw.closePayment(key('T1', 'leg-2:close:again'), { paymentNo: 'T1-P1' }), { ok: false, code: 'ALREADY_PAID' });
  t.match(await gw.refundPayment(key('T1', 'late-payment:refund'), { paymentNo: 'T1-P1', refundNo: 'R1-1', amountFen: 27300 }),
    { ok: true, status: 'pending' }, 'and it can be refunded');

  await gw.createPayment(key('T2', 'leg-2:create'), { ...paymentRequest('T2'), expiresAt: new Date(Date.now() - 1000).toISOString() });
  t.match(await gateway.forcePay('T2-P1'), { ok: true, payment: { status: 'succeeded' } }, 'an expired payment too');
  await gw.createPayment(key('T3', 'leg-2:create'), paymentRequest('T3'));
  await gateway.fail('T3-P1');
  t.match(await gateway.forcePay('T3-P1'), { ok: false, code: 'PAYMENT_FAILED' }, 'a declined payment stays declined');
  t.match(await gateway.forcePay('T9-P1'), { ok: false, code: 'PAYMENT_NOT_FOUND' });
});
