import t from 'tap';
import { runInspect } from '../../bin/commands/inspect.ts';
import type { RefundView, TopUpDebitView } from '../../machines/types.ts';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { captureIo, sources } from '../cli/helpers.ts';
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

t.test('a top-up refunded in parts takes back what was credited, its bonus once and in proportion', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const before = await balance(h, 'C4');
  const sale = await paidTopUp(h, [{ cardNo: 'C4', amount: 50_000 }]);
  t.equal(await balance(h, 'C4'), before + 55_000, 'credited 500 yuan and a 50-yuan bonus');
  const debits: number[] = [];
  for (const amount of [10_000, 15_000, 25_000]) {
    const res = await h.api<{ refund: { topUpDebitFen: number } }>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { lines: [{ lineNo: 1, amount }], reason: 'part' });
    t.equal(res.status, 202);
    debits.push(res.body.refund.topUpDebitFen);
  }
  t.same(debits, [11_000, 16_500, 27_500], 'each part takes its share of the bonus, floored on the cumulative amount');
  t.equal(await balance(h, 'C4'), before, 'the card holds what it held before the sale, not less');
  await eventually(async () => (await h.sims.systems.paymentGateway.peekPayment(sale.legs[0]!.paymentNo))?.refundedFen, (fen) => fen === 50_000);
});

t.test('a full refund of top-ups to two cards takes from each card its own top-up', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const sale = await paidTopUp(h, [{ cardNo: 'C4', amount: 10_000 }, { cardNo: 'C1', amount: 20_000 }]);
  const credited = { c4: await balance(h, 'C4'), c1: await balance(h, 'C1') };
  const res = await h.api<{ refund: { topUpDebitFen: number } }>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { reason: 'both back' });
  t.equal(res.status, 202);
  t.equal(res.body.refund.topUpDebitFen, 30_000);
  t.same({ c4: await balance(h, 'C4'), c1: await balance(h, 'C1') }, { c4: credited.c4 - 10_000, c1: credited.c1 - 20_000 });
});

t.test('a full refund of top-ups to two cards lists each debit with its card, amount and number on the refund (issue 15)', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const sale = await paidTopUp(h, [{ cardNo: 'C4', amount: 50_000 }, { cardNo: 'C1', amount: 20_000 }]);
  const credited = { c4: await balance(h, 'C4'), c1: await balance(h, 'C1') };
  const res = await h.api<{ refundNo: string; refund: RefundView }>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { reason: 'both back' });
  t.equal(res.status, 202);
  const { refundNo } = res.body;
  const listed: TopUpDebitView[] = [
    { debitNo: `${refundNo}-D`, cardNo: 'C4', amountFen: 55_000, status: 'debited' },
    { debitNo: `${refundNo}-D2`, cardNo: 'C1', amountFen: 20_000, status: 'debited' },
  ];
  t.same(res.body.refund.topUpDebits, listed, 'the answer lists each card: C4 gives back its top-up and bonus, C1 its top-up');
  t.equal(res.body.refund.topUpDebitFen, 75_000, 'topUpDebitFen stays the total of the debits');
  t.same((await view(h, sale.txnNo)).body.refunds[0]?.topUpDebits, listed, 'the transaction view lists them');
  t.same((await h.api<RefundView>('GET', `/v1/transactions/${sale.txnNo}/refunds/${refundNo}`)).body.topUpDebits, listed, 'and so does the refund');
  t.same({ c4: await balance(h, 'C4'), c1: await balance(h, 'C1') }, { c4: credited.c4 - 55_000, c1: credited.c1 - 20_000 }, 'the card ledger agrees');
  const debits = (await h.sims.store.effects({ system: 'storedValue', verb: 'debit' })).map((e) => e.key);
  t.same(debits, [`${sale.txnNo}:${refundNo}:debit`, `${sale.txnNo}:${refundNo}:debit:2`], 'each debit once, under its own step key');
});

t.test('trade inspect lists each top-up debit of a refund with its card, through the server and from the store', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const sale = await paidTopUp(h, [{ cardNo: 'C4', amount: 50_000 }, { cardNo: 'C1', amount: 20_000 }]);
  const { refundNo } = (await h.api<{ refundNo: string }>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { reason: 'both back' })).body;
  await h.tc.host.settle();
  for (const { mode, open } of sources(h)) {
    const source = open();
    t.teardown(() => source.close());
    const io = captureIo();
    await runInspect(source, io, sale.txnNo, {});
    const text = io.stdout();
    t.match(text, /\nTop-up debits\n/, `${mode}: a section of its own`);
    t.match(text, new RegExp(`│ ${refundNo}\\s+│ ${refundNo}-D\\s+│ C4\\s+│ 550\\.00\\s+│ debited\\s+│`), `${mode}: C4 gave back its top-up and bonus`);
    t.match(text, new RegExp(`│ ${refundNo}\\s+│ ${refundNo}-D2\\s+│ C1\\s+│ 200\\.00\\s+│ debited\\s+│`), `${mode}: C1 its top-up`);
  }
});

