import { randomUUID } from 'node:crypto';
import t from 'tap';
import { SIGNATURE_HEADERS, sign } from '../../domain/signature.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { encodePaymentCallback } from '../../systems/payment-gateway/callback-formats.ts';
import type { PaymentCallbackBody } from '../../systems/payment-gateway/port.ts';
import { eventually, orderedSale, startHarness, type Harness } from '../helpers/harness.ts';

async function payingSale(h: Harness) {
  const ordered = await orderedSale(h.api, 'wechat');
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.payableAmount }] });
  return paying.body;
}

function callbackBody(view: TransactionView, patch: Partial<PaymentCallbackBody> = {}): PaymentCallbackBody {
  const leg = view.legs[0]!;
  return {
    paymentNo: leg.paymentNo,
    txnNo: view.txnNo,
    merchantId: view.merchantId,
    channel: 'wechat',
    amountFen: leg.amount,
    status: 'SUCCESS',
    channelTradeNo: 'WX-TEST-1',
    paidAt: new Date(Math.floor(Date.now() / 1000) * 1000).toISOString(),
    ...patch,
  };
}

/** Posts a callback in wechat's own format (or raw JSON for bodies that are not callbacks), signed. */
async function postCallback(h: Harness, body: PaymentCallbackBody | Record<string, unknown>, opts: { secret?: string; timestamp?: number; signature?: string } = {}) {
  const raw = 'paymentNo' in body ? encodePaymentCallback('wechat', body as PaymentCallbackBody).raw : JSON.stringify(body);
  const timestamp = String(opts.timestamp ?? Math.floor(h.tc.clock.now() / 1000));
  const nonce = randomUUID();
  const signature = opts.signature ?? sign(opts.secret ?? h.tc.config.callbackSecret, timestamp, nonce, raw);
  const res = await fetch(`${h.url}/v1/callbacks/payments/wechat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [SIGNATURE_HEADERS.timestamp]: timestamp, [SIGNATURE_HEADERS.nonce]: nonce, [SIGNATURE_HEADERS.signature]: signature },
    body: raw,
  });
  return { status: res.status, body: (await res.json()) as { code?: string; error?: { code: string } } };
}

async function transitionsInto(h: Harness, txnNo: string, state: string): Promise<number> {
  const journal = await h.tc.storage.journal.entries(txnNo);
  const top = (v: unknown) => (typeof v === 'string' ? v : v && typeof v === 'object' ? Object.keys(v)[0] : null);
  return journal.filter((j) => j.actor === 'transaction' && top(j.to) === state && top(j.from) !== state).length;
}

t.test('the same callback delivered 5 times by the gateway changes the state once', async (t) => {
  const h = await startHarness(t);
  h.tc.sims!.gateway.configureCallbacks({ duplicateCallbacks: 5 });
  const paying = await payingSale(h);
  await h.tc.sims!.gateway.pay(paying.legs[0]!.paymentNo);
  await eventually(
    async () => h.tc.sims!.gateway.callbacks(paying.legs[0]!.paymentNo).filter((c) => c.deliveredAt !== null).length,
    (n) => n === 5,
  );
  const view = await eventually(() => h.api<TransactionView>('GET', `/v1/transactions/${paying.txnNo}`), (r) => r.body.state === 'completed');
  t.equal(view.body.paidAmount, paying.payableAmount);
  t.equal(await transitionsInto(h, paying.txnNo, 'paid'), 1, 'paid was entered once');
  t.equal(await transitionsInto(h, paying.txnNo, 'completed'), 1, 'completed was entered once');
  t.equal(h.tc.sims!.store.effects({ system: 'order', verb: 'markPaid' }).length, 1, 'the order system was told once');
});

t.test('five identical callbacks posted at once are all acknowledged and count once', async (t) => {
  const h = await startHarness(t);
  h.tc.sims!.gateway.configureCallbacks({ dropCallbacks: true });
  const paying = await payingSale(h);
  await h.tc.sims!.gateway.pay(paying.legs[0]!.paymentNo);
  const body = callbackBody(paying);
  const answers = await Promise.all(Array.from({ length: 5 }, () => postCallback(h, body)));
  t.same(answers.map((a) => a.status), [200, 200, 200, 200, 200]);
  await eventually(() => h.api<TransactionView>('GET', `/v1/transactions/${paying.txnNo}`), (r) => r.body.state === 'completed');
  t.equal(await transitionsInto(h, paying.txnNo, 'paid'), 1);
  t.equal(h.tc.sims!.store.effects({ system: 'order', verb: 'markPaid' }).length, 1);
});

t.test('a callback with a bad signature or a stale timestamp gets 401 and changes nothing', async (t) => {
  const h = await startHarness(t);
  h.tc.sims!.gateway.configureCallbacks({ dropCallbacks: true });
  const paying = await payingSale(h);
  await h.tc.sims!.gateway.pay(paying.legs[0]!.paymentNo);
  const journalBefore = (await h.tc.storage.journal.entries(paying.txnNo)).length;
  const versionBefore = (await h.tc.storage.snapshots.load(paying.txnNo))!.version;

  const forged = await postCallback(h, callbackBody(paying), { secret: 'not-the-secret' });
  t.equal(forged.status, 401);
  t.equal(forged.body.error?.code, 'INVALID_SIGNATURE');
  const stale = await postCallback(h, callbackBody(paying), { timestamp: Math.floor(h.tc.clock.now() / 1000) - 3600 });
  t.equal(stale.status, 401, 'a replay an hour later is refused');
  const garbage = await postCallback(h, callbackBody(paying), { signature: 'zz' });
  t.equal(garbage.status, 401);

  t.equal((await h.tc.storage.journal.entries(paying.txnNo)).length, journalBefore, 'no event reached the transaction');
  t.equal((await h.tc.storage.snapshots.load(paying.txnNo))!.version, versionBefore, 'the stored transaction did not change');
  t.equal((await h.api<TransactionView>('GET', `/v1/transactions/${paying.txnNo}`)).body.state, 'paying');
});

t.test('a callback for an unknown transaction or payment is refused, and the server keeps serving', async (t) => {
  const h = await startHarness(t);
  const paying = await payingSale(h);
  const unknownTxn = await postCallback(h, callbackBody(paying, { txnNo: 'T00000000000000000000NOPE00' }));
  t.equal(unknownTxn.status, 404);
  t.equal(unknownTxn.body.error?.code, 'NOT_FOUND');
  const unknownPayment = await postCallback(h, callbackBody(paying, { paymentNo: `${paying.txnNo}-P9` }));
  t.equal(unknownPayment.status, 404);
  const malformed = await postCallback(h, { hello: 'world' });
  t.equal(malformed.status, 400, 'a signed body of the wrong shape is a 400');
  t.equal((await h.api('GET', '/healthz')).status, 200);
});

t.test('a callback whose amount or merchant differs from our record is refused and changes nothing', async (t) => {
  const h = await startHarness(t);
  const paying = await payingSale(h);
  const versionBefore = (await h.tc.storage.snapshots.load(paying.txnNo))!.version;
  const wrongAmount = await postCallback(h, callbackBody(paying, { amountFen: 1 }));
  t.equal(wrongAmount.status, 422);
  t.equal(wrongAmount.body.error?.code, 'AMOUNT_MISMATCH');
  const wrongMerchant = await postCallback(h, callbackBody(paying, { merchantId: 'M2' }));
  t.equal(wrongMerchant.status, 422);
  t.equal((await h.tc.storage.snapshots.load(paying.txnNo))!.version, versionBefore);
});

t.test('a success callback is not believed until the gateway query confirms it', async (t) => {
  const h = await startHarness(t);
  const paying = await payingSale(h);
  // Signed correctly, but the customer never paid: the gateway still says pending.
  const answer = await postCallback(h, callbackBody(paying));
  t.equal(answer.status, 200, 'acknowledged: the callback was received');
  await h.tc.host.settle();
  await new Promise((r) => setTimeout(r, 100));
  const view = (await h.api<TransactionView>('GET', `/v1/transactions/${paying.txnNo}`)).body;
  t.equal(view.state, 'paying', 'still paying: the query said pending');
  t.equal(view.legs[0]?.status, 'pending');
});
