import t from 'tap';
import { ManualClock } from '../../runtime/clock.ts';
import { SqliteReconSchedule } from '../../runtime/recon-jobs.ts';
import { DEFAULT_CONFIG } from '../../runtime/trade-center.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { eventually, orderedSale, startHarness, type Harness } from '../helpers/harness.ts';

const DAY = '2026-12-01';
const at = (china: string) => Date.parse(`${china}+08:00`);

async function metric(h: Harness, name: string, labels: string): Promise<number | null> {
  const text = await (await fetch(`${h.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').at(-1)) : null;
}

function schedule(h: Harness): SqliteReconSchedule {
  const s = h.tc.reconJobs.schedule;
  if (!(s instanceof SqliteReconSchedule)) throw new Error('the embedded schedule was expected');
  return s;
}

t.test('the daily job runs each channel\'s previous China day at its hour from the SQLite timer rows, retries a bill not ready yet with the missing-bill gauge up, and re-arms the next day (issue 19)', async (t) => {
  const clock = new ManualClock(at(`${DAY}T23:47:00`));
  const dir = t.testdir();
  const config = { recon: { ...DEFAULT_CONFIG.recon, daily: true, hour: 10, retryMs: 30 * 60_000 } };
  const h = await startHarness(t, { clock, dir, config });
  const wechat = (day: string) => schedule(h).armed().find((j) => j.channel === 'wechat' && j.day === day);

  t.match(wechat('2026-11-30'), { dueAt: at('2026-12-01T10:00:00'), attempt: 0 }, 'at start the latest day due is armed, due since this morning');
  t.equal(await schedule(h).runDue(), 4, 'each channel\'s day runs (an empty day is a clean one)');
  t.match(wechat(DAY), { dueAt: at('2026-12-02T10:00:00'), attempt: 0 }, 'and the next day is armed at its hour');

  const ordered = await orderedSale(h.api, 'wechat');
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.payableAmount }] });
  await h.sims.gateway.pay(paying.body.legs[0]!.paymentNo);
  await eventually(() => h.api<TransactionView>('GET', `/v1/transactions/${ordered.txnNo}`), (r) => r.body.state === 'completed');
  // The channel publishes late today: at 10:15 China time.
  h.tc.sims!.bills.configure({ readyAfterMs: 10.25 * 3_600_000 });

  clock.set(at('2026-12-02T09:59:00'));
  t.equal(await schedule(h).runDue(), 0, 'nothing is due before the hour');
  t.equal(await metric(h, 'tc_reconciliation_bill_missing', 'channel="wechat"'), 0, 'no bill is missing before its hour');

  clock.set(at('2026-12-02T10:00:00'));
  t.equal(await schedule(h).runDue(), 4, 'at the hour every channel tries');
  t.equal(await h.tc.storage.reconciliation.run('wechat', DAY), null, 'the bill was not ready: nothing recorded');
  t.match(wechat(DAY), { dueAt: at('2026-12-02T10:30:00'), attempt: 1 }, 'tried again after the retry delay');
  t.equal(await metric(h, 'tc_reconciliation_bill_missing', 'channel="wechat"'), 1, 'the missing-bill gauge is up');

  // A restart in between: the armed rows are durable and a new start arms nothing over them.
  await h.close();
  const again = await startHarness(t, { clock, dir, config });
  t.match(schedule(again).armed().find((j) => j.channel === 'wechat'), { day: DAY, dueAt: at('2026-12-02T10:30:00'), attempt: 1 }, 'the retry survives a restart');
  again.tc.sims!.bills.configure({ readyAfterMs: 10.25 * 3_600_000 });
  const planted = again.tc.sims!.bills.inject({ channel: 'wechat', date: DAY, kind: 'platform_short_amount', merchantRef: paying.body.legs[0]!.paymentNo, deltaFen: 100 });

  clock.set(at('2026-12-02T10:30:00'));
  t.equal(await schedule(again).runDue(), 4);
  t.match(await again.tc.storage.reconciliation.run('wechat', DAY), { totals: { billRows: 1, discrepancies: 1 } }, 'the day ran once the bill was out');
  t.match(schedule(again).armed().find((j) => j.channel === 'wechat'), { day: '2026-12-02', dueAt: at('2026-12-03T10:00:00'), attempt: 0 }, 're-armed for the next day');
  t.equal(await metric(again, 'tc_reconciliation_bill_missing', 'channel="wechat"'), 0, 'the gauge is down again');
  t.equal(await metric(again, 'tc_reconciliation_open_discrepancies', 'channel="wechat",kind="platform_short_amount"'), 1, 'open discrepancies by channel and kind');
  t.equal(await metric(again, 'tc_reconciliation_discrepancies_found_total', 'channel="wechat",kind="platform_short_amount"'), 1, 'found by kind');
  t.equal(planted.kind, 'platform_short_amount');
});

t.test('in scale-out the daily job is a BullMQ delayed job on the host\'s clock: due ones run at once and the next day is armed (issue 19)', async (t) => {
  const { startRedisServer } = await import('../helpers/redis-server.ts');
  const { BullmqReconSchedule } = await import('../../runtime/recon-jobs.ts');
  const redis = await startRedisServer();
  t.teardown(() => redis.stop());
  const clock = new ManualClock(at('2026-12-02T10:05:00'));
  const h = await startHarness(t, { clock, config: { storage: { kind: 'redis', url: redis.url, prefix: 'tc-recon' }, recon: { ...DEFAULT_CONFIG.recon, daily: true, hour: 10 } } });
  const s = h.tc.reconJobs.schedule;
  if (!(s instanceof BullmqReconSchedule)) throw new Error('the BullMQ schedule was expected');
  for (const channel of ['wechat', 'alipay', 'unionpay', 'senseless']) {
    await eventually(() => h.tc.storage.reconciliation.run(channel, DAY), (run) => run !== null);
  }
  t.pass('every channel\'s previous day ran, due since 10:00');
  const next = await eventually(() => s.queue.getJob(BullmqReconSchedule.jobId({ channel: 'wechat', day: '2026-12-02', attempt: 0 })), (job) => job !== undefined);
  t.match(next?.data, { channel: 'wechat', day: '2026-12-02', dueAt: at('2026-12-03T10:00:00') }, 'the next day is armed at its hour');
  t.ok(await next?.isDelayed(), 'as a delayed job');
});
