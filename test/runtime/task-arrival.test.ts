import t from 'tap';
import { ManualClock } from '../../runtime/clock.ts';
import { DEFAULT_CONFIG } from '../../runtime/trade-center.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { loadDataset } from '../../systems/sim/index.ts';
import { DATASET_PATH, eventually, FUEL_SALE, startHarness, type Harness } from '../helpers/harness.ts';

const NOON = Date.parse('2026-11-25T12:00:00+08:00');
type WithTasks = TransactionView & { tasks: { task: string; status: string }[] };

/** A card sale through /v1/checkout: completed when it answers, its eight post-payment tasks asked for. */
async function cardSale(h: Harness): Promise<WithTasks> {
  const res = await h.api<WithTasks>('POST', '/v1/checkout', { ...FUEL_SALE, items: [{ type: 'fuel', nozzleNo: 1, amount: 1_000 }], paymentMethods: ['stored_value'], legs: [{ method: 'stored_value', cardNo: 'C1', amount: 'rest' }] });
  if (res.status !== 200) throw new Error(`checkout answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

t.test('a paid sale\'s tasks run as soon as their save is stored, not at the next poll (issue 8)', async (t) => {
  // A poll an hour away: only the arrival of the tasks can start them.
  const h = await startHarness(t, { config: { tasks: { ...DEFAULT_CONFIG.tasks, pollMs: 3_600_000, runOnArrival: true } } });
  const sale = await cardSale(h);
  const done = await eventually(
    () => h.api<WithTasks>('GET', `/v1/transactions/${sale.txnNo}`),
    (r) => r.body.tasks.length > 0 && r.body.tasks.every((x) => x.status === 'done'),
    5_000,
  );
  t.equal(done.body.tasks.length, 8, 'settlement, marketing and the rest: all done');
});

t.test('one pass drains a backlog larger than a batch (issue 8)', async (t) => {
  const dataset = loadDataset(DATASET_PATH);
  dataset.cards.find((c) => c.cardNo === 'C1')!.balanceFen = 10_000_000;
  // A manual clock: the test runs the tasks when it says.
  const h = await startHarness(t, { clock: new ManualClock(NOON), config: { dataset } });
  const sales: WithTasks[] = [];
  // Eight tasks a sale: 26 sales are 208 tasks, more than a batch.
  for (let i = 0; i < 26; i++) sales.push(await cardSale(h));
  t.equal(await h.tc.tasks.runDue(), 26 * 8, 'every due task in one pass, though a batch is 200');
  const last = await h.api<WithTasks>('GET', `/v1/transactions/${sales.at(-1)!.txnNo}`);
  t.ok(last.body.tasks.every((x) => x.status === 'done'));
});
