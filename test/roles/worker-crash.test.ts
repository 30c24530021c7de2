import { join } from 'node:path';
import t from 'tap';
import { DEFAULT_CONFIG, type TradeCenterConfig } from '../../runtime/trade-center.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { loadDataset } from '../../systems/sim/index.ts';
import { DATASET_PATH, eventually, FUEL_SALE } from '../helpers/harness.ts';
import { startSplit, type SplitStorage } from '../helpers/split-harness.ts';

type TaskView = { task: string; status: string };
type ViewWithTasks = TransactionView & { tasks: TaskView[] };

/** Three sales of 300 yuan fit on card C1 (1,000 yuan). */
const SALES = 3;
/** Systems whose tasks are slowed so that the kill finds them running. */
const SLOW = ['invoice', 'marketing', 'notify'] as const;

for (const storage of ['sqlite', 'redis'] as SplitStorage[]) {
  t.test(`${storage}: kill -9 of the worker process alone loses no post-payment task; they finish once a new worker starts (issue 21)`, async (t) => {
    const dir = t.testdir();
    const config: TradeCenterConfig = { ...DEFAULT_CONFIG, dataset: loadDataset(DATASET_PATH), dbPath: join(dir, 'trade.db'), simDbPath: join(dir, 'sim.db'), callbackDelayMs: 0, logLevel: 'silent' };
    const p = await startSplit(t, dir, config, {}, undefined, storage);
    for (const system of SLOW) await p.sims.faults[system].configure({ '*': { latencyMs: 3_000 } });
    const txnNos: string[] = [];
    for (let i = 0; i < SALES; i++) {
      const started = await p.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, userId: 'U4', paymentMethods: ['stored_value'] });
      const ordered = await p.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-stored_value' });
      const paid = await p.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/payments`, { legs: [{ method: 'stored_value', cardNo: 'C1', amount: ordered.body.payableAmount }] });
      t.equal(paid.status, 200, `sale ${i} is paid through the API process`);
      txnNos.push(started.body.txnNo);
    }
    const tasksOf = async (txnNo: string) => (await p.api<ViewWithTasks>('GET', `/v1/transactions/${txnNo}`)).body.tasks;
    // The worker has taken the slow tasks up: they are running when it is killed.
    await eventually(() => tasksOf(txnNos[0]!), (tasks) => tasks.some((x) => x.task === 'invoice' && x.status === 'running'));
    await p.worker().crash();
    const atKill = (await Promise.all(txnNos.map(tasksOf))).flat();
    t.ok(atKill.some((x) => x.status !== 'done'), 'the kill left tasks unfinished');

    for (const system of SLOW) await p.sims.faults[system].clear();
    const sale = await p.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, userId: 'U4', paymentMethods: ['stored_value'] });
    t.equal(sale.status, 201, 'with no worker the API still answers');
    const meanwhile = (await Promise.all(txnNos.map(tasksOf))).flat();
    t.equal(meanwhile.filter((x) => x.status === 'done').length, atKill.filter((x) => x.status === 'done').length, 'the API process runs no task: none finished while no worker ran');
    await p.restartWorker();
    for (const txnNo of txnNos) {
      const done = await eventually(() => tasksOf(txnNo), (tasks) => tasks.length > 0 && tasks.every((x) => x.status === 'done'));
      t.ok(done.length >= 8, `${txnNo}: every task done after the new worker started`);
      const view = await p.api<TransactionView>('GET', `/v1/transactions/${txnNo}`);
      t.equal(view.body.state, 'completed');
    }
    for (const [system, verb] of [['invoice', 'issue'], ['marketing', 'record'], ['notify', 'send'], ['settlement', 'record']] as const) {
      t.equal((await p.sims.store.effects({ system, verb })).length, SALES, `${system} ${verb}: once per sale, none lost and none twice`);
    }
  });
}
