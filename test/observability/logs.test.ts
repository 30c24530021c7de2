import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import { buildApp } from '../../http/app.ts';
import { createTradeCenter, DEFAULT_CONFIG } from '../../runtime/trade-center.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { loadDataset } from '../../systems/sim/index.ts';
import { apiClient, DATASET_PATH, eventually, FUEL_SALE } from '../helpers/harness.ts';

interface LogLine {
  level: number;
  msg: string;
  reqId?: string;
  txnNo?: string;
  req?: { url: string; method: string };
}

t.test("every log line of a sale's work carries its txnNo: requests, the callback, a failing downstream call, the tasks", async (t) => {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const dir = t.testdir();
  const config = {
    ...DEFAULT_CONFIG,
    dataset: loadDataset(DATASET_PATH),
    dbPath: join(dir, 'trade.db'),
    simDbPath: join(dir, 'sim.db'),
    callbackDelayMs: 0,
    timerPollMs: 50,
    tasks: { ...DEFAULT_CONFIG.tasks, pollMs: 50 },
  };
  const tc = createTradeCenter(config, { log: pino({ level: 'info' }, sink) });
  const app = await buildApp(tc);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  tc.sims!.gateway.setCallbackTarget(url, config.callbackSecret);
  await tc.start();
  t.teardown(async () => {
    await app.close();
    await tc.close();
  });
  const api = apiClient(url);

  // The order system refuses "mark paid" once: the host retries it and logs the failure.
  tc.sims!.faults.order.configure({ markPaid: { failNext: 1 } });
  const started = await api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  const txnNo = started.body.txnNo;
  const ordered = await api<TransactionView>('POST', `/v1/transactions/${txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-wechat' });
  const paying = await api<TransactionView>('POST', `/v1/transactions/${txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.body.payableAmount }] });
  await tc.sims!.gateway.pay(paying.body.legs[0]!.paymentNo);
  await eventually(() => api<TransactionView & { tasks: { status: string }[] }>('GET', `/v1/transactions/${txnNo}`), (r) => r.body.state === 'completed' && r.body.tasks.every((x) => x.status === 'done'));
  await api('POST', `/admin/transactions/${txnNo}/nudge`);

  const requestsAboutIt = new Set(lines.filter((l) => l.req?.url.includes(txnNo)).map((l) => l.reqId));
  const aboutIt = lines.filter((l) => JSON.stringify(l).includes(txnNo) || requestsAboutIt.has(l.reqId));
  const missing = aboutIt.filter((l) => l.txnNo !== txnNo);
  t.same(missing, [], 'no line about the sale lacks its txnNo');

  const completedOf = (method: string, path: string) => {
    const reqId = lines.find((l) => l.msg === 'incoming request' && l.req?.method === method && l.req.url === path)?.reqId;
    return lines.find((l) => l.reqId === reqId && l.msg === 'request completed');
  };
  t.equal(completedOf('POST', '/v1/transactions')?.txnNo, txnNo, 'the start: its answer names the transaction');
  t.equal(completedOf('POST', '/v1/callbacks/payments/wechat')?.txnNo, txnNo, 'the payment callback: its body names it');
  t.equal(lines.find((l) => l.msg === 'incoming request' && l.req?.url === `/v1/transactions/${txnNo}/order`)?.txnNo, txnNo, 'a request on it: from its first line');
  t.ok(aboutIt.some((l) => l.msg === 'downstream call failed'), 'the failing call was logged, with the txnNo');
  t.ok(aboutIt.filter((l) => l.msg === 'request completed').length >= 6, 'start, order, pay, callback, reads, nudge');
});
