import t from 'tap';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { apiClient, FUEL_SALE, keyEntry, orderedSale, startHarness } from '../helpers/harness.ts';

type ErrorBody = { error: { code: string; message: string } };

t.test('bad input to start a transaction gets a 4xx with the right code', async (t) => {
  const { api } = await startHarness(t);
  const cases: [string, unknown, number, string][] = [
    ['unknown nozzle', { ...FUEL_SALE, items: [{ type: 'fuel', nozzleNo: 99, amount: 30000 }] }, 422, 'UNKNOWN_NOZZLE'],
    ['negative amount', { ...FUEL_SALE, items: [{ type: 'fuel', nozzleNo: 1, amount: -100 }] }, 400, 'INVALID_REQUEST'],
    ['zero amount', { ...FUEL_SALE, items: [{ type: 'fuel', nozzleNo: 1, amount: 0 }] }, 400, 'INVALID_REQUEST'],
    ['fractional amount', { ...FUEL_SALE, items: [{ type: 'fuel', nozzleNo: 1, amount: 300.5 }] }, 400, 'INVALID_REQUEST'],
    ['amount as a string', { ...FUEL_SALE, items: [{ type: 'fuel', nozzleNo: 1, amount: '30000' }] }, 400, 'INVALID_REQUEST'],
    ['both amount and volume', { ...FUEL_SALE, items: [{ type: 'fuel', nozzleNo: 1, amount: 30000, volumeMl: 40000 }] }, 400, 'INVALID_REQUEST'],
    ['neither amount nor volume', { ...FUEL_SALE, items: [{ type: 'fuel', nozzleNo: 1 }] }, 400, 'INVALID_REQUEST'],
    ['unknown top-level field', { ...FUEL_SALE, coupon: 'FREE' }, 400, 'INVALID_REQUEST'],
    ['unknown item field', { ...FUEL_SALE, items: [{ type: 'fuel', nozzleNo: 1, amount: 30000, discount: 5 }] }, 400, 'INVALID_REQUEST'],
    ['no items', { ...FUEL_SALE, items: [] }, 400, 'INVALID_REQUEST'],
    ['unknown payment method', { ...FUEL_SALE, paymentMethods: ['bitcoin'] }, 400, 'INVALID_REQUEST'],
    ['unknown user', { ...FUEL_SALE, userId: 'U404' }, 422, 'UNKNOWN_USER'],
    ['station of another merchant', { ...FUEL_SALE, merchantId: 'M2' }, 400, 'INVALID_REQUEST'],
    ['not JSON', '{"scene":', 400, 'INVALID_REQUEST'],
  ];
  for (const [name, body, status, code] of cases) {
    const res = await api<ErrorBody>('POST', '/v1/transactions', body);
    t.equal(res.status, status, `${name}: status`);
    t.equal(res.body.error?.code, code, `${name}: code`);
    t.type(res.body.error?.message, 'string', `${name}: says why`);
  }
});

t.test('a fuel item by volume is priced at round-half-up of price × volume', async (t) => {
  const { api } = await startHarness(t);
  const res = await api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, items: [{ type: 'fuel', nozzleNo: 1, volumeMl: 33333 }] });
  t.equal(res.status, 201);
  // 92# at 750 fen/L: 750 × 33.333 = 24999.75 → 25000 fen.
  t.match(res.body.quote.lines[0], { type: 'fuel', amount: 25000, volumeMl: 33333 });
});

t.test('requests without a valid key get 401, a sale for another merchant 403, its transaction 404 (issue 17)', async (t) => {
  const { url, api } = await startHarness(t, { config: { apiKeys: [keyEntry('m2-only', { system: 'pos-m2', scopes: ['trade'], merchants: ['M2'] })] } });
  t.equal((await apiClient(url, '')('POST', '/v1/transactions', FUEL_SALE)).status, 401);
  t.equal((await apiClient(url, 'wrong')('POST', '/v1/transactions', FUEL_SALE)).status, 401);
  const other = apiClient(url, 'm2-only');
  t.equal((await other<ErrorBody>('POST', '/v1/transactions', FUEL_SALE)).body.error.code, 'FORBIDDEN');
  const started = await api<TransactionView>('POST', '/v1/transactions', FUEL_SALE);
  t.equal((await other('GET', `/v1/transactions/${started.body.txnNo}`)).status, 404, 'another merchant’s transaction is not found');
});

