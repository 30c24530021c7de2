import t from 'tap';
import { checkOsOrder, type OsOrderRecord } from '../../domain/os-order-record.ts';
import type { RefundView } from '../../machines/types.ts';
import { osOrderEntry } from '../../runtime/os-order-entry.ts';
import { eventually, startHarness, type Harness } from '../helpers/harness.ts';

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
