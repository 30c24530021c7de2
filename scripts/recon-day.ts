/**
 * Must-show 1 of issue 19 at full size (not part of `npm test`, whose version is small): a
 * simulated day of 10,000 mixed sales with refunds through the real platform (wechat, alipay,
 * unionpay, senseless, and card + async channel), reconciled clean from the channels' own bill
 * files; then several of every discrepancy kind planted into each channel's bill (midnight rows
 * both ways included), the day and the next one run again, and what was found set against what
 * was planted, per kind: every planted one found as planted, nothing else.
 *
 *   npx tsx scripts/recon-day.ts [--sales 10000] [--each 3] [--batch 20]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { DEMO_API_KEY } from '../domain/api-key.ts';
import { chinaDayBounds, shiftDay } from '../domain/reconciliation/bill-format.ts';
import type { BillChannel } from '../domain/reconciliation/bill-row.ts';
import { buildApp } from '../http/app.ts';
import { ManualClock } from '../runtime/clock.ts';
import { RECON_CHANNELS } from '../runtime/reconciler.ts';
import { createTradeCenter, DEFAULT_CONFIG, type TradeCenterConfig } from '../runtime/trade-center.ts';
import type { TransactionView } from '../runtime/view.ts';
import { BILL_INJECTION_KINDS, type BillInjectionKind, type PlantedDiscrepancy } from '../systems/payment-gateway/bills/channel-bills.ts';
import { loadDataset } from '../systems/sim/index.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

const SALES = arg('sales', 10_000);
const EACH = arg('each', 3);
const BATCH = arg('batch', 20);
const DAY = '2026-12-01';
const NEXT = shiftDay(DAY, 1);
const { startMs, endMs } = chinaDayBounds(DAY);
/** Sales run from D 00:01 to D+1 00:08 China time, so both midnight moves have rows to move. */
const SPAN_MS = endMs + 8 * 60_000 - (startMs + 60_000);
const UNPAID_PER_CHANNEL = EACH + 2;

const dir = mkdtempSync(join(tmpdir(), 'recon-day-'));
const clock = new ManualClock(startMs + 60_000);
const config: TradeCenterConfig = {
  ...DEFAULT_CONFIG,
  dataset: loadDataset(new URL('../demo/dataset.json', import.meta.url).pathname),
  dbPath: join(dir, 'trade.db'),
  simDbPath: join(dir, 'sim.db'),
  callbackDelayMs: 0,
  logLevel: 'silent',
  recon: { ...DEFAULT_CONFIG.recon, daily: false },
  timerPollMs: 3_600_000,
  tasks: { ...DEFAULT_CONFIG.tasks, pollMs: 3_600_000, runOnArrival: false },
  osSync: { ...DEFAULT_CONFIG.osSync, pollMs: 3_600_000 },
};
const tc = createTradeCenter(config, { clock, log: pino({ level: 'silent' }) });
const app = await buildApp(tc);
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
const sims = tc.sims!;
sims.gateway.setCallbackTarget(url, config.callbackSecret);
await tc.start();

async function api<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await app.inject({ method, url: path, headers: { authorization: `Bearer ${DEMO_API_KEY}` }, ...(body === undefined ? {} : { payload: body as object }) });
  return { status: res.statusCode, body: res.json() as T };
}

const SALE = { scene: 'merchant_pos', merchantId: 'M1', stationId: 'S1', userId: 'U4' };
/** The card's member: one mixed sale per batch at most, so two never contend for the member's coupon. */
const MEMBER = { userId: 'U1' };

/** Starts, orders and asks to pay one sale: one channel leg, or a card leg of 1 yuan beside it. */
async function startPaying(channel: BillChannel, n: number, mixed: boolean): Promise<TransactionView> {
  const amount = 5_000 + (n % 97) * 100;
  const started = await api<TransactionView>('POST', '/v1/transactions', { ...SALE, ...(mixed ? MEMBER : {}), items: [{ type: 'fuel', nozzleNo: 1, amount }], paymentMethods: [channel] });
  if (started.status !== 201) throw new Error(`start: ${JSON.stringify(started.body)}`);
  const ordered = await api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: `c-${channel}` });
  if (ordered.status !== 201) throw new Error(`order: ${JSON.stringify(ordered.body)}`);
  const legs = mixed
    ? [{ method: 'stored_value', cardNo: 'C1', amount: 100 }, { method: channel, amount: ordered.body.payableAmount - 100 }]
    : [{ method: channel, amount: ordered.body.payableAmount }];
  const paying = await api<TransactionView>('POST', `/v1/transactions/${ordered.body.txnNo}/payments`, { legs });
  if (paying.status >= 300) throw new Error(`pay: ${JSON.stringify(paying.body)}`);
  return paying.body;
}

