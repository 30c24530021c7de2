import t from 'tap';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { eventually, orderedSale, startHarness } from '../helpers/harness.ts';

t.test('idle actors are evicted from memory and come back from the store on the next request', async (t) => {
  const clock = new ManualClock();
  const { api, tc } = await startHarness(t, { clock });
  const ordered = await orderedSale(api, 'stored_value');
  t.equal(tc.host.liveCount, 1);
  t.equal(tc.host.evictIdle(), 0, 'a recently used actor stays');
  clock.advance(61_000);
  t.equal(tc.host.evictIdle(), 1);
  t.equal(tc.host.liveCount, 0);
  const view = await api<TransactionView>('GET', `/v1/transactions/${ordered.txnNo}`);
  t.equal(view.body.state, 'ordered', 'read straight from the store');
  const paid = await api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, {
    legs: [{ method: 'stored_value', cardNo: 'C1', amount: ordered.payableAmount }],
  });
  t.equal(paid.body.state, 'completed', 'a command rehydrates the actor and carries on');
  t.equal(paid.body.version > view.body.version, true);
});

t.test('a timer that fell due while the server was down fires when it starts again', async (t) => {
  const clock = new ManualClock();
  const dir = t.testdir();
  const first = await startHarness(t, { clock, dir, config: { paymentTtlMs: 60_000 } });
  const ordered = await orderedSale(first.api, 'wechat');
  const paying = await first.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.payableAmount }] });
  t.equal(paying.body.state, 'paying');
  await first.close();

  clock.advance(10 * 60_000);
  const second = await startHarness(t, { clock, dir, config: { paymentTtlMs: 60_000 } });
  const done = await eventually(() => second.api<TransactionView>('GET', `/v1/transactions/${ordered.txnNo}`), (r) => r.body.state === 'cancelled');
  t.equal(done.body.outcome?.message, 'payment expired');
  t.equal(second.tc.sims!.systems.paymentGateway.peekPayment(paying.body.legs[0]!.paymentNo)?.status, 'closed');
});

t.test('an actor whose background save is still in flight is not evicted, however long ago it was used', async (t) => {
  const clock = new ManualClock();
  const { api, tc } = await startHarness(t, { clock });
  const ordered = await orderedSale(api, 'stored_value');
  const paid = await api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, {
    legs: [{ method: 'stored_value', cardNo: 'C1', amount: ordered.payableAmount }],
  });
  t.equal(paid.body.state, 'completed');
  // After the refund's 202 its legs carry on in the background: the save that ends that work is
  // held at the store, with the journal already taken from the actor and no command running.
  const store = tc.storage.snapshots;
  const save = store.save.bind(store);
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let entered!: () => void;
  const holding = new Promise<void>((resolve) => (entered = resolve));
  let armed = false;
  store.save = async (record, version, journal) => {
    if (armed && !record.working) {
      armed = false;
      entered();
      await held;
    }
    return save(record, version, journal);
  };
  const refund = await api<{ refundNo: string }>('POST', `/v1/transactions/${ordered.txnNo}/refunds`, { reason: 'returned' });
  t.equal(refund.status, 202);
  armed = true;
  await holding;
  clock.advance(10 * 60_000);
  t.equal(tc.host.evictIdle(), 0, 'a write in flight keeps the actor');
  t.equal(tc.host.liveCount, 1);
  release();
  const done = await eventually(
    () => api<{ status: string }>('GET', `/v1/transactions/${ordered.txnNo}/refunds/${refund.body.refundNo}`),
    (r) => r.body.status === 'succeeded',
  );
  t.equal(done.body.status, 'succeeded');
  await eventually(
    async () => tc.host.evictIdle(),
    (evicted) => evicted === 1,
  );
  t.equal(tc.host.liveCount, 0, 'once stored it goes');
  const view = await api<TransactionView>('GET', `/v1/transactions/${ordered.txnNo}`);
  t.equal(view.body.refundedAmount, ordered.payableAmount, 'the store holds the refund the evicted actor finished');
});
