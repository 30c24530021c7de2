import t from 'tap';
import { openSims } from './helpers.ts';

t.test('the fuel catalog resolves a nozzle to its grade and list price', async (t) => {
  const { systems: { fuelCatalog } } = openSims(t);
  t.same(await fuelCatalog.getNozzle('S1', 3), { stationId: 'S1', nozzleNo: 3, grade: '92', unitPrice: 750 });
  t.same(await fuelCatalog.getNozzle('S3', 6), { stationId: 'S3', nozzleNo: 6, grade: '98', unitPrice: 875 });
  t.equal(await fuelCatalog.getNozzle('S1', 9), null);
  t.same(await fuelCatalog.getStation('S2'), {
    stationId: 'S2', merchantId: 'M1', name: 'Huadong Pudong Airport Road Station', timeZone: 'Asia/Shanghai', group: 'G1',
  });
  t.equal(await fuelCatalog.getStation('S9'), null);
});

t.test('the user system knows members and their levels', async (t) => {
  const { systems: { user } } = openSims(t);
  t.same(await user.getUser('U1'), { userId: 'U1', name: 'Zhang Wei', level: 'gold' });
  t.equal(await user.getUser('U404'), null);
});

t.test('the level system agrees with the user system on every member level', async (t) => {
  const { systems: { user, level } } = openSims(t);
  t.same(await level.getLevel('U1'), { userId: 'U1', level: 'gold', growth: 12680 });
  for (const userId of ['U2', 'U3', 'U4', 'U5']) {
    t.equal((await level.getLevel(userId))?.level, (await user.getUser(userId))?.level);
  }
  t.equal(await level.getLevel('U404'), null);
});

t.test("the promotion engine offers the merchant's promotions running at the station, by priority", async (t) => {
  const { systems: { promotion } } = openSims(t);
  const ids = async (merchantId: string, stationId: string) =>
    (await promotion.listPromotions({ merchantId, stationId })).map((p) => p.id);
  t.same(await ids('M1', 'S1'), ['P1', 'P2', 'P3', 'P4', 'P8', 'P6']);
  t.same(await ids('M1', 'S2'), ['P1', 'P2', 'P3', 'P4', 'P5', 'P8', 'P6']);
  t.same(await ids('M2', 'S3'), ['P7']);
  const [p1] = await promotion.listPromotions({ merchantId: 'M1', stationId: 'S1' });
  t.same(p1, {
    id: 'P1', name: 'Night owl: 0.30 yuan/L off 92# and 95#, 22:00-06:00', priority: 10,
    scope: { kind: 'fuel', grades: ['92', '95'] }, conditions: { timeWindows: [{ start: '22:00', end: '06:00' }] },
    benefit: { type: 'perLiter', valueFen: 30 }, stackableWithCoupons: true,
  }, 'the port shape, without the dataset-only merchantId / stationIds');
});

t.test('a promotion outside its validity period is not offered', async (t) => {
  const { systems: { promotion } } = openSims(t, { clock: { now: () => Date.parse('2031-01-01T00:00:00+08:00') } });
  const ids = (await promotion.listPromotions({ merchantId: 'M1', stationId: 'S2' })).map((p) => p.id);
  t.notOk(ids.includes('P5'));
});
