import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import t from 'tap';
import type { TransactionView } from '../../runtime/view.ts';
import { apiClient, DATASET_PATH, eventually, type Api } from '../helpers/harness.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { freePort, startServerProcess, SUITE_KEY } from '../helpers/server-process.ts';
import { SIM_ADMIN_TOKEN, startSimProcess } from '../helpers/sim-process.ts';
import { roundRobin } from './round-robin.ts';

const FINAL = ['completed', 'cancelled', 'failed'];
const CARD = 'C1';
const CARD_BALANCE = 1_000_000_000;
const SALES = 90;
const PROCESSES = 3;

t.test('three server processes sharing Redis and one trade sim take duplicated requests and callbacks: nothing lost, nothing twice (must-show 2)', async (t) => {
  const dir = t.testdir();
  const redis = await startRedisServer({ appendonly: true });
  t.teardown(() => redis.stop());
  const dataset = JSON.parse(readFileSync(DATASET_PATH, 'utf8')) as { cards: { cardNo: string; balanceFen: number }[] };
  for (const card of dataset.cards) if (card.cardNo === CARD) card.balanceFen = CARD_BALANCE;
  writeFileSync(join(dir, 'dataset.json'), JSON.stringify(dataset));

  const ports = await Promise.all(Array.from({ length: PROCESSES }, () => freePort()));
  const platforms = ports.map((p) => `http://127.0.0.1:${p}`);
  const proxy = await roundRobin(() => platforms);
  t.teardown(() => proxy.close());
  const sim = await startSimProcess({ dir, port: await freePort(), callbackUrl: proxy.url, data: join(dir, 'dataset.json') });
  t.teardown(() => sim.stop());
  const env = { TRADE_STORAGE: 'redis', REDIS_URL: redis.url, TRADE_SYSTEMS: 'http', TRADE_SIM_URL: sim.url };
  const servers = await Promise.all(ports.map((port, i) => startServerProcess(join(dir, `p${i}`), port, ['--payment-ttl-ms', '20000'], env)));
  for (const s of servers) t.teardown(() => s.stop());
  const apis: Api[] = servers.map((s) => apiClient(s.url, SUITE_KEY));
  const a = apis[0]!;
  const simApi = apiClient(sim.url, SIM_ADMIN_TOKEN);
  // Every callback is delivered three times, alternating between the processes.
  t.equal((await simApi('PUT', '/sim/gateway', { duplicateCallbacks: 3 })).status, 200);

  const acks: { txnNo: string; version: number }[] = [];
  const ack = (r: { status: number; body: TransactionView }) => {
    if (r.status < 300 && r.body.txnNo) acks.push({ txnNo: r.body.txnNo, version: r.body.version });
  };
  const kinds = ['card', 'wechat', 'mixed'] as const;
  const sale = async (i: number): Promise<{ txnNo: string; paymentNos: string[] }> => {
    const [one, other] = [apis[i % PROCESSES]!, apis[(i + 1) % PROCESSES]!];
    const kind = kinds[i % 3]!;
    const started = await one<TransactionView>('POST', '/v1/transactions', {
      scene: 'merchant_pos', merchantId: 'M1', stationId: 'S1', userId: 'U4',
      items: [{ type: 'fuel', nozzleNo: 1, amount: 2000 + i }], paymentMethods: [kind === 'card' ? 'stored_value' : 'wechat'],
    });
    ack(started);
    const txnNo = started.body.txnNo;
    const order = { quoteId: started.body.quote.quoteId, comboId: kind === 'card' ? 'c-stored_value' : 'c-wechat' };
    // The same order twice at once, once on each process, under one Idempotency-Key: one order.
    const orders = await Promise.all([one, other].map((api) => api<TransactionView>('POST', `/v1/transactions/${txnNo}/order`, order, { 'idempotency-key': `mp-${i}-order` })));
    orders.forEach(ack);
    t.ok(orders.some((r) => r.status === 201), `sale ${i}: one of the two orders was applied`);
    const payable = (await one<TransactionView>('GET', `/v1/transactions/${txnNo}`)).body.payableAmount;
    const legs =
      kind === 'card'
        ? [{ method: 'stored_value', cardNo: CARD, amount: payable }]
        : kind === 'wechat'
          ? [{ method: 'wechat', amount: payable }]
          : [{ method: 'stored_value', cardNo: CARD, amount: 300 }, { method: 'wechat', amount: payable - 300 }];
    // The payment twice at once, without a key, on both processes: one is applied, the other refused or answered the same.
    const pays = await Promise.all([one, other].map((api) => api<TransactionView>('POST', `/v1/transactions/${txnNo}/payments`, { legs })));
    pays.forEach(ack);
    const accepted = pays.find((r) => r.status === 200 || r.status === 202);
    const paymentNos = (accepted?.body.legs ?? []).filter((l) => l.method === 'wechat' && l.paymentNo).map((l) => l.paymentNo!);
    for (const paymentNo of paymentNos) {
      if (i % 5 === 1) {
        // The customer pays while the cashier cancels on the other process: one of them wins, cleanly.
        const [, cancelled] = await Promise.all([simApi('POST', `/sim/payments/${paymentNo}/pay`), other<TransactionView>('POST', `/v1/transactions/${txnNo}/cancel`, {})]);
        ack(cancelled);
      } else {
        await simApi('POST', `/sim/payments/${paymentNo}/pay`);
      }
    }
    return { txnNo, paymentNos };
  };
  const sales: { txnNo: string; paymentNos: string[] }[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 12 }, async () => {
      while (next < SALES) sales.push(await sale(next++));
    }),
  );

  const views = new Map<string, TransactionView>();
  for (const s of sales) {
    const v = await eventually(() => a<TransactionView>('GET', `/v1/transactions/${s.txnNo}`), (r) => FINAL.includes(r.body.state), 30_000).catch(async () => a<TransactionView>('GET', `/v1/transactions/${s.txnNo}`));
    views.set(s.txnNo, v.body);
  }
  t.ok(platforms.every((p) => (proxy.forwarded.get(p) ?? 0) > SALES / 4), `callbacks reached every process: ${JSON.stringify([...proxy.forwarded.values()])}`);
  t.same([...views.values()].filter((v) => !FINAL.includes(v.state)).map((v) => `${v.txnNo}:${v.state}`), [], 'every transaction is final');
  t.same(acks.filter((x) => (views.get(x.txnNo)?.version ?? 0) < x.version), [], 'no acknowledged transition was lost');

  const completed = [...views.values()].filter((v) => v.state === 'completed');
  const legSum = (method: string) => completed.flatMap((v) => v.legs).filter((l) => l.method === method).reduce((sum, l) => sum + l.amount, 0);
  const card = (await simApi<{ card: { availableFen: number; lockedFen: number } }>('GET', `/sim/cards/${CARD}`)).body.card;
  t.equal(CARD_BALANCE - card.availableFen, legSum('stored_value'), 'the card lost exactly what completed sales took');
  t.equal(card.lockedFen, 0, 'no card lock left');
  let kept = 0;
  for (const s of sales) {
    for (const paymentNo of s.paymentNos) {
      const p = (await simApi<{ payment: { status: string; amountFen: number; refundedFen: number } }>('GET', `/sim/payments/${paymentNo}`)).body.payment;
      if (p.status === 'succeeded') kept += p.amountFen - p.refundedFen;
    }
  }
  t.equal(kept, legSum('wechat'), 'the gateway kept exactly what completed sales took by wechat');
  const effects = (await simApi<{ effects: { system: string; verb: string; key: string; detail: string | null }[] }>('GET', '/sim/effects')).body.effects;
  const seen = new Map<string, number>();
  for (const e of effects) if (e.detail === null) seen.set(`${e.system}.${e.verb}:${e.key}`, (seen.get(`${e.system}.${e.verb}:${e.key}`) ?? 0) + 1);
  t.same([...seen].filter(([, n]) => n > 1), [], 'no effect happened twice in any simulator ledger');
  t.equal(effects.filter((e) => e.system === 'order' && e.verb === 'markPaid').length, completed.length, 'each completed order marked paid once');
  t.ok(completed.length >= SALES / 2, `most sales completed (${completed.length} of ${SALES})`);

  const client = new Redis(redis.url);
  t.teardown(() => client.quit());
  const leases = await eventually(() => client.keys('tc:*:lease'), (keys) => keys.length === 0, 30_000).catch(() => ['left']);
  t.same(leases, [], 'no lease left behind');
});
