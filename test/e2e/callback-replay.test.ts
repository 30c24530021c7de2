import { randomUUID } from 'node:crypto';
import t, { type Test } from 'tap';
import { SIGNATURE_HEADERS, sign } from '../../domain/signature.ts';
import type { TradeCenterConfig } from '../../runtime/trade-center.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { encodePaymentCallback } from '../../systems/payment-gateway/callback-formats.ts';
import type { PaymentCallbackBody } from '../../systems/payment-gateway/port.ts';
import { eventually, orderedSale, startHarness, type Harness } from '../helpers/harness.ts';
import { startRedisServer } from '../helpers/redis-server.ts';

/** The backends the nonces live on: the SQLite file, or a private redis-server with a fresh prefix. */
const BACKENDS: { name: string; config: (t: Test) => Promise<Partial<TradeCenterConfig>> }[] = [
  { name: 'SQLite', config: async () => ({}) },
  {
    name: 'Redis',
    config: async (t) => {
      const server = await startRedisServer();
      t.teardown(() => server.stop());
      return { storage: { kind: 'redis', url: server.url, prefix: `tc-replay-${randomUUID().slice(0, 8)}` } };
    },
  },
];

interface SignedCallback {
  raw: string;
  headers: Record<string, string>;
}

function signed(h: Harness, body: PaymentCallbackBody, nonce: string): SignedCallback {
  const raw = encodePaymentCallback('wechat', body).raw;
  const timestamp = String(Math.floor(h.tc.clock.now() / 1000));
  return {
    raw,
    headers: {
      'content-type': 'application/json',
      [SIGNATURE_HEADERS.timestamp]: timestamp,
      [SIGNATURE_HEADERS.nonce]: nonce,
      [SIGNATURE_HEADERS.signature]: sign(h.tc.config.callbackSecret, timestamp, nonce, raw),
    },
  };
}

async function post(h: Harness, callback: SignedCallback) {
  const res = await fetch(`${h.url}/v1/callbacks/payments/wechat`, { method: 'POST', headers: callback.headers, body: callback.raw });
  return { status: res.status, body: (await res.json()) as { code?: string; error?: { code: string; message: string } } };
}

/** A wechat sale paid at the gateway, whose own callbacks are dropped: the test delivers them. */
async function paidAtGateway(h: Harness): Promise<TransactionView> {
  h.tc.sims!.gateway.configureCallbacks({ dropCallbacks: true });
  const ordered = await orderedSale(h.api, 'wechat');
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.payableAmount }] });
  await h.tc.sims!.gateway.pay(paying.body.legs[0]!.paymentNo);
  return paying.body;
}

/** One instant for every callback, so two encodings of one callback are the same bytes. */
const PAID_AT = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();

function callbackOf(view: TransactionView, patch: Partial<PaymentCallbackBody> = {}): PaymentCallbackBody {
  const leg = view.legs[0]!;
  return {
    paymentNo: leg.paymentNo,
    txnNo: view.txnNo,
    merchantId: view.merchantId,
    channel: 'wechat',
    amountFen: leg.amount,
    status: 'SUCCESS',
    channelTradeNo: 'WX-REPLAY-1',
    paidAt: PAID_AT,
    ...patch,
  };
}


/** Completed, every post-payment task done and its outcome journalled: nothing journals by itself now. */
async function settled(h: Harness, txnNo: string): Promise<void> {
  await eventually(
    async () => ({ view: (await h.api<TransactionView>('GET', `/v1/transactions/${txnNo}`)).body, tasks: await h.tc.storage.tasks.tasksOf(txnNo), journal: await h.tc.storage.journal.entries(txnNo) }),
    ({ view, tasks, journal }) =>
      view.state === 'completed' && tasks.length > 0 && tasks.every((task) => task.status === 'done' && journal.some((j) => j.event === 'TASK_DONE' && j.data.task === task.task)),
  );
  await h.tc.host.settle();
}

