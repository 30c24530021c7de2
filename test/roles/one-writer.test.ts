import { join } from 'node:path';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { buildApp } from '../../http/app.ts';
import { ManualClock } from '../../runtime/clock.ts';
import { createTradeCenter, DEFAULT_CONFIG, type TradeCenter, type TradeCenterConfig } from '../../runtime/trade-center.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { createSimulators, loadDataset } from '../../systems/sim/index.ts';
import { DATASET_PATH, DEMO_KEY, eventually, FUEL_SALE } from '../helpers/harness.ts';
import { startRedisServer } from '../helpers/redis-server.ts';

const NOON = Date.parse('2026-11-25T12:00:00+08:00');

/**
 * An API-role and a worker-role Trade Center in this process, on one SQLite file or one Redis,
 * sharing one set of simulators and a manual clock: what `trade serve --role api` and `--role
 * worker` are, without the processes, so the race below can be set up exactly.
 */
async function split(t: Test, storage: 'sqlite' | 'redis') {
  const dir = t.testdir();
  const clock = new ManualClock(NOON);
  const dataset = loadDataset(DATASET_PATH);
  const redis = storage === 'redis' ? await startRedisServer() : null;
  if (redis) t.teardown(() => redis.stop());
  const sims = createSimulators({ dbPath: join(dir, 'sim.db'), dataset, clock, callback: { baseUrl: 'http://127.0.0.1:1', secret: DEFAULT_CONFIG.callbackSecret, delayMs: 0 } });
  const base: TradeCenterConfig = {
    ...DEFAULT_CONFIG,
    dataset,
    dbPath: join(dir, 'trade.db'),
    simDbPath: join(dir, 'sim.db'),
    logLevel: 'silent',
    timerPollMs: 3_600_000,
    tasks: { ...DEFAULT_CONFIG.tasks, pollMs: 3_600_000, runOnArrival: false },
    ...(redis ? { storage: { kind: 'redis' as const, url: redis.url } } : {}),
  };
  const open = (role: 'api' | 'worker'): TradeCenter => createTradeCenter({ ...base, role }, { clock, sims, log: pino({ level: 'silent' }) });
  const api = open('api');
  const worker = open('worker');
  await api.start();
  await worker.start();
  const app = await buildApp(api);
  t.teardown(async () => {
    await app.close();
    await api.close();
    await worker.close();
    await sims.close();
  });
  const call = async <T>(method: 'GET' | 'POST', url: string, payload?: unknown) => {
    const res = await app.inject({ method, url, headers: { authorization: `Bearer ${DEMO_KEY}` }, ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}) });
    return { status: res.statusCode, body: res.json() as T };
  };
  return { api, worker, sims, clock, call };
}

for (const storage of ['sqlite', 'redis'] as const) {
  t.test(`${storage}: a timer the worker fires for a transaction live in the API process, racing a payment there, is applied by one writer at a time (issue 21)`, async (t) => {
    const { api, worker, sims, clock, call } = await split(t, storage);
    const started = await call<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['stored_value'] });
    const ordered = await call<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-stored_value' });
    t.equal(ordered.body.state, 'ordered', 'ordered through the API process: its actor is live there');
    const txnNo = started.body.txnNo;
    clock.advance(api.config.paymentTtlMs + 1);
    // The payment's expiry is due: the worker fires it while the API takes the (late) payment.
    const [fired, paid] = await Promise.all([
      worker.host.fireDueTimers(),
      call<TransactionView & { error?: { code: string } }>('POST', `/v1/transactions/${txnNo}/payments`, { legs: [{ method: 'stored_value', cardNo: 'C1', amount: ordered.body.payableAmount }] }),
    ]);
    t.equal(fired, 1, 'the worker fired the expiry');
    // What the winner started (releasing holds, cancelling the order) runs on to rest.
    const stored = (await eventually(() => api.storage.snapshots.load(txnNo), (r) => r?.atRest === true))!;
    const journal = await api.storage.journal.entries(txnNo);
    t.ok(stored.version > ordered.body.version, 'the race stored what it did');
    // One writer: whichever came first, the other saw its outcome and never wrote over it.
    if (paid.status === 200) {
      t.equal(stored.state, 'completed', 'paid first: the expiry found a paid transaction and changed nothing');
    } else {
      t.equal(paid.body.error?.code, 'INVALID_STATE', 'expired first: the payment is refused on the stored state, not applied to a stale copy');
      t.not(stored.state, 'completed');
    }
    const card = sims.systems.storedValue.peekCard('C1')!;
    const debited = 100_000 - card.availableFen;
    t.equal(debited, paid.status === 200 ? ordered.body.payableAmount : 0, 'the card is debited exactly when the payment won');
    t.equal(card.lockedFen, 0, 'nothing left locked');
    const seqs = journal.map((e) => e.seq);
    t.same(seqs, [...seqs].sort((a, b) => a - b), 'one journal, in order');
    t.equal(journal.filter((e) => e.event === 'TIMER').length <= 1, true, 'the expiry applied at most once');
    const view = await call<TransactionView>('GET', `/v1/transactions/${txnNo}`);
    t.equal(view.body.version, stored.version, 'the API process answers with the stored version, not its own copy');
  });
}
