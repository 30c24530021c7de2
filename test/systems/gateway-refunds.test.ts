import t from 'tap';
import type { Simulators } from '../../systems/sim/index.ts';
import { key, openSims, paymentRequest, sleep, until, type Cleanup } from './helpers.ts';

/** Simulators with T1-P1 (27300 fen, wechat) paid. */
async function paidPayment(t: Cleanup): Promise<Simulators> {
  const sims = openSims(t);
  await sims.systems.paymentGateway.createPayment(key('T1', 'leg-1:create'), paymentRequest('T1'));
  await sims.gateway.pay('T1-P1');
  return sims;
}

const refund = (refundNo: string, amountFen: number) => ({ paymentNo: 'T1-P1', refundNo, amountFen });

t.test('a refund is accepted as pending and succeeds on the next delivery pass', async (t) => {
  const sims = await paidPayment(t);
  const gw = sims.systems.paymentGateway;
  t.same(await gw.refundPayment(key('T1', 'refund:R1-1'), refund('R1-1', 5000)), { ok: true, refundNo: 'R1-1', status: 'pending' });
  t.match(await gw.queryRefund('R1-1'), { refundNo: 'R1-1', paymentNo: 'T1-P1', txnNo: 'T1', amountFen: 5000, status: 'pending', channelRefundNo: /^5030\d{24}$/ });
  t.notOk((await gw.queryRefund('R1-1'))?.refundedAt, 'no settlement time while pending');
  t.match(await gw.queryPayment('T1-P1'), { status: 'succeeded', refundedFen: 5000 }, 'a pending refund is no longer refundable');

  sims.start();
  await until(() => sims.gateway.peekRefund('R1-1')?.status === 'succeeded');
  t.match(await gw.queryRefund('R1-1'), { status: 'succeeded', refundedAt: /:\d\d\.000Z$/ });
  t.match(sims.store.effects({ system: 'paymentGateway', verb: 'settleRefund' }), [{ key: 'R1-1', detail: 'succeeded' }]);
  t.equal(await gw.queryRefund('R404'), null);
});

t.test('a repeated refund with the same key returns the first result and refunds once', async (t) => {
  const sims = await paidPayment(t);
  const gw = sims.systems.paymentGateway;
  const results = await Promise.all(Array.from({ length: 5 }, () => gw.refundPayment(key('T1', 'refund:R1-1'), refund('R1-1', 5000))));
  for (const r of results) t.same(r, { ok: true, refundNo: 'R1-1', status: 'pending' });
  t.equal(sims.store.effects({ system: 'paymentGateway', verb: 'refundPayment' }).length, 1);
  t.match(await gw.queryPayment('T1-P1'), { refundedFen: 5000 });

  sims.start();
  await until(() => sims.gateway.peekRefund('R1-1')?.status === 'succeeded');
  t.same(await gw.refundPayment(key('T1', 'refund:R1-1:again'), refund('R1-1', 5000)), { ok: true, refundNo: 'R1-1', status: 'succeeded' },
    'the same refundNo under another key answers with the refund as it stands');
  t.equal(sims.store.effects({ system: 'paymentGateway', verb: 'refundPayment' }).length, 1, 'and refunds nothing more');
  t.match(await gw.queryPayment('T1-P1'), { refundedFen: 5000 });
});

t.test('20 concurrent refunds never add up to more than was paid', async (t) => {
  const sims = await paidPayment(t);
  const gw = sims.systems.paymentGateway;
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => gw.refundPayment(key('T1', `refund:R${i}-1`), refund(`R${i}-1`, 3000))));
  t.equal(results.filter((r) => r.ok).length, 9, '9 × 3000 fit into 27300');
  t.same(results.flatMap((r) => (r.ok ? [] : [r.code])), Array(11).fill('REFUND_EXCEEDS_PAID'), 'the other 11 are refused');
  t.match(await gw.queryPayment('T1-P1'), { refundedFen: 27000 });

  t.match(await gw.refundPayment(key('T1', 'refund:R20-1'), refund('R20-1', 301)), { ok: false, code: 'REFUND_EXCEEDS_PAID', message: /300 fen left/ });
  t.match(await gw.refundPayment(key('T1', 'refund:R21-1'), refund('R21-1', 300)), { ok: true }, 'the exact rest is refundable');
  t.match(await gw.queryPayment('T1-P1'), { refundedFen: 27300 });
  t.equal(sims.store.effects({ system: 'paymentGateway', verb: 'refundPayment' }).length, 10);
});