t.test('order and payment refusals leave the stored transaction unchanged', async (t) => {
  const clock = new ManualClock();
  const { api, tc } = await startHarness(t, { clock });
  const stateOf = async (txnNo: string) => {
    // Before its order a transaction is a quote record (issue 21): the record views read, not only snapshots.
    const rec = await tc.reads.record(txnNo);
    const ctx = (rec!.snapshot as { context: { order: unknown; legs: unknown } }).context;
    return { state: rec!.stateValue, order: ctx.order, legs: ctx.legs, timers: rec!.timers };
  };

  const started = await api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  const { txnNo, quote } = started.body;
  const before = await stateOf(txnNo);
  const order = (body: unknown) => api<ErrorBody>('POST', `/v1/transactions/${txnNo}/order`, body);

  const other = await api<TransactionView>('POST', '/v1/transactions', FUEL_SALE);
  t.equal((await order({ quoteId: other.body.quote.quoteId, comboId: 'c-wechat' })).body.error.code, 'NOT_FOUND', "another transaction's quote");
  t.equal((await order({ quoteId: quote.quoteId, comboId: 'c-alipay' })).body.error.code, 'COMBO_NOT_IN_QUOTE');
  t.equal((await order({ quoteId: quote.quoteId, comboId: 'c-wechat', extra: 1 })).status, 400);
  clock.advance(10 * 60_000);
  const expired = await order({ quoteId: quote.quoteId, comboId: 'c-wechat' });
  t.equal(expired.status, 422);
  t.equal(expired.body.error.code, 'QUOTE_EXPIRED');
  t.same(await stateOf(txnNo), before, 'still quoted, no order, no timers');
  t.equal(tc.sims!.store.effects({ system: 'order' }).length, 0, 'the order system was never called');

  const ordered = await orderedSale(api, 'wechat');
  const orderedBefore = await stateOf(ordered.txnNo);
  const pay = (body: unknown) => api<ErrorBody>('POST', `/v1/transactions/${ordered.txnNo}/payments`, body);
  t.equal((await pay({ legs: [{ method: 'wechat', amount: ordered.payableAmount - 1 }] })).body.error.code, 'LEGS_MISMATCH');
  const svOrdered = await orderedSale(api, 'stored_value');
  const svPay = await api<ErrorBody>('POST', `/v1/transactions/${svOrdered.txnNo}/payments`, { legs: [{ method: 'wechat', amount: svOrdered.payableAmount }] });
  t.equal(svPay.body.error.code, 'LEGS_MISMATCH', 'a stored-value-only discount cannot be paid by wechat');
  t.match(svPay.body.error.message, /stored_value/);
  t.equal((await pay({ legs: [{ method: 'stored_value', amount: ordered.payableAmount }] })).body.error.code, 'INVALID_REQUEST', 'a card leg needs its card');
  t.equal((await pay({ legs: [{ method: 'wechat', amount: -5 }] })).status, 400);
  t.equal((await pay({ legs: [] })).body.error.code, 'LEGS_MISMATCH', 'no legs pay only an order with nothing to pay (issue 15)');
  t.same(await stateOf(ordered.txnNo), orderedBefore);
  t.equal((await api<ErrorBody>('POST', '/v1/transactions/T404/order', { quoteId: 'Q1', comboId: 'c-any' })).body.error.code, 'NOT_FOUND');
});

t.test('an Idempotency-Key replays the first response and refuses a different body', async (t) => {
  const { api } = await startHarness(t);
  const headers = { 'idempotency-key': 'start-123' };
  const first = await api<TransactionView>('POST', '/v1/transactions', FUEL_SALE, headers);
  const second = await api<TransactionView>('POST', '/v1/transactions', FUEL_SALE, headers);
  t.equal(second.status, 201);
  t.equal(second.body.txnNo, first.body.txnNo, 'the same transaction, not a second one');
  t.equal(second.headers.get('idempotent-replayed'), 'true');
  const reused = await api<ErrorBody>('POST', '/v1/transactions', { ...FUEL_SALE, userId: 'U2' }, headers);
  t.equal(reused.status, 422);
  t.equal(reused.body.error.code, 'IDEMPOTENCY_KEY_REUSED');
});
