import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import type { TransactionView } from '../../runtime/view.ts';
import { subscribe } from '../helpers/event-stream.ts';
import { eventually, FUEL_SALE, startHarness, type Harness } from '../helpers/harness.ts';
import { startRedisServer } from '../helpers/redis-server.ts';

/** Two Trade Centers on real ports sharing one Redis under one prefix: two processes of one deployment. */
async function twoProcesses(t: Test, url: string): Promise<{ a: Harness; b: Harness; prefix: string }> {
  const prefix = `tc-feed-${randomUUID().slice(0, 8)}`;
  const storage = { kind: 'redis' as const, url, prefix };
  return { a: await startHarness(t, { config: { storage } }), b: await startHarness(t, { config: { storage } }), prefix };
}

/** A stored-value sale made entirely through one process's API: start, order, pay. */
async function cardSale(h: Harness): Promise<string> {
  const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, userId: 'U4', paymentMethods: ['stored_value'] });
  const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-stored_value' });
  const paid = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/payments`, { legs: [{ method: 'stored_value', cardNo: 'C1', amount: ordered.body.payableAmount }] });
  if (paid.status !== 200) throw new Error(`payment failed: ${JSON.stringify(paid.body)}`);
  return started.body.txnNo;
}

t.test('the live event stream on Redis', async (t) => {
  const server = await startRedisServer();
  t.teardown(() => server.stop());

  t.test('a client of one process sees the transitions of a sale made entirely through another', async (t) => {
    const { a, b } = await twoProcesses(t, server.url);
    const stream = await subscribe(a.url);
    t.teardown(() => stream.abort());
    const txnNo = await cardSale(b);
    const line = (e: { actor: string; event: string; from: unknown; to: unknown }) => JSON.stringify([e.actor, e.event, e.from, e.to]);
    // Post-payment tasks may still move it (on either process): compare once both sides agree.
    const seen = await eventually(
      async () => ({ streamed: stream.messages.filter((m) => m.txnNo === txnNo).map(line), journal: (await b.tc.store.journal(txnNo)).map(line) }),
      ({ streamed, journal }) => streamed.length > 0 && streamed.join() === journal.join(),
      10_000,
    );
    t.ok(seen.journal.length >= 4, `the whole sale: ${seen.journal.length} transitions`);
    const first = stream.messages.find((m) => m.txnNo === txnNo)!;
    t.same(Object.keys(first).sort(), ['actor', 'at', 'data', 'event', 'from', 'to', 'txnNo', 'type'], 'the same message shape as on SQLite');
    t.match(first, { type: 'transition', txnNo, actor: 'transaction', event: 'xstate.init', from: null, to: 'quoted', at: Number });
    t.ok(stream.messages.some((m) => m.txnNo === txnNo && m.event === 'ORDER'), 'the order B took');
    t.ok(stream.messages.some((m) => m.txnNo === txnNo && m.actor === 'leg-1'), "the payment leg's own transitions");
  });

  t.test('?txnNo= keeps to one transaction of those another process moves', async (t) => {
    const { a, b } = await twoProcesses(t, server.url);
    const start = () => b.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
    const watched = await start();
    const stream = await subscribe(a.url, `?txnNo=${watched.body.txnNo}`);
    t.teardown(() => stream.abort());
    const other = await start();
    await b.api('POST', `/v1/transactions/${other.body.txnNo}/cancel`, {});
    await b.api('POST', `/v1/transactions/${watched.body.txnNo}/cancel`, {});
    await eventually(async () => stream.messages, (ms) => ms.some((m) => m.event === 'CANCEL'));
    t.same([...new Set(stream.messages.map((m) => m.txnNo))], [watched.body.txnNo], `nothing of ${other.body.txnNo}`);
    t.match(stream.messages.find((m) => m.event === 'CANCEL'), { actor: 'transaction', to: 'cancelled' });
  });

  t.test('each stream holds one Redis connection of its own, given back when the client leaves or the server closes', async (t) => {
    const { a, prefix } = await twoProcesses(t, server.url);
    const admin = new Redis(server.url);
    t.teardown(() => admin.quit());
    const readers = async () => String(await admin.client('LIST')).split('\n').filter((l) => l.includes(` name=${prefix}:feed `)).length;
    t.equal(await readers(), 0);
    const leaving = await subscribe(a.url);
    const staying = await subscribe(a.url);
    await eventually(readers, (n) => n === 2);
    t.pass('one blocking reader per stream, apart from the shared connection');
    leaving.abort();
    await eventually(readers, (n) => n === 1);
    t.pass('the reader of a client that left is closed');
    await a.close();
    await staying.ended;
    await eventually(readers, (n) => n === 0);
    t.pass('closing the server ends its streams and their readers');
  });
});
