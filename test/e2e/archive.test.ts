import t from 'tap';
import type { RefundView } from '../../machines/types.ts';
import { archiverConfig } from '../../runtime/archiver.ts';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { apiClient, eventually, FUEL_SALE, keyEntry, startHarness, untilArchivable, type Harness } from '../helpers/harness.ts';

type RefundAnswer = { refundNo: string; refund: RefundView; transaction: TransactionView };

const NOON = Date.parse('2026-11-25T12:00:00+08:00');
const CARD_LEG = 20_000;
const QUIET_MS = 2_000;
const M1_ADMIN = 'tc_m1_admin_archive';
const M2_ADMIN = 'tc_m2_admin_archive';

const view = (h: Harness, txnNo: string) => h.api<TransactionView>('GET', `/v1/transactions/${txnNo}`);

/** 300 yuan of 92#: 200 by card C1, the rest by wechat. */
async function mixedSale(h: Harness): Promise<TransactionView> {
  const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-wechat' });
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/payments`, {
    legs: [
      { method: 'stored_value', cardNo: 'C1', amount: CARD_LEG },
      { method: 'wechat', amount: ordered.body.payableAmount - CARD_LEG },
    ],
  });
  await h.sims.gateway.pay(paying.body.legs[1]!.paymentNo);
  return (await eventually(() => view(h, started.body.txnNo), (r) => r.body.state === 'completed')).body;
}


async function refund(h: Harness, txnNo: string, amount?: number): Promise<RefundView> {
  const res = await h.api<RefundAnswer>('POST', `/v1/transactions/${txnNo}/refunds`, { ...(amount ? { amount } : {}), reason: 'returned' });
  if (res.status !== 202) throw new Error(`refund: ${res.status} ${JSON.stringify(res.body)}`);
  const done = await eventually(
    () => h.api<RefundView>('GET', `/v1/transactions/${txnNo}/refunds/${res.body.refundNo}`),
    (r) => r.body.status === 'succeeded' || r.body.status === 'attention',
  );
  return done.body;
}

t.test('a sale archived after a 2s quiet period stays readable, is refundable partly then fully, and is archived again each time (issue 18)', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, {
    clock,
    config: {
      archive: archiverConfig(QUIET_MS),
      apiKeys: [
        keyEntry(M1_ADMIN, { system: 'ops', scopes: ['trade', 'refund', 'admin'], merchants: ['M1'] }),
        keyEntry(M2_ADMIN, { system: 'ops', scopes: ['trade', 'refund', 'admin'], merchants: ['M2'] }),
      ],
    },
  });
  const archiver = h.tc.archiver!;
  // The test runs each archiver turn itself: one the periodic turn started just before would take the sale first.
  await archiver.stop();
  const archive = h.tc.archive!;
  const paid = await mixedSale(h);
  await untilArchivable(h, paid.txnNo);
  const sale = (await view(h, paid.txnNo)).body;

  clock.advance(QUIET_MS - 1);
  await archiver.run();
  t.ok(await h.tc.storage.snapshots.load(sale.txnNo), 'not quiet long enough: still in the hot store');
  clock.advance(1);
  t.equal(await archiver.run(), 1);
  t.equal(await h.tc.storage.snapshots.load(sale.txnNo), null, 'gone from the hot store');
  t.same(await h.tc.storage.journal.entries(sale.txnNo), [], 'journal too');
  const archived = await archive.get(sale.txnNo);
  t.equal(archived?.row.paidAmountFen, sale.paidAmount);
  t.equal(archived?.row.legs.filter((l) => l.capturedAt !== null).length, 2, 'both legs captured, with their times');

  const byTxnNo = await view(h, sale.txnNo);
  t.equal(byTxnNo.status, 200);
  t.same(byTxnNo.body, sale, 'the archived view is the view it had, tasks included');
  const byOrderNo = await h.api<TransactionView>('GET', `/v1/orders/${sale.orderNo}`);
  t.equal(byOrderNo.body.txnNo, sale.txnNo);
  const journal = await h.api<{ entries: unknown[] }>('GET', `/admin/transactions/${sale.txnNo}/journal`);
  t.equal(journal.body.entries.length, archived?.journal.length, 'its journal is read from the archive');

  const m2 = apiClient(h.url, M2_ADMIN);
  t.equal((await m2('GET', `/v1/transactions/${sale.txnNo}`)).status, 404, "another merchant's key finds nothing");
  t.equal((await m2('GET', `/v1/orders/${sale.orderNo}`)).status, 404);
  t.equal((await m2('POST', `/v1/transactions/${sale.txnNo}/refunds`, { amount: 100, reason: 'x' })).status, 404);

  const partly = await refund(h, sale.txnNo, 5_000);
  t.equal(partly.status, 'succeeded');
  t.equal(h.tc.host.rehydrated, 1, 'the refund brought it back into the hot store');
  await untilArchivable(h, sale.txnNo);
  clock.advance(QUIET_MS);
  t.equal(await archiver.run(), 1, 'final again: archived again');
  const second = await archive.get(sale.txnNo);
  t.ok(second!.record.version > archived!.record.version, 'the archive holds the newer version');
  t.equal(second?.row.refundedAmountFen, 5_000);
  t.equal(second?.row.refunds[0]?.legs.every((l) => l.refundedAt !== null), true, 'refund legs with their times');
  t.ok(second!.journal.length > archived!.journal.length && second!.journal.slice(0, archived!.journal.length).every((e, i) => e.seq === archived!.journal[i]!.seq), 'the journal goes on from the archived one');

  const fully = await refund(h, sale.txnNo);
  t.equal(fully.status, 'succeeded');
  await untilArchivable(h, sale.txnNo);
  clock.advance(QUIET_MS);
  t.equal(await archiver.run(), 1);
  const third = await archive.get(sale.txnNo);
  t.equal(third?.row.refundedAmountFen, sale.paidAmount, 'refunded in full');
  t.equal((await view(h, sale.txnNo)).body.refundedAmount, sale.paidAmount);
  t.equal((await archive.counts()).orders, 1, 'one archived order, never two');
  const card = await h.sims.systems.storedValue.peekCard('C1');
  const wechat = await h.sims.systems.paymentGateway.peekPayment(sale.legs[1]!.paymentNo);
  t.equal(wechat?.refundedFen, sale.payableAmount - CARD_LEG, 'wechat got its part back');
  t.ok(card, 'the card exists');

  type Page = { items: { txnNo: string; state: string; refundedAmountFen: number; finishedAt: string | null }[]; nextCursor: string | null };
  type Summary = { groups: { method: string | null; count: number; paidAmountFen: number; refundedAmountFen: number }[] };
  const m1 = apiClient(h.url, M1_ADMIN);
  const inFlight = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  const orders = await m1<Page>('GET', '/admin/orders?merchantId=M1&stationId=S1');
  t.equal(orders.status, 200);
  t.same(orders.body.items.map((o) => [o.txnNo, o.state]), [[inFlight.body.txnNo, 'quoted'], [sale.txnNo, 'completed']], 'the in-flight one from the hot store, the archived one, newest first');
  t.equal(orders.body.items[1]?.refundedAmountFen, sale.paidAmount);
  const paged = await m1<Page>('GET', '/admin/orders?limit=1');
  t.same(paged.body.items.map((o) => o.txnNo), [inFlight.body.txnNo]);
  const next = await m1<Page>('GET', `/admin/orders?limit=1&cursor=${paged.body.nextCursor}`);
  t.same(next.body.items.map((o) => o.txnNo), [sale.txnNo], 'the next page has the archived one');
  t.equal(next.body.nextCursor, null);
  t.same((await m1<Page>('GET', '/admin/orders?state=completed&method=wechat')).body.items.map((o) => o.txnNo), [sale.txnNo]);
  const summary = await m1<Summary>('GET', '/admin/orders/summary?state=completed&groupBy=method');
  t.same(summary.body.groups.map((g) => [g.method, g.count, g.paidAmountFen, g.refundedAmountFen]), [
    ['stored_value', 1, CARD_LEG, CARD_LEG],
    ['wechat', 1, sale.payableAmount - CARD_LEG, sale.payableAmount - CARD_LEG],
  ]);
  const totals = await m1<Summary>('GET', '/admin/orders/summary');
  t.equal(totals.body.groups[0]?.count, 2, 'totals count the in-flight order too');
  t.same((await m2<Page>('GET', '/admin/orders')).body.items, [], "another merchant's key lists none of M1's orders");
  t.equal((await m2<Summary>('GET', '/admin/orders/summary')).body.groups[0]?.count, 0);
  t.equal((await m1('GET', '/admin/orders?cursor=nonsense')).status, 400, 'a cursor no one issued is refused');
});
