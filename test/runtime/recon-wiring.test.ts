import Fastify from 'fastify';
import t from 'tap';
import { chinaDayBounds } from '../../domain/reconciliation/bill-format.ts';
import { ManualClock } from '../../runtime/clock.ts';
import { gatewayOrigin, httpBillDownload, inProcessBillDownload } from '../../runtime/gateway-bills.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { simBillRoutes, wechatBillRoutes } from '../../systems/payment-gateway/bills/routes.ts';
import { eventually, orderedSale, startHarness } from '../helpers/harness.ts';
import { CHANNELS, DAY, simulatedDay } from '../reconciliation/bill-day.ts';

t.test('the bills downloaded over HTTP are the bytes and SHA-1 the simulator makes, and a day not over is not ready', async (t) => {
  const { sims, clock } = await simulatedDay(t);
  const app = Fastify();
  await app.register(wechatBillRoutes, { bills: sims.bills });
  await app.register(simBillRoutes, { bills: sims.bills, prefix: '/sim' });
  t.teardown(() => app.close());
  const origin = await app.listen({ port: 0, host: '127.0.0.1' });
  t.equal(gatewayOrigin(`${origin}/payment-gateway/`), origin, 'the origin of the gateway connector\'s base URL');
  const overHttp = httpBillDownload({ origin, timeoutMs: 5_000 });
  const inProcess = inProcessBillDownload(sims.bills);
  for (const channel of CHANNELS) {
    const got = await overHttp(channel, DAY);
    const want = await inProcess(channel, DAY);
    if ('notReady' in got || 'notReady' in want) throw new Error(`${channel}: not ready`);
    t.equal(got.sha1, want.sha1, `${channel}: the published SHA-1`);
    t.same(Buffer.from(got.bytes), Buffer.from(want.bytes), `${channel}: the file`);
  }
  clock.ms = chinaDayBounds(DAY).endMs - 1_000;
  for (const channel of ['wechat', 'alipay'] as const) t.match(await overHttp(channel, DAY), { notReady: /STATEMENT_CREATING/ }, `${channel}: not ready before the day ends`);
});

t.test('the Trade Center\'s reconciler reads the gateway\'s bills and its own storage\'s records, and fixes a lost callback once (issue 19)', async (t) => {
  const clock = new ManualClock(Date.parse(`${DAY}T23:47:00+08:00`));
  const h = await startHarness(t, { clock });
  const view = (txnNo: string) => h.api<TransactionView>('GET', `/v1/transactions/${txnNo}`);
  const ordered = await orderedSale(h.api, 'wechat');
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.payableAmount }] });
  h.tc.sims!.gateway.configureCallbacks({ dropCallbacks: true });
  await h.sims.gateway.pay(paying.body.legs[0]!.paymentNo);
  t.equal((await view(ordered.txnNo)).body.legs[0]!.status, 'pending', 'the callback was lost');
  // Just past midnight: the bill is out, and the lost payment is still within its 15 minutes.
  clock.advance(Date.parse('2026-12-02T00:00:30+08:00') - clock.now());

  const first = await h.tc.reconciler.run('wechat', DAY);
  const id = `wechat:${DAY}:platform_short_status:${paying.body.legs[0]!.paymentNo}`;
  t.same(first.autoFixed, [id], 'found and fixed through the transaction');
  await eventually(() => view(ordered.txnNo), (r) => r.body.legs[0]!.status === 'succeeded');
  t.equal((await h.tc.storage.reconciliation.get(id))?.status, 'auto-fixed', 'recorded in the storage bundle');
  const again = await h.tc.reconciler.run('wechat', DAY);
  t.same([again.added, again.result.discrepancies], [[], []], 'a re-run finds the day clean and adds nothing');
  clock.advance(Date.parse('2026-12-03T01:00:00+08:00') - clock.now());
  const next = await h.tc.reconciler.run('wechat', '2026-12-02');
  t.same(next.result.discrepancies, [], 'the next day, when we counted the recovered leg, does not miss it on its bill');
});
