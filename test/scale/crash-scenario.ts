import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import type { TransactionView } from '../../runtime/view.ts';
import { PATIENCE_MS, STARTUP_DEADLINE_MS } from '../helpers/deadlines.ts';
import { apiClient, DATASET_PATH, DEMO_KEY, type Api } from '../helpers/harness.ts';
import { freePort, startServerProcess, SUITE_KEY, type ServerProcess } from '../helpers/server-process.ts';
import { SIM_ADMIN_TOKEN, startSimProcess } from '../helpers/sim-process.ts';
import { roundRobin } from './round-robin.ts';

const FINAL = ['completed', 'cancelled', 'failed'];
const CARD = 'C1';
const CARD_BALANCE = 1_000_000_000;
const CARD_LEG = 300;

type Kind = 'card' | 'wechat' | 'mixed';

interface Sale {
  i: number;
  kind: Kind;
  txnNo: string;
  payable: number;
  paymentNos: string[];
}

/**
 * A client that outlives the server's crashes: a request whose connection fails is sent again
 * with the same Idempotency-Key once the server is back, so it is applied at most once.
 */
function patientApi(url: string, key: string): Api {
  const api = apiClient(url, key);
  return async (method, path, body, headers) => {
    // As long as a restart may take on a busy machine, not a count of attempts.
    const deadline = Date.now() + STARTUP_DEADLINE_MS;
    for (;;) {
      try {
        return await api(method, path, body, headers);
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
}

/** The demo world with a card that can pay for every sale of the run. */
function writeDataset(dir: string): string {
  const dataset = JSON.parse(readFileSync(DATASET_PATH, 'utf8')) as { cards: { cardNo: string; balanceFen: number }[] };
  for (const card of dataset.cards) if (card.cardNo === CARD) card.balanceFen = CARD_BALANCE;
  const path = join(dir, 'dataset.json');
  writeFileSync(path, JSON.stringify(dataset));
  return path;
}

export interface CrashScenarioOptions {
  transactions: number;
  crashes: number;
  /**
   * Platform processes. One runs the simulators in-process (their own SQLite file); more share
   * one `trade sim` over HTTP, and each crash kills one of them at random.
   */
  processes?: number;
  /** Extra environment of the server processes (the Redis backend's, say). */
  env?: Record<string, string>;
  /** Runs once everything is final: e.g. no lease left in Redis. */
  afterwards?: (t: Test) => Promise<void>;
}

/**
 * Must-show 3: `transactions` sales in flight (card, wechat, card + wechat), a server process
 * SIGKILLed at random moments `crashes` times and started again on the same storage; then
 * every transaction is final, every ledger adds up, and nothing is left locked.
 */
export async function crashScenario(t: Test, options: CrashScenarioOptions): Promise<void> {
  const dir = t.testdir();
  const data = writeDataset(dir);
  const count = options.processes ?? 1;
  const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
  // Short payment TTL: a sale whose customer never paid (its client crashed with the server) expires.
  const args = ['--data', data, '--payment-ttl-ms', '15000'];
  let env = options.env ?? {};
  let simUrl: string | null = null;
  if (count > 1) {
    const proxy = await roundRobin(() => ports.map((p) => `http://127.0.0.1:${p}`));
    t.teardown(() => proxy.close());
    const sim = await startSimProcess({ dir, port: await freePort(), callbackUrl: proxy.url, data });
    t.teardown(() => sim.stop());
    simUrl = sim.url;
    env = { ...env, TRADE_SYSTEMS: 'http', TRADE_SIM_URL: sim.url };
  }
  const servers: ServerProcess[] = [];
  for (const [i, port] of ports.entries()) servers.push(await startServerProcess(join(dir, `p${i}`), port, args, env));
  t.teardown(() => Promise.all(servers.map((s) => s.stop())));
  // Each sale's requests go to one process (by its number); the simulators' knobs to wherever they run.
  // Over connectors the servers have a keys file and `trade sim` a token; in demo mode the demo key is both.
  const serverKey = simUrl ? SUITE_KEY : DEMO_KEY;
  const apis = servers.map((s) => patientApi(s.url, serverKey));
  const apiFor = (i: number) => apis[i % apis.length]!;
  const api = apis[0]!;
  const simApi = simUrl ? patientApi(simUrl, SIM_ADMIN_TOKEN) : patientApi(servers[0]!.url, DEMO_KEY);

  const kinds: Kind[] = ['card', 'wechat', 'mixed'];
  const sales: Sale[] = [];
  const order = async (i: number): Promise<void> => {
    const kind = kinds[i % 3]!;
    const key = (step: string) => ({ 'idempotency-key': `crash-${i}-${step}` });
    const api = apiFor(i);
    const started = await api<TransactionView>('POST', '/v1/transactions', {
      scene: 'merchant_pos', merchantId: 'M1', stationId: 'S1', userId: 'U4',
      items: [{ type: 'fuel', nozzleNo: 1, amount: 1000 + i }],
      paymentMethods: [kind === 'card' ? 'stored_value' : 'wechat'],
    }, key('start'));
    if (started.status !== 201) throw new Error(`start ${i}: ${JSON.stringify(started.body)}`);
    const comboId = kind === 'card' ? 'c-stored_value' : 'c-wechat';
    const ordered = await api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId }, key('order'));
    if (ordered.status !== 201) throw new Error(`order ${i}: ${JSON.stringify(ordered.body)}`);
    sales.push({ i, kind, txnNo: started.body.txnNo, payable: ordered.body.payableAmount, paymentNos: [] });
  };
  await pool(options.transactions, 16, order);
  t.equal(sales.length, options.transactions, `${options.transactions} sales ordered`);

  // Pay them all while the server is killed at random moments and restarted.
  const pay = async (sale: Sale): Promise<void> => {
    const legs =
      sale.kind === 'card'
        ? [{ method: 'stored_value', cardNo: CARD, amount: sale.payable }]
        : sale.kind === 'wechat'
          ? [{ method: 'wechat', amount: sale.payable }]
          : [{ method: 'stored_value', cardNo: CARD, amount: CARD_LEG }, { method: 'wechat', amount: sale.payable - CARD_LEG }];
    // Paid through another process than the one that ordered, when there are several.
    const paid = await apiFor(sale.i + 1)<TransactionView>('POST', `/v1/transactions/${sale.txnNo}/payments`, { legs }, { 'idempotency-key': `crash-${sale.i}-pay` });
    if (paid.status !== 200 && paid.status !== 202) return; // in progress when the server died: it finishes, or expires
    for (const leg of paid.body.legs ?? []) {
      if (leg.method !== 'wechat' || !leg.paymentNo) continue;
      sale.paymentNos.push(leg.paymentNo);
      // Most customers pay; one in fifteen fails to, and one in thirty walks away (the payment expires).
      if (sale.i % 30 === 7) continue;
      await simApi('POST', `/sim/payments/${leg.paymentNo}/${sale.i % 15 === 4 ? 'fail' : 'pay'}`);
    }
  };
  let paying = true;
  const chaos = (async () => {
    for (let n = 0; n < options.crashes && paying; n++) {
      await new Promise((r) => setTimeout(r, 200 + Math.random() * 800));
      const victim = Math.floor(Math.random() * servers.length);
      await servers[victim]!.crash();
      servers[victim] = await startServerProcess(join(dir, `p${victim}`), ports[victim]!, args, env);
    }
  })();
  await pool(sales.length, 16, (i) => pay(sales[i]!));
  paying = false;
  await chaos;

  const views = new Map<string, TransactionView>();
  // Sales left unpaid expire 15 s after their last restart; a busy machine needs more.
  const deadline = Date.now() + 2 * PATIENCE_MS;
  for (const sale of sales) {
    for (;;) {
      const v = await api<TransactionView>('GET', `/v1/transactions/${sale.txnNo}`);
      if (FINAL.includes(v.body.state) || Date.now() > deadline) {
        views.set(sale.txnNo, v.body);
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const notFinal = [...views.values()].filter((v) => !FINAL.includes(v.state)).map((v) => `${v.txnNo}:${v.state}`);
  t.same(notFinal, [], 'every transaction reached a final state');

  // Money conservation: what left the card and what the gateway kept is what completed sales took.
  const completed = [...views.values()].filter((v) => v.state === 'completed');
  const legSum = (method: string) => completed.flatMap((v) => v.legs).filter((l) => l.method === method).reduce((a, l) => a + l.amount, 0);
  const card = (await simApi<{ card: { availableFen: number; lockedFen: number }; locks: { status: string }[] }>('GET', `/sim/cards/${CARD}`)).body;
  t.equal(CARD_BALANCE - card.card.availableFen, legSum('stored_value'), 'the card was debited exactly what completed sales took from it');
  t.equal(card.card.lockedFen, 0, 'no card lock left');
  let kept = 0;
  for (const sale of sales) {
    for (const paymentNo of sale.paymentNos) {
      // A refund under way is owed back already: the gateway counts it in `refundedFen`.
      const p = (await simApi<{ payment: { status: string; amountFen: number; refundedFen: number } }>('GET', `/sim/payments/${paymentNo}`)).body;
      if (p.payment.status === 'succeeded') kept += p.payment.amountFen - p.payment.refundedFen;
    }
  }
  t.equal(kept, legSum('wechat'), 'the gateway kept exactly what completed sales took by wechat');
  const confirms = (await simApi<{ effects: { key: string }[] }>('GET', '/sim/effects?system=storedValue&verb=confirm')).body.effects;
  t.equal(new Set(confirms.map((e) => e.key)).size, confirms.length, 'no card confirm happened twice');
  const marked = (await simApi<{ effects: { key: string }[] }>('GET', '/sim/effects?system=order&verb=markPaid')).body.effects;
  t.equal(marked.length, completed.length, 'each completed order was marked paid once');
  const why = [...views.values()].filter((v) => v.state !== 'completed').reduce<Record<string, number>>((a, v) => ({ ...a, [v.outcome?.message ?? v.state]: (a[v.outcome?.message ?? v.state] ?? 0) + 1 }), {});
  // How many beat the 15 s payment TTL depends on the machine's load alone: at load 9 most sales
  // expire (22 of 300 completed), which is correct behaviour. What must hold for every sale is
  // asserted above; one completed sale is enough for the money checks to have something to count.
  t.ok(completed.length > 0, `sales completed (${completed.length} of ${options.transactions}; the others: ${JSON.stringify(why)})`);
  const unexplained = [...views.values()].filter((v) => v.state !== 'completed' && !v.outcome).map((v) => `${v.txnNo}:${v.state}`);
  t.same(unexplained, [], 'every sale that did not complete says why');
  await options.afterwards?.(t);
}

/** Runs `work(0..n-1)` from `concurrency` workers. */
async function pool(n: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await work(next++);
    }),
  );
}
