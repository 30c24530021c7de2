import t from 'tap';
import type { TransactionView } from '../../runtime/view.ts';
import { apiClient, eventually, orderedSale } from '../helpers/harness.ts';
import { freePort, startServerProcess } from '../helpers/server-process.ts';

t.test('a server killed while a wechat payment is pending completes the sale after restart', async (t) => {
  const dir = t.testdir();
  const port = await freePort();
  const first = await startServerProcess(dir, port);
  t.teardown(() => first.stop());
  const api = apiClient(first.url);
  const ordered = await orderedSale(api, 'wechat');
  const paying = await api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.payableAmount }] });
  t.equal(paying.body.state, 'paying');
  await first.crash();

  const second = await startServerProcess(dir, port);
  t.teardown(() => second.stop());
  const afterRestart = await api<TransactionView>('GET', `/v1/transactions/${ordered.txnNo}`);
  t.equal(afterRestart.body.state, 'paying', 'the pending payment survived the crash');
  const paid = await api<{ payment: { status: string } }>('POST', `/sim/payments/${paying.body.legs[0]!.paymentNo}/pay`);
  t.equal(paid.body.payment.status, 'succeeded', 'the customer pays after the restart');
  const done = await eventually(() => api<TransactionView>('GET', `/v1/transactions/${ordered.txnNo}`), (r) => r.body.state === 'completed');
  t.equal(done.body.legs[0]?.status, 'succeeded', 'the callback reached the restarted server and completed the sale');
});

t.test('a server killed while a downstream call is in flight re-runs it with the same key: one effect', async (t) => {
  const dir = t.testdir();
  const port = await freePort();
  const first = await startServerProcess(dir, port);
  t.teardown(() => first.stop());
  const api = apiClient(first.url);
  const card = async () => (await api<{ card: { availableFen: number; lockedFen: number } }>('GET', '/sim/cards/C1')).body.card;
  const before = await card();
  const ordered = await orderedSale(api, 'stored_value');

  // The card system confirms, then takes 30 s to answer: the platform dies while waiting.
  const faults = await api('PUT', '/sim/faults/storedValue', { confirm: { delayAfterEffectMs: 30_000 } });
  t.equal(faults.status, 200);
  const pending = api('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'stored_value', cardNo: 'C1', amount: ordered.payableAmount }] }).catch(() => null);
  const confirms = () => api<{ effects: unknown[] }>('GET', '/sim/effects?system=storedValue&verb=confirm');
  await eventually(confirms, (r) => r.body.effects.length === 1);
  await first.crash();
  await pending;

  const second = await startServerProcess(dir, port);
  t.teardown(() => second.stop());
  const done = await eventually(() => api<TransactionView>('GET', `/v1/transactions/${ordered.txnNo}`), (r) => r.body.state === 'completed');
  t.equal(done.body.legs[0]?.status, 'succeeded', 'the re-run confirm got the first answer');
  t.equal((await confirms()).body.effects.length, 1, 'the card system confirmed exactly once');
  const after = await card();
  t.equal(before.availableFen - after.availableFen, ordered.payableAmount, 'debited exactly once');
  t.equal(after.lockedFen, before.lockedFen, 'no lock left');
  const markPaid = await api<{ effects: unknown[] }>('GET', '/sim/effects?system=order&verb=markPaid');
  t.equal(markPaid.body.effects.length, 1, 'the order was marked paid once');
});

t.test('a server killed while post-payment tasks are pending runs them after restart, none twice', async (t) => {
  const dir = t.testdir();
  const port = await freePort();
  const first = await startServerProcess(dir, port);
  t.teardown(() => first.stop());
  const api = apiClient(first.url);
  const systems = ['marketing', 'invoice', 'settlement', 'notify', 'push', 'level'];
  for (const system of systems) await api('PUT', `/sim/faults/${system}`, { '*': { outage: true } });
  const ordered = await orderedSale(api, 'stored_value', { userId: 'U4' });
  await api('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'stored_value', cardNo: 'C1', amount: ordered.payableAmount }] });
  type Tasks = TransactionView & { tasks: { task: string; status: string; attempts: number }[] };
  await eventually(() => api<Tasks>('GET', `/v1/transactions/${ordered.txnNo}`), (r) => r.body.tasks.some((x) => x.attempts > 0 && x.status === 'pending'));
  await first.crash();

  const second = await startServerProcess(dir, port);
  t.teardown(() => second.stop());
  const done = await eventually(() => api<Tasks>('GET', `/v1/transactions/${ordered.txnNo}`), (r) => r.body.tasks.every((x) => x.status === 'done'));
  t.equal(done.body.tasks.length, 8);
  for (const [system, verb] of [['marketing', 'record'], ['invoice', 'issue'], ['settlement', 'record'], ['notify', 'send'], ['push', 'notify'], ['level', 'addGrowth']]) {
    const effects = await api<{ effects: unknown[] }>('GET', `/sim/effects?system=${system}&verb=${verb}`);
    t.equal(effects.body.effects.length, 1, `${system}.${verb} happened exactly once`);
  }
});
