import t, { type Test } from 'tap';
import type { TransactionView } from '../../runtime/view.ts';
import { DEFAULT_CONFIG } from '../../runtime/trade-center.ts';
import { apiClient, eventually, FUEL_SALE, orderedSale, type ApiResponse } from '../helpers/harness.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { freePort, startServerProcess, SUITE_KEY, type ServerProcess } from '../helpers/server-process.ts';
import { SIM_ADMIN_TOKEN, startSimProcess } from '../helpers/sim-process.ts';

interface Effect {
  system: string;
  verb: string;
  key: string;
}

interface Answer {
  txnNo?: string;
  state?: string;
  error?: { code: string };
}

/** How long `trade serve` lets a request wait for its command (the request's own deadline). */
const REQUEST_DEADLINE_MS = DEFAULT_CONFIG.callTimeoutMs * 4;

/**
 * Issue 15, must show 1: a keyed checkout, start and cancel, each with `trade serve` SIGKILLed while
 * it runs; after the restart on the same store the retry under the same key gets the outcome
 * within the request's deadline, and the work is done once.
 */
async function keyedRequestsSurviveKills(t: Test, env: Record<string, string>): Promise<void> {
  const dir = t.testdir();
  const [simPort, port] = [await freePort(), await freePort()];
  const sim = await startSimProcess({ dir, port: simPort, callbackUrl: `http://127.0.0.1:${port}` });
  t.teardown(() => sim.stop());
  const servers: ServerProcess[] = [];
  // Every server this test starts goes, even when an assertion or a start fails.
  t.teardown(async () => {
    for (const s of servers) await s.stop();
  });
  const start = async () => {
    const server = await startServerProcess(dir, port, [], { TRADE_SYSTEMS: 'http', TRADE_SIM_URL: sim.url, ...env });
    servers.push(server);
    return server;
  };
  let server = await start();
  const api = apiClient(server.url, SUITE_KEY);
  const admin = apiClient(sim.url, SIM_ADMIN_TOKEN);
  const effects = async (system: string, verb: string) => (await admin<{ effects: Effect[] }>('GET', `/sim/effects?system=${system}&verb=${verb}`)).body.effects;
  const fault = async (system: string, settings: Record<string, unknown>) => t.equal((await admin('PUT', `/sim/faults/${system}`, settings)).status, 200);

  /**
   * Sends a keyed request and kills the server while it runs: once a duplicate under the key is
   * refused as in progress (the claim is held) and `effectDone` holds; then restarts and retries.
   */
  async function killMidFlight(send: () => Promise<ApiResponse<Answer>>, effectDone: () => Promise<boolean>): Promise<{ retry: ApiResponse<Answer>; ms: number }> {
    const first = send().catch(() => null);
    const busy = await eventually(send, (r) => r.status === 409, 30_000);
    t.equal(busy.body.error?.code, 'REQUEST_IN_PROGRESS', 'a live owner answers 409 while it runs');
    await eventually(effectDone, (done) => done, 30_000);
    await server.crash();
    await first;
    t.equal((await admin('DELETE', '/sim/faults')).status, 204);
    server = await start();
    const began = performance.now();
    const retry = await send();
    return { retry, ms: performance.now() - began };
  }

  const ordersBefore = (await effects('order', 'createOrder')).length;

  // Checkout: the card commits its lock, then answers 4 s late; the platform dies meanwhile.
  const checkoutBody = { ...FUEL_SALE, paymentMethods: ['stored_value'], legs: [{ method: 'stored_value', cardNo: 'C1', amount: 'rest' }] };
  const checkout = () => api<Answer>('POST', '/v1/checkout', checkoutBody, { 'idempotency-key': 'crash-checkout' });
  const locksBefore = (await effects('storedValue', 'lock')).length;
  await fault('storedValue', { lock: { delayAfterEffectMs: 4_000 } });
  const paid = await killMidFlight(checkout, async () => (await effects('storedValue', 'lock')).length > locksBefore);
  t.ok([200, 202].includes(paid.retry.status), `the checkout's retry answers with the sale (${paid.retry.status} ${JSON.stringify(paid.retry.body.error ?? paid.retry.body.state)})`);
  t.ok(paid.ms < REQUEST_DEADLINE_MS, `within the request deadline (${Math.round(paid.ms)} ms)`);
  const sale = paid.retry.body.txnNo!;
  t.match(sale, /^T/);
  const done = await eventually(() => api<TransactionView>('GET', `/v1/transactions/${sale}`), (r) => r.body.state === 'completed', 30_000);
  t.equal(done.body.paidAmount, done.body.payableAmount, 'the sale is paid in full');
  const replayed = await checkout();
  t.equal(replayed.body.txnNo, sale, 'a later retry replays the same sale');
  t.equal(replayed.headers.get('idempotent-replayed'), 'true');
  const ofSale = (list: Effect[]) => list.filter((e) => e.key.startsWith(sale)).length;
  t.equal(ofSale(await effects('storedValue', 'lock')), 1, 'the card locked once');
  t.equal(ofSale(await effects('storedValue', 'confirm')), 1, 'and charged once');
  t.equal((await effects('order', 'createOrder')).length, ordersBefore + 1, 'one order: the retry continued the sale, it did not start another');

  // Start: the user system answers 4 s late; the platform dies while the quote waits for it.
  const startBody = { ...FUEL_SALE, userId: 'U3', paymentMethods: ['wechat'] };
  const startTxn = () => api<Answer>('POST', '/v1/transactions', startBody, { 'idempotency-key': 'crash-start' });
  await fault('user', { getUser: { latencyMs: 4_000 } });
  const started = await killMidFlight(startTxn, async () => true);
  t.equal(started.retry.status, 201, `the start's retry starts the transaction (${JSON.stringify(started.retry.body.error ?? started.retry.body.state)})`);
  t.ok(started.ms < REQUEST_DEADLINE_MS, `within the request deadline (${Math.round(started.ms)} ms)`);
  t.equal(started.retry.body.state, 'quoted');
  const startedTxn = started.retry.body.txnNo!;
  t.equal((await api<TransactionView>('GET', `/v1/transactions/${startedTxn}`)).body.state, 'quoted', 'the transaction is stored');
  t.equal((await startTxn()).body.txnNo, startedTxn, 'a later retry replays it');

  // Cancel: the gateway closes the payment, then answers 4 s late; the platform dies meanwhile.
  const wechat = await orderedSale(api, 'wechat', { userId: 'U4' });
  const paying = await api<TransactionView>('POST', `/v1/transactions/${wechat.txnNo}/payments`, { legs: [{ method: 'wechat', amount: wechat.payableAmount }] });
  t.equal(paying.body.state, 'paying');
  const cancel = () => api<Answer>('POST', `/v1/transactions/${wechat.txnNo}/cancel`, { reason: 'customer left' }, { 'idempotency-key': 'crash-cancel' });
  const closesBefore = (await effects('paymentGateway', 'closePayment')).length;
  await fault('paymentGateway', { closePayment: { delayAfterEffectMs: 4_000 } });
  const cancelled = await killMidFlight(cancel, async () => (await effects('paymentGateway', 'closePayment')).length > closesBefore);
  t.equal(cancelled.retry.status, 200, `the cancel's retry answers with the cancelled transaction (${JSON.stringify(cancelled.retry.body.error ?? cancelled.retry.body.state)})`);
  t.ok(cancelled.ms < REQUEST_DEADLINE_MS, `within the request deadline (${Math.round(cancelled.ms)} ms)`);
  t.equal(cancelled.retry.body.state, 'cancelled');
  t.equal((await cancel()).headers.get('idempotent-replayed'), 'true', 'a later retry replays it');
  t.equal((await effects('paymentGateway', 'closePayment')).length, closesBefore + 1, 'the payment closed once');
}

t.test('keyed checkout, start and cancel killed mid-flight get their outcome on retry after a restart, on SQLite (issue 15)', async (t) => {
  await keyedRequestsSurviveKills(t, {});
});

t.test('keyed checkout, start and cancel killed mid-flight get their outcome on retry after a restart, on Redis (issue 15)', async (t) => {
  const redis = await startRedisServer({ appendonly: true });
  t.teardown(() => redis.stop());
  await keyedRequestsSurviveKills(t, { TRADE_STORAGE: 'redis', REDIS_URL: redis.url, TRADE_REDIS_PREFIX: 'tc-idem' });
});