t.test('a top-up refund refused at its second card gives the first card its debit back and refunds nothing', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const sale = await paidTopUp(h, [{ cardNo: 'C4', amount: 10_000 }, { cardNo: 'C1', amount: 20_000 }]);
  const credited = { c4: await balance(h, 'C4'), c1: await balance(h, 'C1') };
  // C1's owner spends all but 100 yuan: its top-up is gone.
  await h.sims.systems.storedValue.lock({ txnNo: 'T-SPEND', step: 'l' }, { lockKey: 'spend', cardNo: 'C1', amountFen: credited.c1 - 10_000 });
  await h.sims.systems.storedValue.confirm({ txnNo: 'T-SPEND', step: 'c' }, { lockKey: 'spend' });
  const refused = await h.api<ErrorBody>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { reason: 'both back' });
  t.equal(refused.status, 422);
  t.equal(refused.body.error.code, 'INSUFFICIENT_BALANCE');
  await h.tc.host.settle();
  t.equal(await balance(h, 'C4'), credited.c4, 'the first card got its debit back');
  t.equal(await balance(h, 'C1'), 10_000, 'the second card was not touched');
  t.equal((await h.sims.systems.paymentGateway.peekPayment(sale.legs[0]!.paymentNo))?.refundedFen, 0, 'no money went back');
  const after = (await view(h, sale.txnNo)).body;
  t.equal(after.refundedAmount, 0);
  t.same(after.refunds.map((r) => r.status), ['rejected']);
  t.same(
    after.refunds[0]?.topUpDebits.map((d) => [d.cardNo, d.amountFen, d.status]),
    [['C4', 10_000, 'creditedBack'], ['C1', 20_000, 'refused']],
    'the refund says which card refused and which got its debit back',
  );
});

t.test('a top-up refund refused at the second of three cards lists the first credited back, the second refused and the third never asked', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const sale = await paidTopUp(h, [{ cardNo: 'C4', amount: 10_000 }, { cardNo: 'C1', amount: 20_000 }, { cardNo: 'C2', amount: 5_000 }]);
  const c1 = await balance(h, 'C1');
  await h.sims.systems.storedValue.lock({ txnNo: 'T-SPEND', step: 'l' }, { lockKey: 'spend', cardNo: 'C1', amountFen: c1 - 10_000 });
  await h.sims.systems.storedValue.confirm({ txnNo: 'T-SPEND', step: 'c' }, { lockKey: 'spend' });
  const refused = await h.api<ErrorBody>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { reason: 'all back' });
  t.equal(refused.status, 422);
  await h.tc.host.settle();
  const refund = (await view(h, sale.txnNo)).body.refunds[0]!;
  t.same(
    refund.topUpDebits.map((d) => [d.debitNo, d.cardNo, d.status]),
    [[`${refund.refundNo}-D`, 'C4', 'creditedBack'], [`${refund.refundNo}-D2`, 'C1', 'refused'], [`${refund.refundNo}-D3`, 'C2', 'skipped']],
  );
  t.same((await h.sims.store.effects({ system: 'storedValue', verb: 'debit' })).map((e) => e.key), [`${sale.txnNo}:${refund.refundNo}:debit`], 'only the first card was debited');
});

t.test('a top-up refund whose card debit answer was lost debits the card once and gives the money back', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const sale = await paidTopUp(h, [{ cardNo: 'C4', amount: 50_000 }]);
  const credited = await balance(h, 'C4');
  await h.sims.faults.storedValue.configure({ debit: { failAfterEffect: 1 } });
  const res = await h.api<{ refundNo: string }>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { reason: 'changed my mind' });
  t.equal(res.status, 202, 'the debit is asked again under its key, which answers the first result');
  t.equal(await balance(h, 'C4'), credited - 55_000, 'debited once');
  await eventually(async () => (await h.sims.systems.paymentGateway.peekPayment(sale.legs[0]!.paymentNo))?.refundedFen, (fen) => fen === 50_000);
});