for (const backend of BACKENDS) {
  t.test(`a replayed callback with the same nonce and body is a duplicate: 200, one journal entry saying so, nothing else (issue 17, ${backend.name})`, async (t) => {
    const h = await startHarness(t, { config: await backend.config(t) });
    const paying = await paidAtGateway(h);
    const first = signed(h, callbackOf(paying), randomUUID());
    t.same(await post(h, first), { status: 200, body: { code: 'SUCCESS' } }, 'the first delivery is acknowledged');
    await settled(h, paying.txnNo);
    const journalBefore = await h.tc.storage.journal.entries(paying.txnNo);
    const markedPaid = h.tc.sims!.store.effects({ system: 'order', verb: 'markPaid' }).length;

    t.same(await post(h, first), { status: 200, body: { code: 'SUCCESS' } }, 'the replay is acknowledged like the first');
    const journalAfter = await h.tc.storage.journal.entries(paying.txnNo);
    t.equal(journalAfter.length, journalBefore.length + 1, 'one journal entry more');
    const entry = journalAfter.at(-1)!;
    t.match(entry, { actor: 'transaction', event: 'CALLBACK_DUPLICATE', data: { channel: 'wechat', paymentNo: paying.legs[0]!.paymentNo, nonce: first.headers[SIGNATURE_HEADERS.nonce] } });
    t.same(entry.to, entry.from, 'the duplicate changed no state');
    t.same(journalAfter.slice(0, -1), journalBefore, 'and nothing before it changed');
    t.equal(h.tc.sims!.store.effects({ system: 'order', verb: 'markPaid' }).length, markedPaid, 'the order system was not told again');
    t.equal((await h.api<TransactionView>('GET', `/v1/transactions/${paying.txnNo}`)).body.state, 'completed');
  });

  t.test(`a callback reusing a seen nonce with another body is refused with 401 INVALID_SIGNATURE and changes nothing (issue 17, ${backend.name})`, async (t) => {
    const h = await startHarness(t, { config: await backend.config(t) });
    const paying = await paidAtGateway(h);
    const nonce = randomUUID();
    t.equal((await post(h, signed(h, callbackOf(paying), nonce))).status, 200);
    await settled(h, paying.txnNo);
    const journalBefore = (await h.tc.storage.journal.entries(paying.txnNo)).length;
    const versionBefore = (await h.tc.storage.snapshots.load(paying.txnNo))!.version;

    // Correctly signed (the secret holder signed it), but the nonce was spent on another body.
    const altered = await post(h, signed(h, callbackOf(paying, { channelTradeNo: 'WX-REPLAY-2' }), nonce));
    t.equal(altered.status, 401);
    t.equal(altered.body.error?.code, 'INVALID_SIGNATURE');
    t.match(altered.body.error?.message, /nonce/);
    t.equal((await h.tc.storage.journal.entries(paying.txnNo)).length, journalBefore, 'nothing journalled');
    t.equal((await h.tc.storage.snapshots.load(paying.txnNo))!.version, versionBefore, 'the stored transaction did not change');
  });

  t.test(`a callback refused before delivery forgets its nonce, so the gateway's retry is a first delivery (${backend.name})`, async (t) => {
    const h = await startHarness(t, { config: await backend.config(t) });
    const paying = await paidAtGateway(h);
    const nonce = randomUUID();
    const wrongAmount = signed(h, callbackOf(paying, { amountFen: 1 }), nonce);
    t.equal((await post(h, wrongAmount)).status, 422);
    t.equal((await post(h, wrongAmount)).status, 422, 'the same refusal again, not a 200 duplicate');
    t.equal((await post(h, signed(h, callbackOf(paying), nonce))).status, 200, 'the nonce is free for the corrected callback');
    await eventually(() => h.api<TransactionView>('GET', `/v1/transactions/${paying.txnNo}`), (r) => r.body.state === 'completed');
  });
}
