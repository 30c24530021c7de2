import t from 'tap';
import { DownstreamUnavailableError, isDownstreamUnavailable } from '../../systems/contract.ts';
import { FaultInjector } from '../../systems/sim/faults.ts';
import { key, openSims } from './helpers.ts';

const lockReq = { lockKey: 'T1:leg-1', cardNo: 'C1', amountFen: 30000 };

t.test('an outage fails every call before its effect', async (t) => {
  const { systems, faults, store } = openSims(t);
  faults.storedValue.configure({ '*': { outage: true } });
  await t.rejects(systems.storedValue.lock(key('T1', 'leg-1:lock'), lockReq), DownstreamUnavailableError);
  await t.rejects(systems.storedValue.getCard('C1'), { name: 'DownstreamUnavailableError', system: 'storedValue' });
  t.same(store.effects(), []);
  t.match(systems.storedValue.peekCard('C1'), { availableFen: 100000 });
  t.match(await systems.user.getUser('U1'), { level: 'gold' }, 'other systems are unaffected');
  faults.storedValue.clear();
  t.match(await systems.storedValue.lock(key('T1', 'leg-1:lock'), lockReq), { ok: true });
});

t.test('failNext fails exactly the next N calls of its operation', async (t) => {
  const { systems, faults } = openSims(t);
  faults.user.configure({ getUser: { failNext: 2 } });
  await t.rejects(systems.user.getUser('U1'));
  await t.rejects(systems.user.getUser('U1'));
  t.match(await systems.user.getUser('U1'), { userId: 'U1' });
  t.same(faults.user.current(), { getUser: { failNext: 0 } });
});

t.test("an operation's own settings win over the '*' settings", async (t) => {
  const { systems, faults } = openSims(t);
  faults.fuelCatalog.configure({ '*': { outage: true }, getNozzle: { outage: false } });
  t.match(await systems.fuelCatalog.getNozzle('S1', 3), { grade: '92', unitPrice: 750 });
  await t.rejects(systems.fuelCatalog.getStation('S1'));
});

t.test('failAfterEffect commits the effect and loses the response; the retry sees the first result', async (t) => {
  const { systems, faults, store } = openSims(t);
  faults.storedValue.configure({ lock: { failAfterEffect: 1 } });
  const err = await systems.storedValue.lock(key('T1', 'leg-1:lock'), lockReq).catch((e: unknown) => e);
  t.ok(isDownstreamUnavailable(err), 'the caller sees a transport fault');
  t.match(systems.storedValue.peekCard('C1'), { availableFen: 70000, lockedFen: 30000 }, 'yet the lock happened');
  t.same(await systems.storedValue.lock(key('T1', 'leg-1:lock'), lockReq), { ok: true, lockKey: 'T1:leg-1' });
  t.equal(store.effects({ system: 'storedValue' }).length, 1);
});

t.test('delayAfterEffectMs holds the response while the effect is already visible', async (t) => {
  const { systems, faults } = openSims(t);
  faults.order.configure({ cancelOrder: { delayAfterEffectMs: 150 } });
  const started = Date.now();
  const cancel = systems.order.cancelOrder(key('T1', 'order:cancel'), { orderNo: 'O1', reason: 'x' });
  await new Promise((r) => setTimeout(r, 50));
  t.match(await systems.order.createOrder(key('T1', 'order:create'), {
    orderNo: 'O1', txnNo: 'T1', merchantId: 'M1', stationId: 'S1', userId: 'U1', lines: [],
    originalAmountFen: 0, discountAmountFen: 0, payableAmountFen: 0,
  }), { ok: false, code: 'ORDER_CANCELLED' }, 'the cancel took effect before its response');
  t.same(await cancel, { ok: true });
  t.ok(Date.now() - started >= 140);
});

t.test('latencyMs delays the call before its effect', async (t) => {
  const { systems, faults } = openSims(t);
  faults.promotion.configure({ listPromotions: { latencyMs: 80 } });
  const started = Date.now();
  await systems.promotion.listPromotions({ merchantId: 'M1', stationId: 'S1' });
  t.ok(Date.now() - started >= 75);
});

t.test('every call yields to the event loop before its effect', async (t) => {
  const { systems } = openSims(t);
  const pending = systems.storedValue.lock(key('T1', 'leg-1:lock'), lockReq);
  t.match(systems.storedValue.peekCard('C1'), { availableFen: 100000, lockedFen: 0 }, 'nothing happened synchronously');
  await pending;
  t.match(systems.storedValue.peekCard('C1'), { availableFen: 70000 });
});

t.test('failRate draws from a seeded RNG, so a configuration replays the same failures', async (t) => {
  const pattern = async (injector: FaultInjector) => {
    injector.configure({ '*': { failRate: 0.5 } });
    const outcomes: boolean[] = [];
    for (let i = 0; i < 40; i++) outcomes.push(await injector.run('x', () => true).catch(() => false));
    return outcomes;
  };
  const a = await pattern(new FaultInjector('order', 7));
  const b = await pattern(new FaultInjector('order', 7));
  t.same(a, b);
  t.ok(a.includes(true) && a.includes(false), 'some calls fail and some succeed');
  const always = new FaultInjector('order');
  always.configure({ '*': { failRate: 1 } });
  await t.rejects(always.run('x', () => 1));
});
