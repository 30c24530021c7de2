import { writeFileSync } from 'node:fs';
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

t.test('a dataset that refers to something it does not define is rejected with the path', async (t) => {
  const bad = structuredClone(demo) as Dataset;
  const card = bad.cards[2];
  if (!card) throw new Error('demo dataset changed');
  card.userId = 'U99';
  t.throws(() => validateDataset(bad), { message: /\/cards\/2\/userId unknown user U99/ });
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
  await first.close();

  const second = createSimulators(opts);
  t.match(second.systems.storedValue.peekCard('C1'), { availableFen: 70000, lockedFen: 30000 });
  await second.close();

  const reset = createSimulators({ ...opts, reset: true });
  t.match(reset.systems.storedValue.peekCard('C1'), { availableFen: 100000, lockedFen: 0 });
  t.same(reset.store.effects(), []);
  await reset.close();
});
