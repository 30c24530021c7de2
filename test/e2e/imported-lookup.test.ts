import t from 'tap';
import { runInspect, txnNoOfOsOrder } from '../../bin/commands/inspect.ts';
import { runOrders } from '../../bin/commands/orders.ts';
import { checkOsOrder, type OsOrderRecord } from '../../domain/os-order-record.ts';
import type { OrderView } from '../../runtime/order-queries.ts';
import { osOrderEntry } from '../../runtime/os-order-entry.ts';
import type { RefundView } from '../../machines/types.ts';
import type { ArchiveEntry } from '../../storage/types.ts';
import { eventually, startHarness, type Harness } from '../helpers/harness.ts';
import { captureIo, sources } from '../cli/helpers.ts';

/** One OS order number at two stations: each OS counts its own, so (station, number) is the identity. */
function record(stationId: string, amountFen: number): OsOrderRecord {
  return {
    stationId,
    terminalId: 'POS-1',
    shiftNo: '2025-06-01-1',
    osOrderNo: 'OS-000042',
    createdAt: '2025-06-01T08:00:00+08:00',
    paidAt: '2025-06-01T08:01:00+08:00',
    items: [{ type: 'goods', name: 'water', sku: 'G-WATER', quantity: 1, unitPriceFen: amountFen, amountFen }],
    discounts: [],
    payments: [{ payNo: 1, method: 'IC_CARD', amountFen, channelTradeNo: null, cardNo: 'C1' }],
    refunds: [],
    member: null,
  };
}

async function imported(h: Harness, stationId: string, amountFen: number): Promise<ArchiveEntry> {
  const checked = checkOsOrder(record(stationId, amountFen), () => true);
  if (!checked.ok) throw new Error(checked.message);
  const entry = osOrderEntry(checked.order, 'M1');
  await h.tc.archive!.put([entry]);
  return entry;
}

const byOs = (h: Harness, query: string) => h.api<{ items: OrderView[]; error?: { code: string } }>('GET', `/admin/orders?${query}`);

t.test('an imported order is found by our order number and by its OS number at its station, before and after a refund here (issue 20, DOMAIN.md "Rollout, OS and history")', async (t) => {
  const h = await startHarness(t);
  const s1 = await imported(h, 'S1', 1_000);
  const s2 = await imported(h, 'S2', 2_000);
  t.not(s1.row.txnNo, s2.row.txnNo, 'two orders: one OS number at two stations');

  const ours = await h.api<{ txnNo: string }>('GET', `/v1/orders/${s1.row.orderNo}`);
  t.equal(ours.status, 200);
  t.equal(ours.body.txnNo, s1.row.txnNo, 'by our order number');

  const atS1 = await byOs(h, 'stationId=S1&osOrderNo=OS-000042');
  t.equal(atS1.status, 200);
  t.same(atS1.body.items.map((o) => [o.txnNo, o.osOrderNo, o.origin]), [[s1.row.txnNo, 'OS-000042', 'os-import']], 'by the OS number at S1: only S1\'s');
  t.same((await byOs(h, 'stationId=S2&osOrderNo=OS-000042')).body.items.map((o) => o.txnNo), [s2.row.txnNo], 'and at S2');
  t.same((await byOs(h, 'stationId=S1&osOrderNo=OS-404')).body.items, [], 'an OS number never imported finds nothing');
  const alone = await byOs(h, 'osOrderNo=OS-000042');
  t.equal(alone.status, 400, 'an OS number without its station names no order');
  t.equal(alone.body.error?.code, 'INVALID_REQUEST');
  const summed = await h.api<{ groups: { count: number; paidAmountFen: number }[] }>('GET', '/admin/orders/summary?stationId=S2&osOrderNo=OS-000042');
  t.match(summed.body.groups, [{ count: 1, paidAmountFen: 2_000 }], 'the summary takes the same filter');

  // A refund here rehydrates the order into the hot store: it is still found by its OS number, once.
  const refund = await h.api<{ refundNo: string }>('POST', `/v1/transactions/${s1.row.txnNo}/refunds`, { amount: 300, reason: 'returned' });
  t.equal(refund.status, 202);
  await eventually(() => h.api<RefundView>('GET', `/v1/transactions/${s1.row.txnNo}/refunds/${refund.body.refundNo}`), (r) => r.body.status === 'succeeded');
  const after = await byOs(h, 'stationId=S1&osOrderNo=OS-000042');
  t.same(after.body.items.map((o) => [o.txnNo, o.refundedAmountFen]), [[s1.row.txnNo, 300]], 'found once, with the refund made here');

  for (const { mode, open } of sources(h)) {
    await t.test(`trade inspect --station --os-order and trade orders --os-order (${mode})`, async (t) => {
      const source = open();
      t.teardown(() => source.close());
      t.equal(await txnNoOfOsOrder(source, 'S2', 'OS-000042'), s2.row.txnNo);
      await t.rejects(txnNoOfOsOrder(source, 'S3', 'OS-000042'), /no order imported from OS with number OS-000042 at station S3/);
      const io = captureIo();
      await runInspect(source, io, await txnNoOfOsOrder(source, 'S1', 'OS-000042'), { json: true });
      const inspected = JSON.parse(io.stdout()) as { transaction: { txnNo: string; refundedAmount: number }; journal: { event: string }[] };
      t.equal(inspected.transaction.txnNo, s1.row.txnNo);
      t.equal(inspected.journal[0]?.event, 'IMPORTED', 'the journal opens with the import');
      const listed = captureIo();
      await runOrders(source, listed, { limit: 10, station: 'S2', osOrder: 'OS-000042', json: true });
      t.same((JSON.parse(listed.stdout()) as { items: OrderView[] }).items.map((o) => o.txnNo), [s2.row.txnNo]);
    });
  }
});
