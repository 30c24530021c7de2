import t from 'tap';
import type { BillRow } from '../../domain/reconciliation/bill-row.ts';
import { EMPTY_CARRY } from '../../domain/reconciliation/match.ts';
import { ManualClock } from '../../runtime/clock.ts';
import { reconcileDay } from '../../runtime/reconciler.ts';
import { PlatformSide } from '../../runtime/recon-platform.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { eventually, orderedSale, startHarness, type Harness } from '../helpers/harness.ts';
import { gatewayBills, testFee } from '../helpers/recon-bills.ts';

const DAY = '2026-12-01';
const START = Date.parse(`${DAY}T08:00:00+08:00`);
const SALES = 60;

const view = (h: Harness, txnNo: string) => h.api<TransactionView>('GET', `/v1/transactions/${txnNo}`);

async function paidSale(h: Harness, method: 'wechat' | 'alipay'): Promise<TransactionView> {
  const ordered = await orderedSale(h.api, method);
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method, amount: ordered.payableAmount }] });
  await h.sims.gateway.pay(paying.body.legs[0]!.paymentNo);
  return (await eventually(() => view(h, ordered.txnNo), (r) => r.body.state === 'completed')).body;
}

async function refunded(h: Harness, txnNo: string, amount: number): Promise<void> {
  const res = await h.api<{ refundNo: string }>('POST', `/v1/transactions/${txnNo}/refunds`, { amount, reason: 'returned' });
  t.equal(res.status, 202);
  await eventually(() => h.api<{ status: string }>('GET', `/v1/transactions/${txnNo}/refunds/${res.body.refundNo}`), (r) => r.body.status === 'succeeded');
}

t.test('a simulated day of sales and refunds reconciles clean, and planted discrepancies are exactly those found', async (t) => {
  const clock = new ManualClock(START);
  const h = await startHarness(t, { clock });
  const db = h.tc.sims!.store.db;
  const platform = new PlatformSide(h.tc.storage, h.tc.storage.archive);
  const sales: TransactionView[] = [];
  for (let i = 0; i < SALES; i++) {
    clock.advance(7 * 60_000);
    const sale = await paidSale(h, i % 4 === 3 ? 'alipay' : 'wechat');
    sales.push(sale);
    if (i % 5 === 0) await refunded(h, sale.txnNo, 1000);
  }
  // One more left unpaid at our side: the channel will claim it was paid.
  const unpaid = await orderedSale(h.api, 'wechat');
  const pending = (await h.api<TransactionView>('POST', `/v1/transactions/${unpaid.txnNo}/payments`, { legs: [{ method: 'wechat', amount: unpaid.payableAmount }] })).body;

  const clean = await reconcileDay('wechat', DAY, { bills: gatewayBills(db), platform, carryIn: EMPTY_CARRY, expectedFee: testFee });
  t.same(clean.discrepancies, [], 'no discrepancy on a day the channel and we agree on');
  const wechat = sales.filter((s) => s.legs[0]!.method === 'wechat');
  const refundsOfWechat = sales.filter((s, i) => i % 5 === 0 && s.legs[0]!.method === 'wechat').length;
  t.equal(clean.totals.platformRows, wechat.length + refundsOfWechat, 'every wechat payment and refund of the day is on our side');
  t.equal(clean.totals.billRows, clean.totals.platformRows);
  t.equal(clean.totals.matched, clean.totals.billRows);
  t.equal(clean.totals.billPaymentsFen, clean.totals.platformPaymentsFen);
  t.equal(clean.totals.billRefundsFen, clean.totals.platformRefundsFen);
  t.equal(clean.totals.platformPaymentsFen, wechat.reduce((a, s) => a + s.paidAmount, 0));
  const alipay = await reconcileDay('alipay', DAY, { bills: gatewayBills(db), platform, carryIn: EMPTY_CARRY, expectedFee: testFee });
  t.same(alipay.discrepancies, [], 'the other channel of the same day is clean too');
  t.equal(alipay.totals.platformRows, SALES / 4 + sales.filter((s, i) => i % 5 === 0 && s.legs[0]!.method === 'alipay').length);

  // Plant several of each kind into the wechat bill.
  const ref = (s: TransactionView) => s.legs[0]!.paymentNo;
  const [dropA, dropB, shortA, shortB, overA, overB, failA, failB, feeA, feeB] = wechat.slice(1).filter((_, i) => i % 3 !== 0).map(ref);
  const tamper = (rows: BillRow[]): BillRow[] => {
    const out = rows.filter((r) => r.merchantRef !== dropA && r.merchantRef !== dropB).map((r) => {
      if (r.merchantRef === shortA || r.merchantRef === shortB) return { ...r, amountFen: r.amountFen + 50 };
      if (r.merchantRef === overA || r.merchantRef === overB) return { ...r, amountFen: r.amountFen - 50 };
      if (r.merchantRef === failA || r.merchantRef === failB) return { ...r, status: 'failed' as const };
      if (r.merchantRef === feeA || r.merchantRef === feeB) return { ...r, feeFen: r.feeFen + 1 };
      return r;
    });
    const template = rows[0]!;
    const claimed = { ...template, merchantRef: pending.legs[0]!.paymentNo, paymentNo: pending.legs[0]!.paymentNo, channelRef: '4200claimed', channelTradeNo: '4200claimed', amountFen: pending.payableAmount };
    const stranger = { ...template, merchantRef: 'T999999-P1', paymentNo: 'T999999-P1', channelRef: '4200stranger', channelTradeNo: '4200stranger', amountFen: 4321 };
    const stranger2 = { ...stranger, merchantRef: 'T999998-P1', paymentNo: 'T999998-P1', channelRef: '4200stranger2' };
    return [...out, { ...claimed, feeFen: testFee(claimed) }, { ...stranger, feeFen: testFee(stranger) }, { ...stranger2, feeFen: testFee(stranger2) }];
  };
  const planted = await reconcileDay('wechat', DAY, { bills: gatewayBills(db, tamper), platform, carryIn: EMPTY_CARRY, expectedFee: testFee });
  const found = planted.discrepancies.map((d) => `${d.kind} ${d.ref}`).sort();
  t.same(found, [
    `channel_missing ${dropA}`, `channel_missing ${dropB}`,
    `fee_mismatch ${feeA}`, `fee_mismatch ${feeB}`,
    'platform_missing T999998-P1', 'platform_missing T999999-P1',
    `platform_over_amount ${overA}`, `platform_over_amount ${overB}`,
    `platform_over_status ${failA}`, `platform_over_status ${failB}`,
    `platform_short_amount ${shortA}`, `platform_short_amount ${shortB}`,
    `platform_short_status ${pending.legs[0]!.paymentNo}`,
  ].sort(), 'every planted one, classified as planted, and nothing else');
  const short = planted.discrepancies.find((d) => d.kind === 'platform_short_status')!;
  t.equal(short.txnNo, pending.txnNo, 'linked to its transaction');
  t.equal(short.platform?.status, 'pending', 'with our side as evidence');

  const again = await reconcileDay('wechat', DAY, { bills: gatewayBills(db, tamper), platform, carryIn: EMPTY_CARRY, expectedFee: testFee });
  t.same(again.discrepancies, planted.discrepancies, 'a second run of the same day finds the same');
});
