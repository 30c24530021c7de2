import { createHash } from 'node:crypto';
import t from 'tap';
import { canonicalJson } from '../../domain/canonical-json.ts';
import { ManualClock } from '../../runtime/clock.ts';
import { DEFAULT_CONFIG } from '../../runtime/trade-center.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { eventually, FUEL_SALE, startHarness } from '../helpers/harness.ts';

interface ErrorBody {
  error: { code: string };
}

t.test('an Idempotency-Key is replayed for the whole retention, and once it has passed and the purge ran a different body is a new request', async (t) => {
  const clock = new ManualClock();
  const retentionMs = 24 * 3_600_000;
  const { api, tc } = await startHarness(t, { clock, config: { idempotency: { ...DEFAULT_CONFIG.idempotency, retentionMs } } });
  const headers = { 'idempotency-key': 'start-kept-24h' };
  const first = await api<TransactionView>('POST', '/v1/transactions', FUEL_SALE, headers);
  t.equal(first.status, 201);

  clock.advance(retentionMs);
  t.equal(await tc.idempotencyPurge.run(), 0, 'a record exactly the retention old is kept');
  const replayed = await api<TransactionView>('POST', '/v1/transactions', FUEL_SALE, headers);
  t.equal(replayed.status, 201);
  t.equal(replayed.body.txnNo, first.body.txnNo, 'the first response, replayed');
  t.equal(replayed.headers.get('idempotent-replayed'), 'true');
  const reused = await api<ErrorBody>('POST', '/v1/transactions', { ...FUEL_SALE, userId: 'U2' }, headers);
  t.equal(reused.status, 422);
  t.equal(reused.body.error.code, 'IDEMPOTENCY_KEY_REUSED');

  clock.advance(1);
  t.equal(await tc.idempotencyPurge.run(), 1, 'one millisecond older, the record is purged');
  const fresh = await api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, userId: 'U2' }, headers);
  t.equal(fresh.status, 201, 'the same key with another body is accepted as new');
  t.not(fresh.body.txnNo, first.body.txnNo, 'a second transaction');
  t.equal(fresh.headers.get('idempotent-replayed'), null);
  const replayedNew = await api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, userId: 'U2' }, headers);
  t.equal(replayedNew.body.txnNo, fresh.body.txnNo, 'and the key now replays the new answer');
});

t.test('the same body with its members in another order is the same request: replayed, not refused as a reused key', async (t) => {
  const { api } = await startHarness(t);
  const headers = { 'idempotency-key': 'start-reordered' };
  const first = await api<TransactionView>('POST', '/v1/transactions', FUEL_SALE, headers);
  t.equal(first.status, 201);
  const reordered = Object.fromEntries(Object.entries(FUEL_SALE).reverse());
  t.not(JSON.stringify(reordered), JSON.stringify(FUEL_SALE), 'the members travel in another order');
  const replayed = await api<TransactionView>('POST', '/v1/transactions', reordered, headers);
  t.equal(replayed.status, 201);
  t.equal(replayed.body.txnNo, first.body.txnNo, 'the first response');
  t.equal(replayed.headers.get('idempotent-replayed'), 'true');
});

t.test('a checkout that answered "still working" is resumed, not run again, under the same Idempotency-Key: the card is charged once and the key learns the outcome (issue 15)', async (t) => {
  // The card takes 1.5 s to lock; the request stops waiting after 4 × 300 ms.
  const { api, sims } = await startHarness(t, { config: { callTimeoutMs: 300, systemTimeoutsMs: { storedValue: 5_000 } } });
  await sims.faults.storedValue.configure({ lock: { latencyMs: 1_500 } });
  const body = { ...FUEL_SALE, paymentMethods: ['stored_value'], legs: [{ method: 'stored_value', cardNo: 'C1', amount: 'rest' }] };
  const headers = { 'idempotency-key': 'checkout-slow-card' };
  type Answer = TransactionView & { error?: { code: string; details: { txnNo: string } } };
  const first = await api<Answer>('POST', '/v1/checkout', body, headers);
  t.equal(first.status, 503);
  const txnNo = first.body.error!.details.txnNo;
  t.match(txnNo, /^T/, 'the answer names the transaction still at work');
  const retried = await api<Answer>('POST', '/v1/checkout', body, headers);
  t.ok(retried.status === 503 || retried.status === 200, `the retry resumes the first run (${retried.status})`);
  t.equal(retried.status === 503 ? retried.body.error!.details.txnNo : retried.body.txnNo, txnNo, 'about the same transaction, not a second one');

  await eventually(() => api<TransactionView>('GET', `/v1/transactions/${txnNo}`), (r) => r.body.state === 'completed');
  const answered = await api<Answer>('POST', '/v1/checkout', body, headers);
  t.equal(answered.status, 200, 'once the sale is done, the key answers with it');
  t.equal(answered.body.txnNo, txnNo);
  t.equal(answered.body.state, 'completed');
  t.equal(answered.body.paidAmount, answered.body.payableAmount);
  const replayed = await api<Answer>('POST', '/v1/checkout', body, headers);
  t.equal(replayed.headers.get('idempotent-replayed'), 'true', 'and that answer is kept');
  t.equal(replayed.body.txnNo, txnNo);
  // Long enough for a second checkout's lock to have landed, had one started.
  await new Promise((r) => setTimeout(r, 1_000));
  t.equal((await sims.store.effects({ system: 'storedValue', verb: 'lock' })).length, 1, 'one lock: one sale');
  t.equal((await sims.store.effects({ system: 'storedValue', verb: 'confirm' })).length, 1, 'charged once');
});

