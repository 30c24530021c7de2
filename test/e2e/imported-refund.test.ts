import t from 'tap';
import { checkOsOrder, type OsOrderRecord } from '../../domain/os-order-record.ts';
import type { RefundView } from '../../machines/types.ts';
import { archiverConfig } from '../../runtime/archiver.ts';
import { ManualClock } from '../../runtime/clock.ts';
import { historicPaymentsOf, osOrderEntry } from '../../runtime/os-order-entry.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { eventually, startHarness, type Harness } from '../helpers/harness.ts';

const QUIET_MS = 2_000;

/** 200 yuan of 92# paid at OS from card C1, 50 yuan of it refunded there already. */
const RECORD: OsOrderRecord = {
  stationId: 'S1',
  terminalId: 'POS-1',
  shiftNo: '2025-06-01-1',
  osOrderNo: 'OS-REFUND-1',
  createdAt: '2025-06-01T08:00:00+08:00',
  paidAt: '2025-06-01T08:01:00+08:00',
  items: [{ type: 'fuel', name: '92#', grade: '92', nozzleNo: 1, quantity: 26_667, unitPriceFen: 750, amountFen: 20_000 }],
  discounts: [],
  payments: [{ payNo: 1, method: 'IC_CARD', amountFen: 20_000, channelTradeNo: null, cardNo: 'C1' }],
  refunds: [{ osRefundNo: 'OSR-1', refundedAt: '2025-06-01T09:00:00+08:00', payments: [{ payNo: 1, amountFen: 5_000 }] }],
  member: { userId: 'U1', cardNo: 'C1' },
};

async function refund(h: Harness, txnNo: string, amount?: number): Promise<{ status: number; refund: RefundView | null }> {
  const res = await h.api<{ refundNo: string }>('POST', `/v1/transactions/${txnNo}/refunds`, { ...(amount ? { amount } : {}), reason: 'returned' });
  if (res.status !== 202) return { status: res.status, refund: null };
  const done = await eventually(
    () => h.api<RefundView>('GET', `/v1/transactions/${txnNo}/refunds/${res.body.refundNo}`),
    (r) => r.body.status === 'succeeded' || r.body.status === 'attention',
  );
  return { status: res.status, refund: done.body };
}

t.test('an imported card order is refunded partly, then fully, through the API: the card is credited and OS refunds count as refunded (issue 20)', async (t) => {
  const h = await startHarness(t);
  const checked = checkOsOrder(RECORD, (s) => s === 'S1');
  if (!checked.ok) throw new Error(checked.message);
  const entry = osOrderEntry(checked.order, 'M1');
  await h.tc.archive!.put([entry]);
  const before = (await h.sims.systems.storedValue.peekCard('C1'))!.availableFen;

  const found = await h.api<{ txnNo: string; origin?: string }>('GET', `/v1/orders/${entry.row.orderNo}`);
  t.equal(found.status, 200);
  t.equal(found.body.txnNo, entry.row.txnNo);

  const partial = await refund(h, entry.row.txnNo, 4_000);
  t.equal(partial.refund?.status, 'succeeded');
  t.equal((await h.sims.systems.storedValue.peekCard('C1'))!.availableFen, before + 4_000);

  const full = await refund(h, entry.row.txnNo);
  t.equal(full.refund?.amount, 11_000, 'the rest: 200 paid, 50 refunded at OS, 40 here');
  t.equal(full.refund?.status, 'succeeded');
  t.equal((await h.sims.systems.storedValue.peekCard('C1'))!.availableFen, before + 15_000);

  const over = await refund(h, entry.row.txnNo, 1);
  t.equal(over.status, 422, 'nothing is left to refund (REFUND_EXCEEDS_PAID)');

  // OS placed, took and partly refunded the order itself: only the two refunds made here are news to it.
  const events = (await h.tc.storage.osOutbox.events('S1', 0, 100)).filter((e) => e.orderNo === entry.row.orderNo);
  t.same(events.map((e) => [e.eventSeq, e.kind, e.payload.amountFen]), [[1, 'refunded', 4_000], [2, 'refunded', 11_000]], 'the OS outbox has the refunds made here, nothing OS made');
});

