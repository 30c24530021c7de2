import t from 'tap';
import { key, openSims } from './helpers.ts';

const waterAndCola = { lockKey: 'T1:goods', stationId: 'S1', items: [{ sku: 'SKU-WATER', quantity: 2 }, { sku: 'SKU-COLA', quantity: 1 }] };

t.test('getGoods answers price, category and available stock for known SKUs only', async (t) => {
  const { systems: { goods } } = openSims(t);
  t.same(await goods.getGoods('S1', ['SKU-WATER', 'SKU-NOPE', 'SKU-NOODLE']), [
    { sku: 'SKU-WATER', name: 'Nongfu Spring water 550 ml', category: 'drinks', priceFen: 200, availableStock: 120 },
    { sku: 'SKU-NOODLE', name: 'Master Kong braised beef instant noodles', category: 'food', priceFen: 550, availableStock: 0 },
  ]);
  t.same(await goods.getGoods('S3', ['SKU-OIL']), [], 'S3 does not sell engine oil');
});

t.test('reserve moves every item from available to reserved, deduct consumes them, release returns them', async (t) => {
  const { systems: { goods } } = openSims(t);
  t.same(await goods.reserve(key('T1', 'goods:reserve'), waterAndCola), { ok: true, lockKey: 'T1:goods' });
  t.match(goods.peekStock('S1', 'SKU-WATER'), { availableStock: 118, reservedStock: 2 });
  t.match(goods.peekStock('S1', 'SKU-COLA'), { availableStock: 79, reservedStock: 1 });
  t.same(await goods.deduct(key('T1', 'goods:deduct'), { lockKey: 'T1:goods' }), { ok: true });
  t.match(goods.peekStock('S1', 'SKU-WATER'), { availableStock: 118, reservedStock: 0 });

  await goods.reserve(key('T2', 'goods:reserve'), { ...waterAndCola, lockKey: 'T2:goods' });
  t.same(await goods.release(key('T2', 'goods:release'), { lockKey: 'T2:goods' }), { ok: true });
  t.match(goods.peekStock('S1', 'SKU-WATER'), { availableStock: 118, reservedStock: 0 });
  t.match(goods.peekStock('S1', 'SKU-COLA'), { availableStock: 79, reservedStock: 0 });
  t.match(goods.peekReservation('T2:goods'), { status: 'cancelled', items: [{ sku: 'SKU-WATER', quantity: 2 }, { sku: 'SKU-COLA', quantity: 1 }] });
});

t.test('the same SKU in two lines is reserved as their sum', async (t) => {
  const { systems: { goods } } = openSims(t);
  const req = { lockKey: 'T1:goods', stationId: 'S1', items: [{ sku: 'SKU-WATER', quantity: 1 }, { sku: 'SKU-WATER', quantity: 3 }] };
  await goods.reserve(key('T1', 'goods:reserve'), req);
  t.match(goods.peekStock('S1', 'SKU-WATER'), { availableStock: 116, reservedStock: 4 });
});

t.test('a repeated reserve with the same key returns the first result and reserves once', async (t) => {
  const { systems: { goods }, store } = openSims(t);
  const first = await goods.reserve(key('T1', 'goods:reserve'), waterAndCola);
  t.same(await goods.reserve(key('T1', 'goods:reserve'), waterAndCola), first);
  t.same(await goods.reserve(key('T1', 'goods:reserve:retry'), waterAndCola), first, 'a new key for the same lockKey changes nothing either');
  t.match(goods.peekStock('S1', 'SKU-WATER'), { availableStock: 118, reservedStock: 2 });
  t.equal(store.effects({ system: 'goods' }).length, 1);
});

t.test('concurrent duplicate reserves reserve the stock exactly once', async (t) => {
  const { systems: { goods }, store } = openSims(t);
  const results = await Promise.all(Array.from({ length: 8 }, () => goods.reserve(key('T1', 'goods:reserve'), waterAndCola)));
  for (const r of results) t.same(r, { ok: true, lockKey: 'T1:goods' });
  t.match(goods.peekStock('S1', 'SKU-WATER'), { availableStock: 118, reservedStock: 2 });
  t.equal(store.effects({ system: 'goods', verb: 'reserve' }).length, 1);
});

