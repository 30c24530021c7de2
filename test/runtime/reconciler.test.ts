import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ManualClock } from '../../runtime/clock.ts';
import { Reconciler } from '../../runtime/reconciler.ts';
import { PlatformSide } from '../../runtime/recon-platform.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { SqliteReconciliationRecords } from '../../storage/sqlite/reconciliation-records.ts';
import { eventually, orderedSale, startHarness, type Harness } from '../helpers/harness.ts';
import { gatewayBills, testFee } from '../helpers/recon-bills.ts';

const DAY = '2026-12-01';
const START = Date.parse(`${DAY}T09:00:00+08:00`);

const view = (h: Harness, txnNo: string) => h.api<TransactionView>('GET', `/v1/transactions/${txnNo}`);

async function paying(h: Harness): Promise<TransactionView> {
  const ordered = await orderedSale(h.api, 'wechat');
  return (await h.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.payableAmount }] })).body;
}

t.test('a payment the channel took but whose callback was lost is fixed once, through its own transaction, and a re-run changes nothing', async (t) => {
  const clock = new ManualClock(START);
  const h = await startHarness(t, { clock });
  const dir = mkdtempSync(join(tmpdir(), 'reconciler-'));
  const records = new SqliteReconciliationRecords(join(dir, 'recon.db'));
  t.teardown(async () => {
    await records.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const platform = new PlatformSide(h.tc.storage, h.tc.storage.archive);
  let nudges = 0;
  const host = { nudge: (txnNo: string) => (nudges++, h.tc.host.nudge(txnNo)), settle: () => h.tc.host.settle() };
  const reconciler = new Reconciler({ bills: gatewayBills(h.tc.sims!.store.db), platform, expectedFee: testFee, records, host, now: () => clock.now() });

  const paid = await paying(h);
  await h.sims.gateway.pay(paid.legs[0]!.paymentNo);
  await eventually(() => view(h, paid.txnNo), (r) => r.body.state === 'completed');
  // The customer pays the second one, but the channel's callback never arrives.
  h.tc.sims!.gateway.configureCallbacks({ dropCallbacks: true });
  const lost = await paying(h);
  await h.sims.gateway.pay(lost.legs[0]!.paymentNo);
  t.equal((await view(h, lost.txnNo)).body.legs[0]!.status, 'pending', 'we do not know it was paid');
  clock.advance(60_000);

  const first = await reconciler.run('wechat', DAY);
  const id = `wechat:${DAY}:platform_short_status:${lost.legs[0]!.paymentNo}`;
  t.same(first.added, [id], 'the one difference is found');
  t.same(first.autoFixed, [id], 'and fixed by querying it');
  t.equal(nudges, 1);
  const after = await eventually(() => view(h, lost.txnNo), (r) => r.body.legs[0]!.status === 'succeeded');
  t.equal(after.body.paidAmount, lost.payableAmount, 'the transaction ends as the channel says');
  t.equal((await records.get(id))?.status, 'auto-fixed');
  t.equal((await records.get(id))?.resolution?.by, 'reconciler');

  const second = await reconciler.run('wechat', DAY);
  t.same(second.added, [], 'a second run adds nothing');
  t.same(second.result.discrepancies, [], 'the day is now clean');
  t.equal(nudges, 1, 'and acts on nothing again');
  t.equal((await records.discrepancies('wechat', DAY)).length, 1);
});
