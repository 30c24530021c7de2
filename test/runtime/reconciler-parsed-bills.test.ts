import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { ManualClock } from '../../runtime/clock.ts';
import { BillUnusableError, ParsedBills, type DownloadedBill } from '../../runtime/parsed-bills.ts';
import { Reconciler } from '../../runtime/reconciler.ts';
import { PlatformSide } from '../../runtime/recon-platform.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { SqliteReconciliationRecords } from '../../storage/sqlite/reconciliation-records.ts';
import type { BillChannel } from '../../domain/reconciliation/bill-row.ts';
import { eventually, orderedSale, startHarness, type Harness } from '../helpers/harness.ts';
import { testFee } from '../helpers/recon-bills.ts';

const DAY = '2026-12-01';
const START = Date.parse(`${DAY}T09:00:00+08:00`);
const NEXT_MORNING = Date.parse('2026-12-02T01:00:00+08:00');

const view = (h: Harness, txnNo: string) => h.api<TransactionView>('GET', `/v1/transactions/${txnNo}`);

async function paidSale(h: Harness, method: 'wechat' | 'alipay'): Promise<TransactionView> {
  const ordered = await orderedSale(h.api, method);
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method, amount: ordered.payableAmount }] });
  await h.sims.gateway.pay(paying.body.legs[0]!.paymentNo);
  return (await eventually(() => view(h, ordered.txnNo), (r) => r.body.state === 'completed')).body;
}

async function setUp(t: Test) {
  const clock = new ManualClock(START);
  const h = await startHarness(t, { clock });
  const dir = mkdtempSync(join(tmpdir(), 'recon-parsed-'));
  const records = new SqliteReconciliationRecords(join(dir, 'recon.db'));
  t.teardown(async () => {
    await records.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const bills = h.tc.sims!.bills;
  // What a real deployment downloads: the channel's file and the SHA-1 it publishes beside it.
  let tamper = (bytes: Uint8Array) => bytes;
  const download = async (channel: BillChannel, day: string): Promise<DownloadedBill | { notReady: string }> => {
    const got = bills.bill(channel, day);
    if (!got.ok) return { notReady: `${got.code}: ${got.message}` };
    return { bytes: tamper(got.file.bytes), sha1: got.file.sha1 };
  };
  const platform = new PlatformSide(h.tc.storage, h.tc.storage.archive);
  const host = { nudge: (txnNo: string) => h.tc.host.nudge(txnNo), settle: () => h.tc.host.settle() };
  const reconciler = new Reconciler({ bills: new ParsedBills(download), platform, expectedFee: testFee, records, host, now: () => clock.now() });
  return { clock, h, records, reconciler, bills, setTamper: (f: (b: Uint8Array) => Uint8Array) => (tamper = f) };
}

t.test('a day reconciled from the channels\' own bill files is clean, and each discrepancy planted into the file is found, exactly those (issue 19)', async (t) => {
  const { clock, h, reconciler, bills } = await setUp(t);
  const wechat = [await paidSale(h, 'wechat'), await paidSale(h, 'wechat'), await paidSale(h, 'wechat')];
  const alipay = [await paidSale(h, 'alipay'), await paidSale(h, 'alipay')];
  const refund = await h.api('POST', `/v1/transactions/${wechat[0]!.txnNo}/refunds`, { amount: 1_000, reason: 'customer' });
  t.ok(refund.status === 200 || refund.status === 202, 'a partial refund is taken');

  const early = await reconciler.run('wechat', DAY).then(() => null, (err: unknown) => err);
  t.ok(early instanceof BillUnusableError && early.reason === 'not-ready', 'the bill of a day not yet over cannot be had');
  // The channel settles the refund and calls back as its clock moves: move it until the news has arrived.
  for (let i = 0; i < 600 && (await view(h, wechat[0]!.txnNo)).body.refunds[0]?.status !== 'succeeded'; i++) {
    clock.advance(1_000);
    await h.tc.host.settle();
  }
  t.equal((await view(h, wechat[0]!.txnNo)).body.refunds[0]?.status, 'succeeded', 'the refund settled');
  clock.advance(NEXT_MORNING - clock.now());

  for (const channel of ['wechat', 'alipay'] as const) {
    const clean = await reconciler.run(channel, DAY);
    t.same(clean.result.discrepancies, [], `${channel}: the day is clean`);
    const sales = channel === 'wechat' ? wechat : alipay;
    t.equal(clean.result.totals.billPaymentsFen, sales.reduce((sum, s) => sum + s.paidAmount, 0), `${channel}: the bill's payments are ours`);
    t.equal(clean.result.totals.billPaymentsFen, clean.result.totals.platformPaymentsFen, `${channel}: both sides total the same`);
    t.equal(clean.result.totals.billRefundsFen, channel === 'wechat' ? 1_000 : 0, `${channel}: refunds as their own rows`);
  }

  const short = bills.inject({ channel: 'wechat', date: DAY, kind: 'platform_short_amount', merchantRef: wechat[1]!.legs[0]!.paymentNo, deltaFen: 100 });
  const fee = bills.inject({ channel: 'alipay', date: DAY, kind: 'fee_mismatch', merchantRef: alipay[0]!.legs[0]!.paymentNo, deltaFen: 2 });
  const wechatRun = await reconciler.run('wechat', DAY);
  t.same(wechatRun.result.discrepancies.map((d) => [d.kind, d.ref]), [['platform_short_amount', short.merchantRef]], 'wechat: the planted amount, nothing else');
  const alipayRun = await reconciler.run('alipay', DAY);
  t.same(alipayRun.result.discrepancies.map((d) => [d.kind, d.ref]), [['fee_mismatch', fee.merchantRef]], 'alipay: the planted fee, nothing else (parsed from the GBK zip)');
});

t.test('a bill file that does not match its published SHA-1 is refused and nothing of it is recorded (issue 19)', async (t) => {
  const { clock, h, reconciler, records, setTamper } = await setUp(t);
  await paidSale(h, 'wechat');
  clock.advance(NEXT_MORNING - clock.now());
  setTamper((bytes) => {
    const copy = Uint8Array.from(bytes);
    copy[copy.length - 3] = copy[copy.length - 3] === 0x30 ? 0x31 : 0x30;
    return copy;
  });
  const refused = await reconciler.run('wechat', DAY).then(() => null, (err: unknown) => err);
  t.ok(refused instanceof BillUnusableError && refused.reason === 'hash-mismatch', 'refused for its hash');
  t.equal(await records.run('wechat', DAY), null, 'no run recorded');
  t.same(await records.discrepancies('wechat', DAY), [], 'no discrepancy recorded');
});