/** Lets every refund and reversal task of the transaction finish, so it is final again (manual clock: tasks run when told). */
async function settle(h: Harness, txnNo: string): Promise<void> {
  await eventually(
    async () => {
      await h.tc.host.settle();
      await h.tc.tasks.runDue();
      const record = await h.tc.storage.snapshots.load(txnNo);
      const open = (await h.tc.storage.tasks.tasksOf(txnNo)).filter((x) => x.status !== 'done');
      return record !== null && record.finalAt !== null && open.length === 0;
    },
    (final) => final,
  );
}

const WECHAT_TRADE_NO = '4200002025060112345678901234';

/**
 * 300 yuan of 92# paid at OS with three payments: 100 from card C1, 150 by wechat (its channel
 * transaction id recorded), 50 in cash; OS already refunded 10 yuan of the wechat payment.
 */
const MIXED: OsOrderRecord = {
  stationId: 'S1',
  terminalId: 'POS-2',
  shiftNo: '2025-06-02-1',
  osOrderNo: 'OS-REFUND-MIXED',
  createdAt: '2025-06-02T10:00:00+08:00',
  paidAt: '2025-06-02T10:02:00+08:00',
  items: [{ type: 'fuel', name: '92#', grade: '92', nozzleNo: 1, quantity: 40_000, unitPriceFen: 750, amountFen: 30_000 }],
  discounts: [],
  payments: [
    { payNo: 1, method: 'IC_CARD', amountFen: 10_000, channelTradeNo: null, cardNo: 'C1' },
    { payNo: 2, method: 'WXPAY', amountFen: 15_000, channelTradeNo: WECHAT_TRADE_NO, cardNo: null },
    { payNo: 3, method: 'CASH', amountFen: 5_000, channelTradeNo: null, cardNo: null },
  ],
  refunds: [{ osRefundNo: 'OSR-9', refundedAt: '2025-06-02T11:00:00+08:00', payments: [{ payNo: 2, amountFen: 1_000 }] }],
  member: { userId: 'U1', cardNo: 'C1' },
};

function checked(record: OsOrderRecord) {
  const result = checkOsOrder(record, (s) => s === 'S1');
  if (!result.ok) throw new Error(result.message);
  return result.order;
}

type Leg = RefundView['legs'][number];
const legOf = (r: RefundView | null, method: string): Leg | undefined => r?.legs.find((l) => l.method === method);
const sumOf = (refunds: (RefundView | null)[], method: string) => refunds.reduce((a, r) => a + (legOf(r, method)?.amount ?? 0), 0);

