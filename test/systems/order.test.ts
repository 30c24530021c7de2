import t from 'tap';
import type { CreateOrderRequest } from '../../systems/order/port.ts';
import { key, openSims } from './helpers.ts';

function orderRequest(txnNo: string, orderNo = `O-${txnNo}`): CreateOrderRequest {
  return {
    orderNo,
    txnNo,
    merchantId: 'M1',
    stationId: 'S1',
    userId: 'U1',
    lines: [{ lineNo: 1, type: 'fuel', description: '92# 40.00 L', amount: 30000, netAmount: 27300, volumeMl: 40000 }],
    originalAmountFen: 30000,
    discountAmountFen: 2700,
    payableAmountFen: 27300,
  };
}

t.test('a repeated create with the same key returns the first result and creates once', async (t) => {
  const { systems: { order }, store } = openSims(t);
  const req = orderRequest('T1');
  t.same(await order.createOrder(key('T1', 'order:create'), req), { ok: true, orderNo: 'O-T1' });
  t.same(await order.createOrder(key('T1', 'order:create'), req), { ok: true, orderNo: 'O-T1' });
  t.match(await order.getOrder('O-T1'), { ...req, status: 'created' });
  t.equal(store.effects({ system: 'order', verb: 'createOrder' }).length, 1);
});

t.test('concurrent duplicate creates create the order once', async (t) => {
  const { systems: { order }, store } = openSims(t);
  const req = orderRequest('T1');
  const results = await Promise.all(Array.from({ length: 6 }, () => order.createOrder(key('T1', 'order:create'), req)));
  for (const r of results) t.same(r, { ok: true, orderNo: 'O-T1' });
  t.equal(store.effects({ system: 'order' }).length, 1);
});

t.test('a cancel before the create succeeds and the late create is refused with ORDER_CANCELLED', async (t) => {
  const { systems: { order }, store } = openSims(t);
  t.same(await order.cancelOrder(key('T1', 'order:cancel'), { orderNo: 'O-T1', reason: 'timeout' }), { ok: true });
  t.match(await order.createOrder(key('T1', 'order:create'), orderRequest('T1')), { ok: false, code: 'ORDER_CANCELLED' });
  t.equal(await order.getOrder('O-T1'), null);
  t.match(store.effects({ system: 'order' }), [{ verb: 'cancelOrder', detail: 'empty-rollback' }]);
  t.match(await order.markPaid(key('T1', 'order:paid'), { orderNo: 'O-T1', paidAmountFen: 27300 }), { ok: false, code: 'ORDER_CANCELLED' });
});

t.test('a paid order cannot be cancelled and a cancelled order cannot be paid', async (t) => {
  const { systems: { order } } = openSims(t);
  await order.createOrder(key('T1', 'order:create'), orderRequest('T1'));
  t.same(await order.markPaid(key('T1', 'order:paid'), { orderNo: 'O-T1', paidAmountFen: 27300 }), { ok: true });
  t.match(await order.cancelOrder(key('T1', 'order:cancel'), { orderNo: 'O-T1', reason: 'user' }), { ok: false, code: 'ORDER_PAID' });
  t.match(await order.getOrder('O-T1'), { status: 'paid' });

  await order.createOrder(key('T2', 'order:create'), orderRequest('T2'));
  t.same(await order.cancelOrder(key('T2', 'order:cancel'), { orderNo: 'O-T2', reason: 'user' }), { ok: true });
  t.match(await order.markPaid(key('T2', 'order:paid'), { orderNo: 'O-T2', paidAmountFen: 27300 }), { ok: false, code: 'ORDER_CANCELLED' });
  t.match(await order.getOrder('O-T2'), { status: 'cancelled' });
});

t.test('marking an unknown order paid is refused with ORDER_NOT_FOUND', async (t) => {
  const { systems: { order } } = openSims(t);
  t.match(await order.markPaid(key('T1', 'order:paid'), { orderNo: 'O-NONE', paidAmountFen: 1 }), { ok: false, code: 'ORDER_NOT_FOUND' });
});

t.test('an order re-placed after cancel in the same transaction gets its own life', async (t) => {
  const { systems: { order } } = openSims(t);
  await order.createOrder(key('T1', 'order:create'), orderRequest('T1', 'O-1'));
  await order.cancelOrder(key('T1', 'order:cancel'), { orderNo: 'O-1', reason: 're-quote' });
  t.same(await order.createOrder(key('T1', 'order:create:2'), orderRequest('T1', 'O-2')), { ok: true, orderNo: 'O-2' });
  t.match(await order.getOrder('O-1'), { status: 'cancelled' });
  t.match(await order.getOrder('O-2'), { status: 'created' });
});

t.test('refunds of a paid order are recorded once each and never exceed what was paid', async (t) => {
  const { systems: { order }, store } = openSims(t);
  const req = orderRequest('T9');
  t.match(await order.markRefunded(key('T9', 'early'), { orderNo: req.orderNo, refundNo: 'R0', amountFen: 100 }), { ok: false, code: 'ORDER_NOT_PAID' });
  await order.createOrder(key('T9', 'order:create'), req);
  await order.markPaid(key('T9', 'order:paid'), { orderNo: req.orderNo, paidAmountFen: req.payableAmountFen });
  const first = { orderNo: req.orderNo, refundNo: 'R1', amountFen: 20000 };
  const answers = await Promise.all([1, 2, 3].map(() => order.markRefunded(key('T9', 'refund-1'), first)));
  t.same(answers, [1, 2, 3].map(() => ({ ok: true, refundedFen: 20000 })));
  t.same(await order.markRefunded(key('T9', 'refund-1-again'), first), { ok: true, refundedFen: 20000 }, 'the same refund number under a new key: no second effect');
  t.match(await order.markRefunded(key('T9', 'refund-2'), { orderNo: req.orderNo, refundNo: 'R2', amountFen: 7301 }), { ok: false, code: 'REFUND_EXCEEDS_PAID' });
  t.same(await order.markRefunded(key('T9', 'refund-3'), { orderNo: req.orderNo, refundNo: 'R3', amountFen: 7300 }), { ok: true, refundedFen: 27300 });
  t.equal(store.effects({ system: 'order', verb: 'markRefunded' }).length, 2);
});
