import { writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import t from 'tap';
import { InvalidDatasetError, loadDataset, validateDataset, type Dataset } from '../../systems/sim/dataset.ts';
import { createSimulators } from '../../systems/sim/index.ts';
import { demo, key, SECRET } from './helpers.ts';

t.test('the demo dataset is valid and holds the promised world', async (t) => {
  t.equal(demo.merchants.length, 2);
  t.equal(demo.stations.length, 3);
  for (const s of demo.stations) {
    t.equal(s.timeZone, 'Asia/Shanghai');
    t.same(s.nozzles.map((n) => n.nozzleNo), [1, 2, 3, 4, 5, 6, 7, 8]);
  }
  t.same(demo.stations[0]?.nozzles.map((n) => `${n.grade}:${n.unitPrice}`), [
    '92:750', '92:750', '92:750', '95:798', '95:798', '98:880', '0:720', '0:720',
  ]);
  t.same(demo.users.map((u) => u.userId), ['U1', 'U2', 'U3', 'U4', 'U5']);
  t.same(new Set(demo.users.map((u) => u.level)), new Set(['normal', 'silver', 'gold']));
  t.match(demo.cards.find((c) => c.cardNo === 'C1'), { userId: 'U1', balanceFen: 100000 });
  t.ok(demo.cards.some((c) => c.balanceFen < 5000), 'one card has a small balance');
});

t.test('the demo dataset stocks the shops and gives members coupons and points', async (t) => {
  const s1 = demo.goods.filter((g) => g.stationId === 'S1');
  t.same(s1.map((g) => `${g.sku}:${g.category}:${g.priceFen}:${g.stock}`), [
    'SKU-WATER:drinks:200:120', 'SKU-COLA:drinks:350:80', 'SKU-NOODLE:food:550:0', 'SKU-WASH:service:2500:50', 'SKU-OIL:auto:6800:1',
  ]);
  t.match(demo.pointsAccounts.find((a) => a.userId === 'U1'), { balance: 5000, rule: { pointsPerYuan: 100, step: 100, maxRatioBp: 1000 } });
  t.ok(demo.pointsAccounts.some((a) => a.balance === 0), 'one account is empty');
  const nov25 = Date.parse('2026-11-25T00:00:00+08:00');
  const endOf2027 = Date.parse('2027-12-31T23:59:59+08:00');
  const u1 = demo.coupons.filter((c) => c.userId === 'U1');
  const lasting = u1.filter((c) => c.status !== 'used' && Date.parse(c.validFrom) <= nov25 && Date.parse(c.validTo) >= endOf2027);
  t.same(lasting.map((c) => c.couponId), ['CP1', 'CP2', 'CP3', 'CP4'], 'valid for the whole demo period');
  t.match(u1.find((c) => c.couponId === 'CP2'), { benefit: { type: 'cash', valueFen: 2000 }, stackableWithPromotions: false });
  t.ok(u1.some((c) => Date.parse(c.validTo) < nov25), 'one coupon has expired');
  t.ok(u1.some((c) => c.status === 'used'), 'one coupon is used');
  for (const p of demo.promotions) {
    if (p.validTo) t.ok(Date.parse(p.validTo) >= endOf2027, `${p.id} runs through 2027`);
  }
});

t.test('a dataset that breaks the schema is rejected with the path of the problem', async (t) => {
  const bad = structuredClone(demo) as Dataset;
  const nozzle = bad.stations[1]?.nozzles[2];
  if (!nozzle) throw new Error('demo dataset changed');
  nozzle.unitPrice = 7.5;
  t.throws(() => validateDataset(bad, 'bad.json'), {
    name: 'InvalidDatasetError',
    message: /bad\.json.*\/stations\/1\/nozzles\/2\/unitPrice must be integer/,
  });
});

t.test('a promotion benefit is checked against its own type', async (t) => {
  const bad = structuredClone(demo) as Dataset;
  const raw = bad.promotions[1] as unknown as { benefit: Record<string, unknown> };
  raw.benefit = { type: 'percent', bp: 300, valueFen: 5 };
  t.throws(() => validateDataset(bad), { message: /\/promotions\/1\/benefit must NOT have additional properties \(valueFen\)/ });
});

t.test('a coupon or a goods entry that breaks the schema is rejected with its path', async (t) => {
  const badCoupon = structuredClone(demo) as Dataset;
  const raw = badCoupon.coupons[2] as unknown as { benefit: Record<string, unknown> };
  raw.benefit = { type: 'percent', bp: 500, valueFen: 1500 };
  t.throws(() => validateDataset(badCoupon), { message: /\/coupons\/2\/benefit must NOT have additional properties \(valueFen\)/ });

  const badGoods = structuredClone(demo) as Dataset;
  const water = badGoods.goods[0];
  if (!water) throw new Error('demo dataset changed');
  water.stock = -1;
  t.throws(() => validateDataset(badGoods), { message: /\/goods\/0\/stock must be >= 0/ });

  const badStatus = structuredClone(demo) as unknown as { coupons: { status?: string }[] };
  const cp1 = badStatus.coupons[0];
  if (!cp1) throw new Error('demo dataset changed');
  cp1.status = 'locked';
  t.throws(() => validateDataset(badStatus), { message: /\/coupons\/0\/status must be equal to one of the allowed values/ }, 'a dataset holds no locks');
});

t.test('a dataset that refers to something it does not define is rejected with the path', async (t) => {
  const bad = structuredClone(demo) as Dataset;
  const card = bad.cards[2];
  if (!card) throw new Error('demo dataset changed');
  card.userId = 'U99';
  t.throws(() => validateDataset(bad), { message: /\/cards\/2\/userId unknown user U99/ });

  const elsewhere = structuredClone(demo) as Dataset;
  const [oil, cp] = [elsewhere.goods[4], elsewhere.coupons[0]];
  if (!oil || !cp) throw new Error('demo dataset changed');
  oil.stationId = 'S9';
  cp.userId = 'U99';
  t.throws(() => validateDataset(elsewhere), { message: /\/goods\/4\/stationId unknown station S9.*\/coupons\/0\/userId unknown user U99/ });
});

t.test("a user whose level does not match their growth is rejected: the user and level systems must agree", async (t) => {
  const bad = structuredClone(demo) as Dataset;
  const u3 = bad.users[2];
  if (!u3) throw new Error('demo dataset changed');
  u3.growth = 2500;
  t.throws(() => validateDataset(bad), { message: /\/users\/2\/level normal does not match growth 2500 \(level silver\)/ });
});

t.test('a coupon that ends before it starts is rejected', async (t) => {
  const bad = structuredClone(demo) as Dataset;
  const cp = bad.coupons[1];
  if (!cp) throw new Error('demo dataset changed');
  cp.validTo = '2025-12-31T23:59:59+08:00';
  t.throws(() => validateDataset(bad), { message: /\/coupons\/1\/validTo is before validFrom/ });
});

t.test('loadDataset names the file it could not use', async (t) => {
  const dir = t.testdir({ 'broken.json': '{"merchants": [' });
  t.throws(() => loadDataset(join(dir, 'broken.json')), InvalidDatasetError);
  t.throws(() => loadDataset(join(dir, 'broken.json')), { message: /broken\.json/ });
  writeFileSync(join(dir, 'empty.json'), '{}');
  t.throws(() => loadDataset(join(dir, 'empty.json')), { message: /\/ must have required property 'merchants'/ });
});

t.test('the dataset is loaded into a new store only, so a restart keeps the downstream state', async (t) => {
  const dbPath = join(t.testdir(), 'sim.db');
  const opts = { dbPath, dataset: demo, clock: Date, callback: { baseUrl: 'http://127.0.0.1:9', secret: SECRET } };
  const first = createSimulators(opts);
  await first.systems.storedValue.lock(key('T1', 'leg-1:lock'), { lockKey: 'T1:leg-1', cardNo: 'C1', amountFen: 30000 });
  await first.systems.points.lock(key('T1', 'points:lock'), { lockKey: 'T1:points', userId: 'U1', points: 1000 });
  await first.close();

  const second = createSimulators(opts);
  t.match(second.systems.storedValue.peekCard('C1'), { availableFen: 70000, lockedFen: 30000 });
  t.match(second.systems.points.peekPointsAccount('U1'), { balance: 4000, locked: 1000 });
  await second.close();

  const reset = createSimulators({ ...opts, reset: true });
  t.match(reset.systems.storedValue.peekCard('C1'), { availableFen: 100000, lockedFen: 0 });
  t.match(reset.systems.points.peekPointsAccount('U1'), { balance: 5000, locked: 0 });
  t.equal(reset.systems.coupon.peekCoupons('U1').length, 6);
  t.match(reset.systems.goods.peekStock('S1', 'SKU-OIL'), { availableStock: 1, reservedStock: 0 });
  t.same(reset.store.effects(), []);
  await reset.close();
});

t.test('a store seeded before goods, coupons, points and levels existed is refused, not served half-empty', async (t) => {
  const dbPath = join(t.testdir(), 'sim.db');
  const opts = { dbPath, dataset: demo, clock: Date, callback: { baseUrl: 'http://127.0.0.1:9', secret: SECRET } };
  await createSimulators(opts).close();
  const db = new Database(dbPath);
  db.prepare("DELETE FROM meta WHERE k = 'store_version'").run();
  db.close();

  t.throws(() => createSimulators(opts), { message: /holds dataset layout 1, this version needs 2/ });
  const reset = createSimulators({ ...opts, reset: true });
  t.match(reset.systems.goods.peekStock('S1', 'SKU-WATER'), { availableStock: 120 });
  await reset.close();
});
