import t from 'tap';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { eventually, FUEL_SALE, startHarness, type Harness } from '../helpers/harness.ts';

/**
 * DESIGN.md rule 7: a payment is matched against our own record. A channel that captured another
 * amount than the leg asked for has not paid the leg; nor is that money refunded automatically
 * (nobody asked for that amount): the leg ends, the sale unwinds, and a person is told.
 */

const NOON = Date.parse('2026-11-25T12:00:00+08:00');
const view = (h: Harness, txnNo: string) => h.api<TransactionView>('GET', `/v1/transactions/${txnNo}`);

/** A wechat leg for the whole sale, captured by the channel at one yuan less than asked. */
async function capturedShort(h: Harness): Promise<{ txnNo: string; paymentNo: string; payable: number }> {
  const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-wechat' });
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${ordered.body.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.body.payableAmount }] });
  const paymentNo = paying.body.legs[0]!.paymentNo;
  const captured = await h.tc.sims!.gateway.pay(paymentNo, { capturedFen: ordered.body.payableAmount - 100 });
  if (!captured.ok) throw new Error(`the channel did not capture: ${captured.message}`);
  return { txnNo: ordered.body.txnNo, paymentNo, payable: ordered.body.payableAmount };
}

t.test('a payment the channel captured at another amount is not a paid leg: the order waits for another payment and a person is told', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock });
  const { txnNo } = await capturedShort(h);
  // The callback is refused as not matching; the leg's own query finds the capture.
  clock.advance(h.tc.config.queryAfterMs);
  await h.tc.host.fireDueTimers();
  const ended = await eventually(() => view(h, txnNo), (r) => r.body.legs[0]?.status === 'failed');
  t.equal(ended.body.state, 'ordered', 'the order is still there to be paid properly');
  t.equal(ended.body.paidAmount, 0);
  t.equal(ended.body.outcome?.code, 'PAYMENT_FAILED');
  t.equal(ended.body.needsAttention, true, 'a person is told');
  t.equal(ended.body.refundedAmount, 0, 'nothing refunded automatically');
});

t.test('cancelling a payment the channel captured at another amount ends the leg once, instead of closing and querying it for ever', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const { txnNo, paymentNo } = await capturedShort(h);
  await h.api('POST', `/v1/transactions/${txnNo}/cancel`, {});
  const ended = await eventually(() => view(h, txnNo), (r) => r.body.state === 'cancelled' && r.body.needsAttention);
  t.equal(ended.body.legs[0]?.status, 'closed');
  // Give a loop time to show itself, then count the closes it would have made.
  await new Promise((r) => setTimeout(r, 300));
  const closes = h.tc.sims!.store.effects({ system: 'paymentGateway', verb: 'closePayment' }).length;
  const journal = await h.tc.storage.journal.entries(txnNo);
  t.ok(journal.length < 60, `the journal stays short (${journal.length} entries)`);
  t.equal(closes, 0, 'the close changed nothing at the channel (it refused: already paid)');
  t.equal(h.tc.sims!.gateway.peekPayment(paymentNo)?.status, 'succeeded', 'the money stays captured, for the person to settle');
});