t.test('an imported card + wechat + cash order is refunded partly, then fully, through the API: the card credited, the wechat payment refunded at the gateway under its history, the cash recorded to pay at the station (issue 20)', async (t) => {
  const clock = new ManualClock(Date.parse('2026-12-02T12:00:00+08:00'));
  const h = await startHarness(t, { clock, config: { archive: archiverConfig(QUIET_MS) } });
  // The test runs each archiver turn itself: one the periodic turn started just before would take the sale first.
  await h.tc.archiver.stop();
  const order = checked(MIXED);
  const entry = osOrderEntry(order, 'M1');
  await h.tc.archive!.put([entry]);
  const historic = historicPaymentsOf(order, 'M1');
  t.same(historic.map((p) => [p.paymentNo, p.channel, p.amountFen, p.channelTradeNo]), [[`${entry.row.txnNo}-P2`, 'wechat', 15_000, WECHAT_TRADE_NO]], 'only the channel payment is admitted, under the imported leg number');
  t.same(await h.sims.gateway.admitHistoricPayments(historic), { admitted: 1, alreadyAdmitted: 0 });
  t.same(await h.sims.gateway.admitHistoricPayments(historic), { admitted: 0, alreadyAdmitted: 1 }, 'admitting the same history again changes nothing');
  const wechatNo = entry.row.legs.find((l) => l.method === 'wechat')!.paymentNo;
  const admitted = await h.sims.systems.paymentGateway.peekPayment(wechatNo);
  t.equal(admitted?.status, 'succeeded');
  t.equal(admitted?.channelTradeNo, WECHAT_TRADE_NO, 'the gateway knows it by the channel transaction id of the history');
  t.equal(admitted?.refundedFen, 1_000, "OS's refund counts at the channel too");
  const before = (await h.sims.systems.storedValue.peekCard('C1'))!.availableFen;

  // 290 yuan left to refund (300 paid, 10 refunded at OS); 60 yuan now.
  const partial = await refund(h, entry.row.txnNo, 6_000);
  t.equal(partial.refund?.status, 'succeeded', 'done once the card and the channel gave back, and the cash is recorded');
  t.equal(partial.refund?.legs.length, 3, 'spread over the three legs');
  t.equal(sumOf([partial.refund], 'stored_value') + sumOf([partial.refund], 'wechat') + sumOf([partial.refund], 'cash'), 6_000);
  t.equal(legOf(partial.refund, 'stored_value')?.status, 'succeeded');
  t.equal(legOf(partial.refund, 'wechat')?.status, 'succeeded');
  t.equal(legOf(partial.refund, 'cash')?.status, 'to_pay_at_station', 'the cash leg says it is paid out at the station');
  t.equal((await h.sims.systems.storedValue.peekCard('C1'))!.availableFen, before + sumOf([partial.refund], 'stored_value'));
  const wechatLeg = legOf(partial.refund, 'wechat')!;
  const atGateway = await h.sims.systems.paymentGateway.peekRefunds(wechatNo);
  const ours = atGateway.find((r) => r.refundNo === wechatLeg.refundLegNo);
  t.equal(ours?.status, 'succeeded', 'the gateway refunded it');
  t.equal(ours?.amountFen, wechatLeg.amount);
  t.equal(ours?.txnNo, entry.row.txnNo);
  const callbacks = await h.sims.gateway.callbacks(wechatNo);
  t.ok(callbacks.some((c) => c.refundNo === wechatLeg.refundLegNo && c.deliveredAt !== null), 'its refund callback was delivered as for a live payment');

  const full = await refund(h, entry.row.txnNo);
  t.equal(full.refund?.amount, 23_000, 'the rest: 300 paid, 10 refunded at OS, 60 here');
  t.equal(full.refund?.status, 'succeeded');
  t.equal(legOf(full.refund, 'cash')?.status, 'to_pay_at_station');
  t.equal(sumOf([partial.refund, full.refund], 'stored_value'), 10_000, 'the card got all it paid back');
  t.equal(sumOf([partial.refund, full.refund], 'wechat'), 14_000, 'wechat: what it paid less what OS refunded');
  t.equal(sumOf([partial.refund, full.refund], 'cash'), 5_000, 'the cash paid, to pay out at the station');
  t.equal((await h.sims.systems.storedValue.peekCard('C1'))!.availableFen, before + 10_000);
  const wechatAfter = await h.sims.systems.paymentGateway.peekPayment(wechatNo);
  t.equal(wechatAfter?.refundedFen, 15_000, 'the channel payment is refunded in full');
  const allAtGateway = await h.sims.systems.paymentGateway.peekRefunds(wechatNo);
  t.equal(allAtGateway.length, 3, "OS's refund and our two");
  t.ok(allAtGateway.every((r) => r.status === 'succeeded'));
  const cashCalls = (await h.sims.store.effects()).filter((e) => e.key.includes(legOf(full.refund, 'cash')!.refundLegNo));
  t.same(cashCalls, [], 'no downstream call for a cash leg');

  const over = await refund(h, entry.row.txnNo, 1);
  t.equal(over.status, 422, 'nothing is left to refund (REFUND_EXCEEDS_PAID)');

  // Final again: archived again, with its cash refunds in the row and the summary.
  await settle(h, entry.row.txnNo);
  clock.advance(QUIET_MS);
  t.equal(await h.tc.archiver!.run(), 1);
  const archived = await h.tc.archive!.get(entry.row.txnNo);
  t.equal(archived?.row.origin, 'os-import', 'still an imported order');
  t.equal(archived?.row.refundedAmountFen, 30_000, 'refunded in full, at OS and here');
  const cashLegs = archived!.row.refunds.flatMap((r) => r.legs).filter((l) => l.method === 'cash');
  t.same(cashLegs.map((l) => [l.status, l.amountFen]), [['to_pay_at_station', legOf(partial.refund, 'cash')!.amount], ['to_pay_at_station', legOf(full.refund, 'cash')!.amount]]);
  t.ok(cashLegs.every((l) => l.refundedAt !== null), 'each counted from when it was recorded');
  const byMethod = await h.tc.archive!.summary({ origin: 'os-import' }, ['method']);
  t.same(
    Object.fromEntries(byMethod.map((g) => [g.method, [g.paidAmountFen, g.refundedAmountFen]])),
    { cash: [5_000, 5_000], stored_value: [10_000, 10_000], wechat: [15_000, 15_000] },
    'the summary by method counts the cash refunds as cash',
  );
});

