import type { Test } from 'tap';
import { type StoreFactory, storeTests, T0 } from './helpers.ts';

/** The IdempotencyRecords behaviours every storage backend shows (storage/types.ts). */
export function idempotencyRecordsConformance(t: Test, make: StoreFactory): void {
  const withStore = storeTests(t, make);

  /** A lease of owner `owner` ending at `leaseUntil`, under run `runId`. */
  const leaseOf = (owner: string, leaseUntil: number, runId = `run-${owner}`) => ({ owner, leaseUntil, runId });
  const A = leaseOf('A', T0 + 60_000);

  withStore('claims an idempotency key once, and replays the stored answer for the same body', async (t, store) => {
    t.same(await store.idempotency.claimIdempotencyKey('k1', 'f1', T0, A), { status: 'claimed' });
    t.same(await store.idempotency.claimIdempotencyKey('k1', 'f1', T0, A), { status: 'in-progress', owner: 'A', leaseUntil: A.leaseUntil });
    t.same(await store.idempotency.claimIdempotencyKey('k1', 'f2', T0, A), { status: 'mismatch' });
    await store.idempotency.completeIdempotencyKey('k1', 'A', { statusCode: 201, body: { txnNo: 'T1', list: [] } });
    t.same(await store.idempotency.claimIdempotencyKey('k1', 'f1', T0, A), { status: 'done', response: { statusCode: 201, body: { txnNo: 'T1', list: [] } } });
    await store.idempotency.releaseIdempotencyKey('k1', 'A');
    t.equal((await store.idempotency.claimIdempotencyKey('k1', 'f1', T0, A)).status, 'done', 'a finished claim is never released');
    t.same(await store.idempotency.claimIdempotencyKey('k2', 'f1', T0, A), { status: 'claimed' });
    await store.idempotency.releaseIdempotencyKey('k2', 'A');
    t.same(await store.idempotency.claimIdempotencyKey('k2', 'f9', T0, A), { status: 'claimed' }, 'a released claim can be made again');
  });

  withStore('a claim whose lease ran out is taken over with its run id and transaction; a live one is in progress under its owner (issue 15)', async (t, store) => {
    t.same(await store.idempotency.claimIdempotencyKey('k', 'f1', T0, leaseOf('A', T0 + 1_000)), { status: 'claimed' });
    t.equal(await store.idempotency.noteIdempotencyTxn('k', 'B', 'T8'), false, 'only the owner notes its transaction');
    t.equal(await store.idempotency.noteIdempotencyTxn('k', 'A', 'T9'), true);
    t.same(await store.idempotency.claimIdempotencyKey('k', 'f1', T0 + 500, leaseOf('B', T0 + 5_000)), { status: 'in-progress', owner: 'A', leaseUntil: T0 + 1_000 });
    t.equal(await store.idempotency.renewIdempotencyKey('k', 'A', T0 + 2_000), true, 'the owner renews its lease');
    t.equal(await store.idempotency.renewIdempotencyKey('k', 'B', T0 + 9_000), false, 'another process cannot');
    t.same(await store.idempotency.claimIdempotencyKey('k', 'f1', T0 + 2_000, leaseOf('B', T0 + 5_000)), { status: 'in-progress', owner: 'A', leaseUntil: T0 + 2_000 }, 'a lease lasts to its last instant');
    t.same(await store.idempotency.claimIdempotencyKey('k', 'f2', T0 + 2_001, leaseOf('B', T0 + 5_000)), { status: 'mismatch' }, 'a lapsed claim still refuses another body');
    t.same(await store.idempotency.claimIdempotencyKey('k', 'f1', T0 + 2_001, leaseOf('B', T0 + 5_000)), { status: 'taken-over', runId: 'run-A', txnNo: 'T9' }, 'lapsed: taken over, keeping what the first run recorded');
    t.same(await store.idempotency.claimIdempotencyKey('k', 'f1', T0 + 2_002, leaseOf('C', T0 + 9_000)), { status: 'in-progress', owner: 'B', leaseUntil: T0 + 5_000 });

    await store.idempotency.completeIdempotencyKey('k', 'A', { statusCode: 201, body: { from: 'A' } });
    await store.idempotency.releaseIdempotencyKey('k', 'A');
    t.equal(await store.idempotency.renewIdempotencyKey('k', 'A', T0 + 9_000), false, 'the first owner lost it');
    t.same(await store.idempotency.claimIdempotencyKey('k', 'f1', T0 + 2_003, leaseOf('C', T0 + 9_000)), { status: 'in-progress', owner: 'B', leaseUntil: T0 + 5_000 }, 'the first owner can neither answer nor release it');
    await store.idempotency.completeIdempotencyKey('k', 'B', { statusCode: 201, body: { from: 'B' } });
    t.same(await store.idempotency.claimIdempotencyKey('k', 'f1', T0 + 9_001, leaseOf('C', T0 + 9_000)), { status: 'done', response: { statusCode: 201, body: { from: 'B' } } }, 'the new owner answers it');

    t.same(await store.idempotency.claimIdempotencyKey('bare', 'f1', T0, leaseOf('A', T0 + 1_000, 'run-bare')), { status: 'claimed' });
    t.same(await store.idempotency.claimIdempotencyKey('bare', 'f1', T0 + 1_001, leaseOf('B', T0 + 5_000)), { status: 'taken-over', runId: 'run-bare', txnNo: null }, 'no transaction noted: none handed on');
  });

  withStore('of three retries racing for a lapsed claim exactly one takes it over', async (t, store) => {
    await store.idempotency.claimIdempotencyKey('k', 'f1', T0, leaseOf('A', T0 + 1_000));
    const claims = await Promise.all(['B', 'C', 'D'].map((owner) => store.idempotency.claimIdempotencyKey('k', 'f1', T0 + 2_000, leaseOf(owner, T0 + 6_000))));
    t.equal(claims.filter((c) => c.status === 'taken-over').length, 1);
    t.equal(claims.filter((c) => c.status === 'in-progress').length, 2, 'the others see it running under the winner');
  });

  // Each backend keeps its own time here (Redis expires a key on its own clock), so the test runs
  // on real time: a short retention (long enough that a busy machine does not outlast it between
  // two calls), and the purge's cutoff is now minus that retention.
  const RETENTION_MS = 2_500;

  withStore(
    'a record younger than the retention is replayed; one older is gone and the key can be claimed afresh',
    async (t, store) => {
      const purge = () => store.idempotency.purgeIdempotency(Date.now() - RETENTION_MS, 100);
      const answer = { statusCode: 201, body: { txnNo: 'T1' } };
      const live = () => leaseOf('A', Date.now() + 60_000);
      await store.idempotency.claimIdempotencyKey('done', 'f1', Date.now(), live());
      await store.idempotency.completeIdempotencyKey('done', 'A', answer);
      await store.idempotency.claimIdempotencyKey('cut-off', 'f1', Date.now(), live());
      await purge();
      t.same(await store.idempotency.claimIdempotencyKey('done', 'f1', Date.now(), live()), { status: 'done', response: answer }, 'replayed while younger than the retention');
      t.same(await store.idempotency.claimIdempotencyKey('done', 'f2', Date.now(), live()), { status: 'mismatch' }, 'and still refuses another body');
      t.equal((await store.idempotency.claimIdempotencyKey('cut-off', 'f1', Date.now(), live())).status, 'in-progress');
      await new Promise((r) => setTimeout(r, RETENTION_MS + 200));
      await purge();
      t.same(await store.idempotency.claimIdempotencyKey('done', 'f2', Date.now(), live()), { status: 'claimed' }, 'older: another body claims the key afresh');
      t.same(await store.idempotency.claimIdempotencyKey('cut-off', 'f2', Date.now(), live()), { status: 'claimed' }, 'a claim a crash left running goes too');
    },
    { idempotencyRetentionMs: RETENTION_MS },
  );
}
