import t from 'tap';
import type { TransactionView } from '../../runtime/view.ts';
import { apiClient, eventually, orderedSale } from '../helpers/harness.ts';
import { freePort, startServerProcess, SUITE_KEY } from '../helpers/server-process.ts';
import { SIM_ADMIN_TOKEN, startSimProcess } from '../helpers/sim-process.ts';

interface Effect {
  system: string;
  verb: string;
  key: string;
}

/** Effects of one transaction: its keys start with the txnNo (the payment's entity id too). */
const ofTxn = (effects: Effect[], txnNo: string) => effects.filter((e) => e.key.startsWith(txnNo));

t.test('a platform killed mid-sale while trade sim keeps running finishes the sale after restart, every effect once', async (t) => {
  const dir = t.testdir();
  const [simPort, port] = [await freePort(), await freePort()];
  const sim = await startSimProcess({ dir, port: simPort, callbackUrl: `http://127.0.0.1:${port}` });
  t.teardown(() => sim.stop());
  const env = { TRADE_SYSTEMS: 'http', TRADE_SIM_URL: sim.url };
  const first = await startServerProcess(dir, port, [], env);
  t.teardown(() => first.stop());
  const api = apiClient(first.url, SUITE_KEY);
  const admin = apiClient(sim.url, SIM_ADMIN_TOKEN);
  const card = async () => (await admin<{ card: { availableFen: number; lockedFen: number } }>('GET', '/sim/cards/C1')).body.card;
  const before = await card();

  // Sale 1 by wechat: pending at the gateway when the platform dies.
  const wechat = await orderedSale(api, 'wechat');
  const paying = await api<TransactionView>('POST', `/v1/transactions/${wechat.txnNo}/payments`, { legs: [{ method: 'wechat', amount: wechat.payableAmount }] });
  t.equal(paying.body.state, 'paying');

  // Sale 2 by card: the card system confirms, then takes 30 s to answer; the platform dies meanwhile.
  const byCard = await orderedSale(api, 'stored_value', { userId: 'U2' });
  t.equal((await admin('PUT', '/sim/faults/storedValue', { confirm: { delayAfterEffectMs: 30_000 } })).status, 200);
  const pending = api('POST', `/v1/transactions/${byCard.txnNo}/payments`, { legs: [{ method: 'stored_value', cardNo: 'C1', amount: byCard.payableAmount }] }).catch(() => null);
  const confirms = () => admin<{ effects: Effect[] }>('GET', '/sim/effects?system=storedValue&verb=confirm');
  await eventually(confirms, (r) => r.body.effects.length === 1);
  await first.crash();
  await pending;

  // While the platform is down the customer pays: the gateway's callback waits in its outbox.
  const paid = await admin<{ payment: { status: string } }>('POST', `/sim/payments/${paying.body.legs[0]!.paymentNo}/pay`);
  t.equal(paid.body.payment.status, 'succeeded');
  t.equal((await admin('DELETE', '/sim/faults')).status, 204);

  const second = await startServerProcess(dir, port, [], env);
  t.teardown(() => second.stop());
  for (const sale of [wechat, byCard]) {
    const done = await eventually(() => api<TransactionView>('GET', `/v1/transactions/${sale.txnNo}`), (r) => r.body.state === 'completed');
    t.equal(done.body.legs[0]?.status, 'succeeded', `${sale.txnNo} completed after the restart`);
  }

  const effects = (await admin<{ effects: Effect[] }>('GET', '/sim/effects')).body.effects;
  for (const [sale, expected] of [
    [wechat, ['order:createOrder', 'paymentGateway:createPayment', 'order:markPaid']],
    [byCard, ['order:createOrder', 'storedValue:lock', 'storedValue:confirm', 'order:markPaid']],
  ] as const) {
    const mine = ofTxn(effects, sale.txnNo).map((e) => `${e.system}:${e.verb}`);
    for (const effect of expected) t.equal(mine.filter((e) => e === effect).length, 1, `${effect} exactly once for ${sale.txnNo}`);
  }
  const keys = effects.map((e) => `${e.system}:${e.verb}:${e.key}`);
  t.equal(new Set(keys).size, keys.length, 'no effect journalled twice under one key');
  const after = await card();
  t.equal(before.availableFen - after.availableFen, byCard.payableAmount, 'the card was debited exactly once');
  t.equal(after.lockedFen, before.lockedFen, 'no lock left');
});
