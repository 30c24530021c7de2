import { randomUUID } from 'node:crypto';
import t from 'tap';
import { ManualClock } from '../../runtime/clock.ts';
import type { TradeCenterConfig } from '../../runtime/trade-center.ts';
import { QUOTE_KEPT_AFTER_EXPIRY_MS } from '../../runtime/transaction-host.ts';
import type { TransactionView } from '../../runtime/view.ts';
import type { RedisStorage } from '../../storage/redis/storage.ts';
import { FUEL_SALE, startHarness } from '../helpers/harness.ts';
import { startRedisServer } from '../helpers/redis-server.ts';

type ErrorBody = { error: { code: string } };

const T0 = Date.parse('2026-11-25T12:00:00+08:00');

/** Issue 21, must show 3: a quote never ordered leaves no actor snapshot; an ordered one behaves as before. */
t.test('quotes without an actor', async (t) => {
  let url = process.env.REDIS_URL ?? '';
  if (!url) {
    const server = await startRedisServer();
    t.teardown(() => server.stop());
    url = server.url;
  }
  const backends: [string, () => Partial<TradeCenterConfig>][] = [
    ['SQLite', () => ({})],
    ['Redis', () => ({ storage: { kind: 'redis', url, prefix: `tc-quotes-${randomUUID().slice(0, 8)}` } })],
  ];

  for (const [backend, config] of backends) {
    t.test(`a quote never ordered, re-quoted and refused an order, leaves a quote record and no snapshot (${backend})`, async (t) => {
      const h = await startHarness(t, { clock: new ManualClock(T0), config: config() });
      const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
      t.equal(started.status, 201);
      const txnNo = started.body.txnNo;
      t.match(started.body, { state: 'quoted', version: 1 });
      t.equal(await h.tc.storage.snapshots.load(txnNo), null, 'no snapshot');
      t.equal(h.tc.host.liveCount, 0, 'and no actor');
      t.equal((await h.tc.storage.quotes.load(txnNo))?.version, 1, 'one quote record');
      t.equal((await h.tc.storage.admin.stats(T0)).byState.quoted, 1, 'counted quoted (metrics)');
      const listed = await h.api<{ items: { txnNo: string; state: string }[] }>('GET', '/admin/transactions?state=quoted');
      t.same(listed.body.items.map((i) => [i.txnNo, i.state]), [[txnNo, 'quoted']], 'listed for the admin as before');
      const { tasks, ...got } = (await h.api<TransactionView & { tasks: unknown[] }>('GET', `/v1/transactions/${txnNo}`)).body;
      t.same(got, started.body, 'GET reads the quote record: the same view');
      t.same(tasks, [], 'with no tasks');

      const requoted = await h.api<TransactionView>('POST', `/v1/transactions/${txnNo}/quotes`, { items: [{ type: 'fuel', nozzleNo: 1, amount: 20000 }], paymentMethods: ['wechat'] });
      t.equal(requoted.status, 201);
      const stale = await h.api<ErrorBody>('POST', `/v1/transactions/${txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: started.body.quote.bestComboId });
      t.equal(stale.body.error.code, 'QUOTE_SUPERSEDED', 'the same refusal as before');
      t.equal(await h.tc.storage.snapshots.load(txnNo), null, 'still no snapshot');
      const quote = await h.tc.storage.quotes.load(txnNo);
      t.equal(quote?.version, 3, 'the re-quote and the refusal saved the quote record');
      t.equal(quote?.keepUntil, Date.parse(requoted.body.quote.expiresAt) + QUOTE_KEPT_AFTER_EXPIRY_MS, 'kept until the current quote expired, plus the margin');
      t.same((await h.tc.reads.journal(txnNo)).map((j) => j.event), ['xstate.init', 'REQUOTE', 'ORDER'], 'its journal as before');

      const inspected = await h.api<{ view: TransactionView; actors: unknown }>('GET', `/inspect/api/transactions/${txnNo}`);
      t.equal(inspected.status, 200, 'the inspector shows it');
      t.equal(inspected.body.view.state, 'quoted');
      t.equal(inspected.body.view.version, 3);

      if (backend === 'Redis') {
        const { handle } = h.tc.storage as RedisStorage;
        const ttl = await handle.redis.pttl(handle.k(txnNo, 'quote'));
        t.ok(ttl > 0 && ttl <= 10 * 60_000 + QUOTE_KEPT_AFTER_EXPIRY_MS, `the quote hash expires with the quote (${ttl} ms)`);
        t.ok((await handle.redis.pttl(handle.k(txnNo, 'journal'))) > 0, 'and its journal with it');
        t.equal(await handle.redis.exists(handle.k(txnNo, 'txn')), 0, 'no txn hash');
      }
    });

    t.test(`an ordered quote becomes a snapshot at the next version and sells as before (${backend})`, async (t) => {
      const h = await startHarness(t, { clock: new ManualClock(T0), config: config() });
      const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['stored_value'] });
      const txnNo = started.body.txnNo;
      const combo = started.body.quote.combos.find((c) => c.paymentMethod === 'stored_value')!;
      const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: combo.comboId });
      t.equal(ordered.status, 201);
      t.equal(ordered.body.state, 'ordered');
      t.ok(ordered.body.version > started.body.version, 'the version goes on from the quote record\'s');
      t.equal(await h.tc.storage.quotes.load(txnNo), null, 'the quote record is gone');
      t.equal((await h.tc.storage.admin.stats(T0)).byState.quoted, undefined, 'no longer counted quoted');
      t.equal((await h.tc.storage.snapshots.load(txnNo))?.version, ordered.body.version, 'the snapshot replaced it');
      const paid = await h.api<TransactionView>('POST', `/v1/transactions/${txnNo}/payments`, { legs: [{ method: 'stored_value', cardNo: 'C1', amount: ordered.body.payableAmount }] });
      t.equal(paid.body.state, 'completed');
      const events = (await h.tc.reads.journal(txnNo)).map((j) => j.event);
      t.same(events.slice(0, 2), ['xstate.init', 'ORDER'], 'the quoted journal is kept ahead of the order');
      if (backend === 'Redis') {
        const { handle } = h.tc.storage as RedisStorage;
        t.equal(await handle.redis.pttl(handle.k(txnNo, 'journal')), -1, 'the ordered journal is kept for good');
      }
    });

    t.test(`a checkout stores its quote with the order's first save: no quote record, the start journaled as by a quote (${backend})`, async (t) => {
      const h = await startHarness(t, { clock: new ManualClock(T0), config: config() });
      const saved: { kind: string; expected: number; events: string[] }[] = [];
      const { snapshots, quotes } = h.tc.storage;
      const save = snapshots.save.bind(snapshots);
      snapshots.save = (record, expected, journal) => {
        saved.push({ kind: 'snapshot', expected, events: journal.map((j) => j.event) });
        return save(record, expected, journal);
      };
      const saveQuote = quotes.save.bind(quotes);
      quotes.save = (record, expected, journal) => {
        saved.push({ kind: 'quote', expected, events: journal.map((j) => j.event) });
        return saveQuote(record, expected, journal);
      };
      const sale = await h.api<TransactionView>('POST', '/v1/checkout', { ...FUEL_SALE, paymentMethods: ['stored_value'], legs: [{ method: 'stored_value', cardNo: 'C1', amount: 'rest' }] });
      t.equal(sale.body.state, 'completed', JSON.stringify(sale.body));
      t.equal(h.tc.host.saves.quotes, 0, 'no quote record saved');
      t.same(saved[0], { kind: 'snapshot', expected: 0, events: ['xstate.init', 'ORDER'] }, 'the first save creates the snapshot with the start and the order');
      t.equal(saved.filter((s) => s.kind === 'quote').length, 0);
      const journal = await h.tc.reads.journal(sale.body.txnNo);
      t.same(journal.slice(0, 2).map((j) => j.event), ['xstate.init', 'ORDER'], 'the journal as before');
      t.match(journal[0], { actor: 'transaction', from: null, to: 'quoted', data: { input: { txnNo: sale.body.txnNo, userId: FUEL_SALE.userId } } }, 'the start entry a quote writes');
      t.equal(await h.tc.storage.quotes.load(sale.body.txnNo), null);
      t.ok(((await h.tc.storage.snapshots.load(sale.body.txnNo))?.version ?? 0) >= sale.body.version, 'stored as answered (its tasks may have moved it on since)');
    });

    t.test(`a quoted-only transaction cancelled becomes a cancelled snapshot, as before (${backend})`, async (t) => {
      const h = await startHarness(t, { clock: new ManualClock(T0), config: config() });
      const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
      const cancelled = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/cancel`, { reason: 'changed my mind' });
      t.equal(cancelled.status, 200);
      t.equal(cancelled.body.state, 'cancelled');
      t.equal((await h.tc.storage.snapshots.load(started.body.txnNo))?.state, 'cancelled');
      t.equal(await h.tc.storage.quotes.load(started.body.txnNo), null);
    });
  }

  t.test('an expired quote is refused QUOTE_EXPIRED while kept, then swept by the archiver\'s turn with its journal (SQLite)', async (t) => {
    const clock = new ManualClock(T0);
    const h = await startHarness(t, { clock });
    const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
    const txnNo = started.body.txnNo;
    const order = { quoteId: started.body.quote.quoteId, comboId: started.body.quote.bestComboId };
    clock.set(Date.parse(started.body.quote.expiresAt) + 1);
    const expired = await h.api<ErrorBody>('POST', `/v1/transactions/${txnNo}/order`, order);
    t.equal(expired.body.error.code, 'QUOTE_EXPIRED', 'the same refusal as before');
    await h.tc.archiver!.run();
    t.ok(await h.tc.storage.quotes.load(txnNo), 'kept through the margin');
    clock.set(Date.parse(started.body.quote.expiresAt) + QUOTE_KEPT_AFTER_EXPIRY_MS + 1);
    await h.tc.archiver!.run();
    t.equal(await h.tc.storage.quotes.load(txnNo), null, 'swept');
    t.equal(h.tc.archiver!.counters.quotesSwept, 1);
    t.same(await h.tc.storage.journal.entries(txnNo), [], 'with its journal');
    t.equal(await h.tc.storage.snapshots.load(txnNo), null, 'and never a snapshot');
  });
});