t.test('a refund of an imported wechat leg whose payment the gateway was never told about waits for a person, its money owed, and is paid once the history is admitted and the transaction nudged (issue 20)', async (t) => {
  const h = await startHarness(t);
  const order = checked({ ...MIXED, osOrderNo: 'OS-REFUND-UNKNOWN' });
  const entry = osOrderEntry(order, 'M1');
  await h.tc.archive!.put([entry]);
  const wechatNo = entry.row.legs.find((l) => l.method === 'wechat')!.paymentNo;
  const before = (await h.sims.systems.storedValue.peekCard('C1'))!.availableFen;

  const res = await refund(h, entry.row.txnNo, 6_000);
  t.equal(res.refund?.status, 'attention', 'the refund waits for a person');
  const wechatLeg = legOf(res.refund, 'wechat')!;
  t.equal(wechatLeg.status, 'attention', 'the gateway refused a payment it does not know');
  t.ok(wechatLeg.amount > 0, 'its amount stays recorded as owed');
  t.equal(legOf(res.refund, 'stored_value')?.status, 'succeeded', 'the other legs went back');
  t.equal(legOf(res.refund, 'cash')?.status, 'to_pay_at_station');
  t.equal((await h.sims.systems.storedValue.peekCard('C1'))!.availableFen, before + legOf(res.refund, 'stored_value')!.amount);
  t.equal(await h.sims.systems.paymentGateway.peekPayment(wechatNo), null, 'the gateway still knows no such payment');
  const txn = await h.api<TransactionView>('GET', `/v1/transactions/${entry.row.txnNo}`);
  t.equal(txn.body.needsAttention, true);
  const again = await refund(h, entry.row.txnNo);
  t.equal(again.refund?.amount, 23_000, 'what is owed still counts as refunded: no second refund of it');

  // The history is admitted late; a nudge re-drives the legs that wait.
  await h.sims.gateway.admitHistoricPayments(historicPaymentsOf(order, 'M1'));
  const nudged = await h.api('POST', `/admin/transactions/${entry.row.txnNo}/nudge`);
  t.equal(nudged.status, 200);
  for (const r of [res.refund!, again.refund!]) {
    const settled = await eventually(
      () => h.api<RefundView>('GET', `/v1/transactions/${entry.row.txnNo}/refunds/${r.refundNo}`),
      (x) => x.body.status === 'succeeded',
    );
    t.equal(settled.body.legs.find((l) => l.method === 'wechat')?.status, 'succeeded', `${r.refundNo}: paid at the gateway after all`);
    t.equal(settled.body.legs.find((l) => l.method === 'cash')?.status, 'to_pay_at_station', 'the cash leg as it was');
  }
  const atGateway = await h.sims.systems.paymentGateway.peekRefunds(wechatNo);
  t.equal(atGateway.filter((r) => r.status === 'succeeded').reduce((a, r) => a + r.amountFen, 0), 15_000, 'the wechat payment refunded in full, never more');
});