async function until(txnNo: string, ok: (v: TransactionView) => boolean): Promise<TransactionView> {
  for (let i = 0; ; i++) {
    const v = (await api<TransactionView>('GET', `/v1/transactions/${txnNo}`)).body;
    if (ok(v)) return v;
    if (i > 2_000) throw new Error(`${txnNo} stuck: ${v.state}`);
    await tc.host.settle();
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function sale(n: number): Promise<void> {
  const channel = RECON_CHANNELS[n % RECON_CHANNELS.length]!;
  const paying = await startPaying(channel, n, n % 25 === 0);
  const leg = paying.legs.find((l) => l.method === channel)!;
  await sims.gateway.pay(leg.paymentNo);
  const done = await until(paying.txnNo, (v) => v.state === 'completed');
  if (n % 9 === 4) {
    const refund = await api<{ refundNo: string }>('POST', `/v1/transactions/${done.txnNo}/refunds`, { amount: 1_000, reason: 'returned' });
    if (refund.status !== 202 && refund.status !== 200) throw new Error(`refund: ${JSON.stringify(refund.body)}`);
  }
}

const wall0 = Date.now();
try {
  for (let n = 0; n < SALES; n += BATCH) {
    clock.set(startMs + 60_000 + Math.floor((n / SALES) * SPAN_MS));
    await Promise.all(Array.from({ length: Math.min(BATCH, SALES - n) }, (_, i) => sale(n + i)));
    await sims.gateway.deliverDue();
    if (n % 1000 === 0) process.stderr.write(`${n} sales, ${Math.round((Date.now() - wall0) / 1000)} s\n`);
  }
  // Payments the channel never took, for the bill to claim paid (platform_short_status).
  clock.set(startMs + 13 * 3_600_000);
  for (const channel of RECON_CHANNELS) for (let i = 0; i < UNPAID_PER_CHANNEL; i++) await startPaying(channel, i, false);
  // Let every refund settle and its callback land; the clock ends the next morning.
  for (let i = 0; i < 600; i++) {
    clock.advance(1_000);
    await sims.gateway.deliverDue();
    await tc.host.settle();
  }
  clock.set(chinaDayBounds(NEXT).endMs + 3_600_000);

  const report: Record<string, unknown>[] = [];
  const clean: Record<string, number> = {};
  for (const channel of RECON_CHANNELS) {
    const run = await tc.reconciler.run(channel, DAY);
    clean[channel] = run.result.discrepancies.length;
    report.push({ channel, run: 'clean', billRows: run.result.totals.billRows, platformRows: run.result.totals.platformRows, matched: run.result.totals.matched, discrepancies: run.result.discrepancies.length });
  }

  const planted: PlantedDiscrepancy[] = [];
  for (const channel of RECON_CHANNELS) {
    for (const kind of BILL_INJECTION_KINDS) {
      for (let i = 0; i < EACH; i++) {
        planted.push(sims.bills.inject({ channel, date: DAY, kind, ...(kind === 'platform_over_status' && i === 0 ? { rowKind: 'refund' as const } : {}) }));
      }
    }
  }
  const found: { channel: BillChannel; day: string; kind: string; ref: string }[] = [];
  for (const channel of RECON_CHANNELS) {
    for (const day of [DAY, NEXT]) {
      const run = await tc.reconciler.run(channel, day);
      for (const d of run.result.discrepancies) found.push({ channel, day, kind: d.kind, ref: d.ref });
    }
  }
  // A midnight move is a row on the neighbouring day's bill: the carry-over must absorb it, so it is expected nowhere.
  const expectedKind = (k: BillInjectionKind): string | null => (k === 'midnight_next' || k === 'midnight_previous' ? null : k);
  const key = (x: { channel: string; kind: string; ref: string }) => `${x.channel} ${x.kind} ${x.ref}`;
  const expected = new Set(planted.filter((p) => expectedKind(p.kind)).map((p) => key({ channel: p.channel, kind: p.kind, ref: p.merchantRef })));
  const foundKeys = new Set(found.map(key));
  const perKind = BILL_INJECTION_KINDS.map((kind) => {
    const mine = planted.filter((p) => p.kind === kind);
    const asPlanted = expectedKind(kind) === null
      ? mine.filter((p) => !found.some((f) => f.channel === p.channel && f.ref === p.merchantRef)).length
      : mine.filter((p) => foundKeys.has(key({ channel: p.channel, kind: p.kind, ref: p.merchantRef }))).length;
    return { kind, injected: mine.length, foundAsInjected: asPlanted, expectation: expectedKind(kind) ? `found as ${kind}` : 'absorbed by the carry-over: no discrepancy' };
  });
  const extra = found.filter((f) => !expected.has(key(f)));
  console.log(`${SALES} sales + ${UNPAID_PER_CHANNEL * RECON_CHANNELS.length} unpaid, wall ${Math.round((Date.now() - wall0) / 1000)} s`);
  console.table(report);
  console.log('clean day: discrepancies per channel', clean);
  console.table(perKind);
  console.log(`found but not planted: ${extra.length}`, extra.slice(0, 20));
  const ok = Object.values(clean).every((n) => n === 0) && perKind.every((k) => k.foundAsInjected === k.injected) && extra.length === 0;
  console.log(ok ? 'OK: every planted discrepancy found as planted, nothing else' : 'MISMATCH');
  process.exitCode = ok ? 0 : 1;
} finally {
  await app.close();
  await tc.close();
  rmSync(dir, { recursive: true, force: true });
}