t.test('a claim of another process is watched within the deadline: renewed it answers 409, lapsed it is taken over and the request runs once (issue 15)', async (t) => {
  const { api, tc } = await startHarness(t, { config: { callTimeoutMs: 1_000, idempotency: { ...DEFAULT_CONFIG.idempotency, leaseMs: 600 } } });
  const body = { ...FUEL_SALE, userId: 'U2' };
  const scoped = (key: string) => `demo:POST:/v1/transactions:{}:${key}`;
  const fingerprint = createHash('sha256').update(canonicalJson(body)).digest('hex');
  const otherProcess = (key: string, leaseUntil: number) => tc.storage.idempotency.claimIdempotencyKey(scoped(key), fingerprint, Date.now(), { owner: 'other-process', leaseUntil, runId: `run-${key}` });

  t.equal((await otherProcess('held-long', Date.now() + 60_000)).status, 'claimed');
  const began = Date.now();
  const held = await api<ErrorBody>('POST', '/v1/transactions', body, { 'idempotency-key': 'held-long' });
  t.equal(held.body.error.code, 'REQUEST_IN_PROGRESS', 'a lease outlasting the deadline: in progress');
  t.ok(Date.now() - began < 1_000, 'said at once, not after waiting for it');

  t.equal((await otherProcess('renewed', Date.now() + 300)).status, 'claimed');
  const renewing = setInterval(() => void tc.storage.idempotency.renewIdempotencyKey(scoped('renewed'), 'other-process', Date.now() + 300), 100);
  t.teardown(() => clearInterval(renewing));
  const live = await api<ErrorBody>('POST', '/v1/transactions', body, { 'idempotency-key': 'renewed' });
  t.equal(live.body.error.code, 'REQUEST_IN_PROGRESS', 'an owner that renews its lease is alive: in progress');
  clearInterval(renewing);

  t.equal((await otherProcess('lapsing', Date.now() + 300)).status, 'claimed');
  t.equal(await tc.storage.idempotency.noteIdempotencyTxn(scoped('lapsing'), 'other-process', 'T20990101000000000001'), true);
  const taken = await api<TransactionView>('POST', '/v1/transactions', body, { 'idempotency-key': 'lapsing' });
  t.equal(taken.status, 201, 'a lease left to lapse: its owner is gone and the retry runs the request');
  t.equal(taken.body.txnNo, 'T20990101000000000001', 'under the transaction number the first run recorded');
  const again = await api<TransactionView>('POST', '/v1/transactions', body, { 'idempotency-key': 'lapsing' });
  t.equal(again.headers.get('idempotent-replayed'), 'true');
  t.equal(again.body.txnNo, taken.body.txnNo);
});

t.test('a refund answer stored before refunds listed their top-up debits is replayed as it was stored', async (t) => {
  const { api, tc } = await startHarness(t);
  const sale = await api<TransactionView>('POST', '/v1/checkout', { ...FUEL_SALE, paymentMethods: ['stored_value'], legs: [{ method: 'stored_value', cardNo: 'C1', amount: 'rest' }] });
  t.equal(sale.body.state, 'completed');
  const txnNo = sale.body.txnNo;
  const body = { reason: 'changed my mind' };
  const answered = await api<{ refundNo: string; refund: Record<string, unknown> }>('POST', `/v1/transactions/${txnNo}/refunds`, body, { 'idempotency-key': 'refund-now' });
  t.equal(answered.status, 202);
  // The same answer as an older release stored it: no topUpDebits.
  const { topUpDebits: _listed, ...older } = answered.body.refund;
  const stored = { ...answered.body, refund: older };
  const scoped = `demo:POST:/v1/transactions/:txnNo/refunds:${JSON.stringify({ txnNo })}:refund-before`;
  const fingerprint = createHash('sha256').update(canonicalJson(body)).digest('hex');
  await tc.storage.idempotency.claimIdempotencyKey(scoped, fingerprint, Date.now(), { owner: 'older-release', leaseUntil: Date.now() + 60_000, runId: 'run-before' });
  await tc.storage.idempotency.completeIdempotencyKey(scoped, 'older-release', { statusCode: 202, body: stored });
  const replayed = await api<{ refundNo: string; refund: Record<string, unknown> }>('POST', `/v1/transactions/${txnNo}/refunds`, body, { 'idempotency-key': 'refund-before' });
  t.equal(replayed.status, 202, 'replayed, not a 500 from the serializer');
  t.equal(replayed.headers.get('idempotent-replayed'), 'true');
  t.same(replayed.body, stored);
});