t.test('a top-up refund waits out a card system outage and then goes through, never rejected for it', async (t) => {
  const clock = new ManualClock(NOON);
  // A short deadline: the refund request gives up waiting long before the outage ends; the
  // breaker the outage opens lets a call through again soon after.
  const h = await startHarness(t, { clock, config: { callTimeoutMs: 200, breaker: { afterFailures: 5, halfOpenAfterMs: 50 } } });
  const sale = await paidTopUp(h, [{ cardNo: 'C4', amount: 50_000 }]);
  const credited = await balance(h, 'C4');
  await h.sims.faults.storedValue.configure({ debit: { outage: true } });
  const waiting = await h.api<{ error: { code: string; details: { txnNo: string } } }>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { reason: 'changed my mind' });
  t.equal(waiting.status, 503, 'still working when the request stops waiting');
  t.equal(waiting.body.error.details.txnNo, sale.txnNo);
  // Its immediate retries spent, the refund waits on a durable timer to ask the card again.
  const retry = await eventually(async () => Object.keys((await h.tc.storage.snapshots.load(sale.txnNo))!.timers), (names) => names.some((n) => n.endsWith('/card-retry')));
  t.match(retry, [/^refund-R.*\/card-retry$/]);
  t.equal((await view(h, sale.txnNo)).body.refunds[0]?.status, 'requested', 'not rejected: the card may have been debited');
  await h.sims.faults.storedValue.clear();
  await new Promise((r) => setTimeout(r, 100));
  // Time runs on until the refund is through: on a busy machine the channel refund itself may
  // outlast the 200 ms call deadline, and then only its query timer, on this clock, finds it done.
  for (let i = 0; i < 20 && (await view(h, sale.txnNo)).body.refunds[0]?.status !== 'succeeded'; i++) {
    clock.advance(10 * 60_000);
    await h.tc.host.fireDueTimers();
    await h.tc.host.settle();
  }
  const done = await eventually(() => view(h, sale.txnNo), (r) => r.body.refunds[0]?.status === 'succeeded');
  t.equal(done.body.refundedAmount, 50_000);
  t.equal(await balance(h, 'C4'), credited - 55_000, 'debited once');
});

t.test('a top-up its card system refused to credit is refunded without a debit: the card never got it', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const ordered = await orderedTopUp(h, [{ cardNo: 'C4', amount: 50_000 }]);
  // The card is closed between the order and the payment: the credit after payment is refused.
  h.tc.sims!.store.db.prepare('DELETE FROM cards WHERE card_no = ?').run('C4');
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.payableAmount }] });
  await h.sims.gateway.pay(paying.body.legs[0]!.paymentNo);
  const sale = (await eventually(() => view(h, ordered.txnNo), (r) => r.body.state === 'completed')).body;
  t.equal(sale.needsAttention, true, 'the refused credit waits for a person');

  const res = await h.api<{ refund: { topUpDebitFen: number } }>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { reason: 'the card is gone' });
  t.equal(res.status, 202, 'the money is not held hostage by a card that never got it');
  t.equal(res.body.refund.topUpDebitFen, 0, 'nothing to take back from the card');
  await eventually(async () => (await h.sims.systems.paymentGateway.peekPayment(sale.legs[0]!.paymentNo))?.refundedFen, (fen) => fen === 50_000);
});

t.test('a refund request is answered about its own refund, not about an earlier one that finished while it waited', async (t) => {
  // Debits take 600 ms; a request stops waiting after 4 × 100 ms.
  const h = await startHarness(t, { clock: new ManualClock(NOON), config: { callTimeoutMs: 100, systemTimeoutsMs: { storedValue: 5_000 } } });
  const sale = await paidTopUp(h, [{ cardNo: 'C4', amount: 10_000 }, { cardNo: 'C1', amount: 20_000 }]);
  // C1's owner spends all but 100 yuan: its top-up can no longer be refunded.
  const c1 = await balance(h, 'C1');
  await h.sims.systems.storedValue.lock({ txnNo: 'T-SPEND', step: 'l' }, { lockKey: 'spend', cardNo: 'C1', amountFen: c1 - 10_000 });
  await h.sims.systems.storedValue.confirm({ txnNo: 'T-SPEND', step: 'c' }, { lockKey: 'spend' });
  await h.sims.faults.storedValue.configure({ debit: { latencyMs: 600 } });

  const first = await h.api<ErrorBody>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { lines: [{ lineNo: 1, amount: 10_000 }], reason: 'C4 back' });
  t.equal(first.status, 503, 'the first stops waiting for its debit');
  const second = await h.api<ErrorBody>('POST', `/v1/transactions/${sale.txnNo}/refunds`, { lines: [{ lineNo: 2, amount: 20_000 }], reason: 'C1 back' });
  t.equal(second.status, 503, 'still working on its own debit: not a 202 borrowed from the first refund');
  const settled = await eventually(() => view(h, sale.txnNo), (r) => r.body.refunds[1]?.status === 'rejected');
  t.not(settled.body.refunds[0]?.status, 'rejected', 'the first went through');
  t.equal(settled.body.refunds[1]?.refusal?.code, 'INSUFFICIENT_BALANCE', 'the second was refused: C1 no longer holds its top-up');
});
