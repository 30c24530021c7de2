import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { runCancel } from '../../bin/commands/cancel.ts';
import { HttpSource } from '../../bin/commands/http-source.ts';
import { runNudge } from '../../bin/commands/nudge.ts';
import { runRetry } from '../../bin/commands/retry.ts';
import { runStuck } from '../../bin/commands/stuck.ts';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { DEMO_KEY, FUEL_SALE, startHarness } from '../helpers/harness.ts';
import { captureIo, deleteTimerRows, payingWithLostCallback, sources, storedValueSale } from './helpers.ts';

const NOON = Date.parse('2026-11-25T12:00:00+08:00');

t.test('nudge through the server finishes a sale stuck by a deleted timer', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock, config: { queryAfterMs: 60_000 } });
  const paying = await payingWithLostCallback(h);
  t.ok(deleteTimerRows(h.dir, paying.txnNo) >= 1, 'its timer rows are gone');
  clock.advance(5 * 60_000);
  t.equal(await h.tc.host.fireDueTimers(), 0, 'nothing wakes it: no row is due');
  t.equal((await h.api<TransactionView>('GET', `/v1/transactions/${paying.txnNo}`)).body.state, 'paying', 'stuck in paying');

  const source = new HttpSource(h.url, DEMO_KEY);
  const stuck = await runStuck(source, captureIo(() => clock.now()), { idleMinutes: 5 });
  t.same(stuck.map((s) => s.txnNo), [paying.txnNo], '`trade stuck` finds it');

  const io = captureIo();
  const { before, after } = await runNudge(source, io, paying.txnNo, { waitMs: 10_000 });
  t.equal(before, 'paying');
  t.equal(after.state, 'completed', 'the gateway query the lost timer owed was made: the customer had paid');
  t.match(io.stdout(), new RegExp(`^${paying.txnNo} nudged: paying → completed`));
  t.equal(h.tc.sims!.store.effects({ system: 'paymentGateway', verb: 'refund' }).length, 0, 'nothing refunded');
});

t.test('nudge on the store (--db) finishes a sale stuck by a deleted timer, through the runtime', async (t) => {
  // A real clock: the command builds its own runtime, which reads the system clock.
  const h = await startHarness(t, { config: { queryAfterMs: 200, timerPollMs: 3_600_000 } });
  const paying = await payingWithLostCallback(h);
  deleteTimerRows(h.dir, paying.txnNo);
  await sleep(300);
  await h.close();

  const [, store] = sources(h);
  const source = store!.open();
  t.teardown(() => source.close());
  const io = captureIo();
  const { after } = await runNudge(source, io, paying.txnNo, { waitMs: 10_000, json: true });
  t.equal(after.state, 'completed');
  const printed = JSON.parse(io.stdout());
  t.equal(printed.before, 'paying', '--json says where it came from');
  t.equal(printed.state, 'completed');
  t.equal(printed.legs[0].status, 'succeeded');
  t.equal((await source.transaction(paying.txnNo)).state, 'completed', 'and it is stored so');
});

t.test('retry brings back a dead task once its system recovered, through the server and on the store', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock, config: { breaker: { afterFailures: 1000, halfOpenAfterMs: 10 } } });
  h.tc.sims!.faults.settlement.configure({ '*': { outage: true } });
  const first = await storedValueSale(h);
  const second = await storedValueSale(h);
  for (let i = 0; i < 10; i++) {
    await h.tc.tasks.runDue();
    clock.advance(60 * 60_000);
  }
  h.tc.sims!.faults.settlement.clear();
  const [server, store] = sources(h);

  const http = server!.open();
  await t.rejects(runRetry(http, captureIo(), first.txnNo, 'invoice', {}), /INVALID_STATE/, 'a task that is not dead is refused');
  const io = captureIo();
  const task = await runRetry(http, io, first.txnNo, 'settlement', {});
  t.equal(task.status, 'done');
  t.equal(io.stdout(), `${first.txnNo} task settlement: done (attempt 1/8)\n`);

  await h.close();
  const direct = store!.open();
  t.teardown(() => direct.close());
  const json = captureIo();
  await runRetry(direct, json, second.txnNo, 'settlement', { json: true });
  t.match(JSON.parse(json.stdout()), { task: 'settlement', status: 'done', attempts: 1, lastError: null });
  t.equal((await direct.transaction(second.txnNo)).needsAttention, false, 'the transaction no longer needs attention');
});

t.test('cancel releases an ordered sale, through the server and on the store; a second cancel is refused', async (t) => {
  const h = await startHarness(t, { config: { timerPollMs: 3_600_000 } });
  const order = async () => {
    const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
    return (await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-wechat' })).body;
  };
  const viaServer = await order();
  const onStore = await order();
  const [server, store] = sources(h);

  const http = server!.open();
  const io = captureIo();
  t.equal((await runCancel(http, io, viaServer.txnNo, { reason: 'driver left' })).state, 'cancelled');
  t.equal(io.stdout(), `${viaServer.txnNo} cancelled: driver left\n`);
  t.equal(h.tc.sims!.systems.order.peekOrder(viaServer.orderNo!)?.status, 'cancelled', 'the order system was told');
  await t.rejects(runCancel(http, captureIo(), viaServer.txnNo, {}), /INVALID_STATE/);

  await h.close();
  const direct = store!.open();
  t.teardown(() => direct.close());
  const json = captureIo();
  await runCancel(direct, json, onStore.txnNo, { json: true });
  t.equal(JSON.parse(json.stdout()).state, 'cancelled');
  await t.rejects(runCancel(direct, captureIo(), onStore.txnNo, {}), /a cancelled transaction cannot take CANCEL/);
});