t.test('a reserve with one short item is refused with OUT_OF_STOCK and reserves nothing', async (t) => {
  const { systems: { goods }, store } = openSims(t);
  const req = { lockKey: 'T1:goods', stationId: 'S1', items: [{ sku: 'SKU-WATER', quantity: 2 }, { sku: 'SKU-OIL', quantity: 2 }] };
  t.match(await goods.reserve(key('T1', 'goods:reserve'), req), { ok: false, code: 'OUT_OF_STOCK', message: /SKU-OIL/ });
  t.match(goods.peekStock('S1', 'SKU-WATER'), { availableStock: 120, reservedStock: 0 });
  t.match(goods.peekStock('S1', 'SKU-OIL'), { availableStock: 1, reservedStock: 0 });
  t.equal(goods.peekReservation('T1:goods'), null);
  t.same(store.effects(), []);

  const soldOut = { lockKey: 'T2:goods', stationId: 'S1', items: [{ sku: 'SKU-NOODLE', quantity: 1 }] };
  t.match(await goods.reserve(key('T2', 'goods:reserve'), soldOut), { ok: false, code: 'OUT_OF_STOCK' });
  const unknown = { lockKey: 'T3:goods', stationId: 'S3', items: [{ sku: 'SKU-OIL', quantity: 1 }] };
  t.match(await goods.reserve(key('T3', 'goods:reserve'), unknown), { ok: false, code: 'OUT_OF_STOCK' });
});

t.test('the last unit goes to one order; the next is refused until it is released', async (t) => {
  const { systems: { goods } } = openSims(t);
  const lastOil = (txnNo: string) => ({ lockKey: `${txnNo}:goods`, stationId: 'S1', items: [{ sku: 'SKU-OIL', quantity: 1 }] });
  t.match(await goods.reserve(key('T1', 'goods:reserve'), lastOil('T1')), { ok: true });
  t.match(await goods.reserve(key('T2', 'goods:reserve'), lastOil('T2')), { ok: false, code: 'OUT_OF_STOCK' });
  await goods.release(key('T1', 'goods:release'), { lockKey: 'T1:goods' });
  t.match(await goods.reserve(key('T3', 'goods:reserve'), lastOil('T3')), { ok: true });
});

t.test('a release without a reserve succeeds and a reserve arriving after it is refused (no hanging lock)', async (t) => {
  const { systems: { goods }, store } = openSims(t);
  t.same(await goods.release(key('T1', 'goods:release'), { lockKey: 'T1:goods' }), { ok: true });
  t.match(store.effects({ system: 'goods' }), [{ verb: 'release', detail: 'empty-rollback' }]);
  t.match(await goods.reserve(key('T1', 'goods:reserve'), waterAndCola), { ok: false, code: 'LOCK_CANCELLED' });
  t.match(goods.peekStock('S1', 'SKU-WATER'), { availableStock: 120, reservedStock: 0 });
  t.match(await goods.deduct(key('T1', 'goods:deduct'), { lockKey: 'T1:goods' }), { ok: false, code: 'LOCK_CANCELLED' });
  t.equal(store.effects({ system: 'goods' }).length, 1);
});

t.test('release after deduct is refused with ALREADY_CONFIRMED and the goods stay sold', async (t) => {
  const { systems: { goods } } = openSims(t);
  await goods.reserve(key('T1', 'goods:reserve'), waterAndCola);
  await goods.deduct(key('T1', 'goods:deduct'), { lockKey: 'T1:goods' });
  t.match(await goods.release(key('T1', 'goods:release'), { lockKey: 'T1:goods' }), { ok: false, code: 'ALREADY_CONFIRMED' });
  t.match(goods.peekStock('S1', 'SKU-WATER'), { availableStock: 118, reservedStock: 0 });
});

t.test('deduct after release is refused with LOCK_CANCELLED and the goods stay on the shelf', async (t) => {
  const { systems: { goods } } = openSims(t);
  await goods.reserve(key('T1', 'goods:reserve'), waterAndCola);
  await goods.release(key('T1', 'goods:release'), { lockKey: 'T1:goods' });
  t.match(await goods.deduct(key('T1', 'goods:deduct'), { lockKey: 'T1:goods' }), { ok: false, code: 'LOCK_CANCELLED' });
  t.match(goods.peekStock('S1', 'SKU-WATER'), { availableStock: 120, reservedStock: 0 });
  t.match(await goods.deduct(key('T9', 'goods:deduct'), { lockKey: 'T9:goods' }), { ok: false, code: 'LOCK_NOT_FOUND' });
});

t.test('a reserve without items or with a non-positive quantity is a caller bug and throws', async (t) => {
  const { systems: { goods } } = openSims(t);
  await t.rejects(goods.reserve(key('T1', 'goods:reserve'), { lockKey: 'T1:goods', stationId: 'S1', items: [] }), RangeError);
  await t.rejects(goods.reserve(key('T1', 'goods:reserve'), { lockKey: 'T1:goods', stationId: 'S1', items: [{ sku: 'SKU-WATER', quantity: 0 }] }), RangeError);
});

t.test('goods faults fail the call before its effect', async (t) => {
  const { systems: { goods }, faults, store } = openSims(t);
  faults.goods.configure({ reserve: { failNext: 1 } });
  await t.rejects(goods.reserve(key('T1', 'goods:reserve'), waterAndCola), { name: 'DownstreamUnavailableError', system: 'goods' });
  t.same(store.effects(), []);
  t.match(await goods.reserve(key('T1', 'goods:reserve'), waterAndCola), { ok: true });
});
