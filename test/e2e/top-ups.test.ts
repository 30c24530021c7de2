import t from 'tap';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { eventually, FUEL_SALE, startHarness, type Harness } from '../helpers/harness.ts';

type ErrorBody = { error: { code: string; message: string } };

const NOON = Date.parse('2026-11-25T12:00:00+08:00');
const view = (h: Harness, txnNo: string) => h.api<TransactionView>('GET', `/v1/transactions/${txnNo}`);
const balance = async (h: Harness, cardNo: string) => (await h.sims.systems.storedValue.peekCard(cardNo))!.availableFen;

/** U5 orders top-ups (500 yuan and more earn a 50-yuan bonus per 500) on the wechat combination. */
async function orderedTopUp(h: Harness, items: { cardNo: string; amount: number }[]): Promise<TransactionView> {
  const started = await h.api<TransactionView>('POST', '/v1/transactions', {
    ...FUEL_SALE,
    userId: 'U5',
    items: items.map((i) => ({ type: 'stored_value', ...i })),
    paymentMethods: ['wechat'],
  });
  const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-wechat' });
  if (ordered.status !== 201) throw new Error(JSON.stringify(ordered.body));
  return ordered.body;
}

/** The top-ups paid by wechat and credited to their cards. */
async function paidTopUp(h: Harness, items: { cardNo: string; amount: number }[]): Promise<TransactionView> {
  const ordered = await orderedTopUp(h, items);
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.payableAmount }] });
  await h.sims.gateway.pay(paying.body.legs[0]!.paymentNo);
  return (await eventually(() => view(h, ordered.txnNo), (r) => r.body.state === 'completed')).body;
}

t.test('a top-up cannot be paid with stored value, not even from the card it tops up', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const before = await balance(h, 'C4');
  const ordered = await orderedTopUp(h, [{ cardNo: 'C4', amount: 50_000 }]);
  const refused = await h.api<ErrorBody>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'stored_value', cardNo: 'C4', amount: ordered.payableAmount }] });
  t.equal(refused.status, 422);
  t.equal(refused.body.error.code, 'LEGS_MISMATCH');
  t.match(refused.body.error.message, /top-up/);
  const after = (await view(h, ordered.txnNo)).body;
  t.equal(after.state, 'ordered', 'the order stays open for a payment by another method');
  t.same(after.legs, []);
  t.equal(await balance(h, 'C4'), before, 'the card was neither charged nor credited');
});