t.test('a refund of a payment that was not paid is refused, and of an unknown one too', async (t) => {
  const sims = openSims(t);
  const gw = sims.systems.paymentGateway;
  await gw.createPayment(key('T1', 'leg-1:create'), paymentRequest('T1'));
  t.match(await gw.refundPayment(key('T1', 'refund:R1-1'), refund('R1-1', 100)), { ok: false, code: 'PAYMENT_NOT_PAID', message: /pending/ });
  await gw.closePayment(key('T1', 'leg-1:close'), { paymentNo: 'T1-P1' });
  t.match(await gw.refundPayment(key('T1', 'refund:R1-2'), refund('R1-2', 100)), { ok: false, code: 'PAYMENT_NOT_PAID', message: /closed/ });
  t.match(await gw.refundPayment(key('T9', 'refund:R9-1'), { paymentNo: 'T9-P1', refundNo: 'R9-1', amountFen: 100 }), { ok: false, code: 'PAYMENT_NOT_FOUND' });
  t.same(sims.gateway.peekRefunds('T1-P1'), []);
  t.same(sims.store.effects({ system: 'paymentGateway', verb: 'refundPayment' }), []);
});

t.test('under failRefunds a refund fails, gives its amount back, and can be retried under its refundNo', async (t) => {
  const sims = await paidPayment(t);
  const gw = sims.systems.paymentGateway;
  sims.gateway.configureCallbacks({ failRefunds: true });
  sims.start();
  await gw.refundPayment(key('T1', 'refund:R1-1'), refund('R1-1', 27300));
  await until(() => sims.gateway.peekRefund('R1-1')?.status === 'failed');
  t.match(await gw.queryRefund('R1-1'), { status: 'failed', refundedAt: String });
  t.match(await gw.queryPayment('T1-P1'), { refundedFen: 0 }, 'the failed amount is refundable again');
  t.match(sims.gateway.refundCallbacks('R1-1'), [{ path: '/v1/callbacks/refunds/wechat', body: /"refund_status":"CHANGE"/ }], 'a FAIL callback');

  sims.gateway.configureCallbacks({ failRefunds: false });
  t.same(await gw.refundPayment(key('T1', 'refund:R1-1:retry'), refund('R1-1', 27300)), { ok: true, refundNo: 'R1-1', status: 'pending' });
  await until(() => sims.gateway.peekRefund('R1-1')?.status === 'succeeded');
  t.match(sims.store.effects({ system: 'paymentGateway', verb: 'refundPayment' }), [{ detail: null }, { detail: 'retry' }]);
  t.match(sims.gateway.refundCallbacks('R1-1'), [{ body: /"CHANGE"/ }, { body: /"refund_status":"SUCCESS"/ }]);
});

t.test('a refund waits refundDelayMs before the channel settles it', async (t) => {
  const sims = await paidPayment(t);
  const gw = sims.systems.paymentGateway;
  sims.gateway.configureCallbacks({ refundDelayMs: 300 });
  sims.start();
  const requestedAt = Date.now();
  await gw.refundPayment(key('T1', 'refund:R1-1'), refund('R1-1', 100));
  await sleep(150);
  t.match(await gw.queryRefund('R1-1'), { status: 'pending' });
  await until(() => sims.gateway.peekRefund('R1-1')?.status === 'succeeded');
  t.ok(Date.now() - requestedAt >= 290);
});

t.test('a refund number reused for another refund is a caller bug and throws', async (t) => {
  const sims = await paidPayment(t);
  const gw = sims.systems.paymentGateway;
  await gw.refundPayment(key('T1', 'refund:R1-1'), refund('R1-1', 100));
  await t.rejects(gw.refundPayment(key('T1', 'refund:R1-1:other'), refund('R1-1', 200)), { name: 'IdempotencyConflictError' });
  await t.rejects(gw.refundPayment(key('T1', 'refund:R1-2'), refund('R1-2', 0)), RangeError);
  t.match(await gw.queryPayment('T1-P1'), { refundedFen: 100 });
});
