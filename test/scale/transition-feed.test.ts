import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import type { TransactionView } from '../../runtime/view.ts';
import { subscribe } from '../helpers/event-stream.ts';
import { DEMO_KEY, eventually, FUEL_SALE, startHarness, type Harness } from '../helpers/harness.ts';
import { startRedisServer } from '../helpers/redis-server.ts';

/** Two Trade Centers on real ports sharing one Redis under one prefix: two processes of one deployment. */
async function twoProcesses(t: Test, url: string): Promise<{ a: Harness; b: Harness; prefix: string }> {
  const prefix = `tc-feed-${randomUUID().slice(0, 8)}`;
  const storage = { kind: 'redis' as const, url, prefix };
  return { a: await startHarness(t, { config: { storage } }), b: await startHarness(t, { config: { storage } }), prefix };
}

/** Orders two feed ids (`<ms>-<seq>`). */
function feedOrder(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am === bm ? Number(as - bs) : am < bm ? -1 : 1;
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
      async () => ({ streamed: stream.messages.filter((m) => m.txnNo === txnNo).map(line), journal: (await b.tc.storage.journal.entries(txnNo)).map(line) }),
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

  const line = (e: { txnNo: string; actor: string; event: string; from: unknown; to: unknown }) => JSON.stringify([e.txnNo, e.actor, e.event, e.from, e.to]);
  /** What the journals of `txnNos` hold, in order, as lines. */
  const journals = async (h: Harness, txnNos: string[]) => (await Promise.all(txnNos.map((txnNo) => h.tc.storage.journal.entries(txnNo)))).flatMap((entries, i) => entries.map((e) => line({ ...e, txnNo: txnNos[i]! })));
  /** The messages of `txnNos`, one transaction after the other (each in stream order). */
  const streamed = <T extends { txnNo: string }>(messages: T[], txnNos: string[]): T[] => txnNos.flatMap((txnNo) => messages.filter((m) => m.txnNo === txnNo));
  const resumeFrom = (lastEventId: string) => ({ authorization: `Bearer ${DEMO_KEY}`, 'last-event-id': lastEventId });

  t.test('a client that reconnects to any process with Last-Event-ID gets exactly the transitions made while it was away', async (t) => {
    const { a, b } = await twoProcesses(t, server.url);
    const first = await subscribe(a.url);
    t.teardown(() => first.abort());
    const before = await cardSale(b);
    // Post-payment tasks may still move it: wait until the stream has all its journal holds.
    await eventually(async () => ({ seen: streamed(first.messages, [before]).map(line), stored: await journals(b, [before]) }), ({ seen, stored }) => seen.length > 0 && seen.join() === stored.join());
    const lastEventId = first.lastEventId()!;
    t.match(lastEventId, /^\d+-\d+$/, 'the last id is a whole save: a feed id');
    first.abort();

    const away = [await cardSale(b), await cardSale(a)];
    const again = await subscribe(b.url, '', resumeFrom(lastEventId));
    t.teardown(() => again.abort());
    const all = [before, ...away];
    const seen = await eventually(
      async () => ({ streamed: streamed([...first.messages, ...again.messages], all).map(line), stored: await journals(b, all) }),
      ({ streamed, stored }) => streamed.join() === stored.join(),
      10_000,
    );
    t.ok(seen.stored.length >= 12, `${seen.stored.length} transitions of three sales`);
    const had = streamed(first.messages, [before]).length;
    t.same(streamed(again.messages, [before]).map(line), (await journals(b, [before])).slice(had), `of ${before}, only what its tasks added after the first connection's ${had}`);
    t.ok(streamed(again.messages, away).length > 0, 'the two sales made while away');
    t.same(again.gaps, [], 'no gap');
    t.same(again.messages.map((m) => m.txnNo).filter((txnNo) => !all.includes(txnNo)), [], 'nothing else');
  });

  t.test('a client cut off inside a save resumes with the rest of that save, neither skipping nor repeating', async (t) => {
    const { a, b } = await twoProcesses(t, server.url);
    const first = await subscribe(a.url);
    t.teardown(() => first.abort());
    const txnNo = await cardSale(b);
    await eventually(async () => ({ seen: streamed(first.messages, [txnNo]).map(line), stored: await journals(b, [txnNo]) }), ({ seen, stored }) => seen.length > 0 && seen.join() === stored.join());
    // A save of several transitions: every one but its last names its place inside the save.
    const cut = first.events.findIndex((e) => e.id?.includes('/'));
    t.ok(cut >= 0, 'the sale has a save of several transitions');
    const { id } = first.events[cut]!;
    const feedId = id!.split('/')[0]!;
    t.equal(first.events.slice(cut + 1).find((e) => !e.id!.includes('/'))?.id, feedId, 'the last transition of that save carries the plain feed id');
    const resumed = await subscribe(b.url, '', resumeFrom(id!));
    t.teardown(() => resumed.abort());
    const expected = first.events.slice(cut + 1);
    await eventually(async () => resumed.events.length, (n) => n >= expected.length);
    t.same(resumed.events.slice(0, expected.length), expected, 'exactly the events after the one it had, with the same ids');
  });

  t.test('resuming from a save the capped feed has trimmed sends a gap event first, then goes on live', async (t) => {
    const { a, b, prefix } = await twoProcesses(t, server.url);
    const admin = new Redis(server.url);
    t.teardown(() => admin.quit());
    const first = await subscribe(a.url);
    t.teardown(() => first.abort());
    const before = await cardSale(b);
    await eventually(async () => streamed(first.messages, [before]).length, (n) => n >= 4);
    const lastEventId = first.lastEventId()!;
    first.abort();
    const away = await cardSale(b);
    // What the cap does with MAXLEN ~, exactly and now: only the latest save is kept.
    await admin.xtrim(`${prefix}:{idx}:feed`, 'MAXLEN', 1);
    const [[latest]] = (await admin.xrevrange(`${prefix}:{idx}:feed`, '+', '-', 'COUNT', 1)) as [[string, string[]]];
    const resumed = await subscribe(a.url, '', resumeFrom(lastEventId));
    t.teardown(() => resumed.abort());
    const after = await cardSale(b);
    await eventually(async () => streamed(resumed.messages, [after]).length, (n) => n >= 4);
    const [gap, ...live] = resumed.events;
    t.match(gap, { id: /^\d+-\d+$/, message: { type: 'gap', lastEventId, reason: 'trimmed', at: Number } }, 'first the gap');
    // Tasks of the sale made while away may still add saves: the stream resumes at the latest when it opened.
    t.ok(feedOrder(gap!.id!, latest) >= 0, `its id is where the stream resumed: ${gap!.id} (the latest save was ${latest} at the trim)`);
    t.ok(live.every((e) => feedOrder(e.id!.split('/')[0]!, gap!.id!) > 0), 'then only saves after it');
    t.equal(resumed.gaps.length, 1, 'one gap');
    t.same(streamed(resumed.messages, [before, away]).filter((m) => m.event === 'xstate.init'), [], 'then live: nothing replayed from before the gap');
  });

  t.test('an id newer than anything the feed holds is a gap too, not a silent wait for ids to catch up', async (t) => {
    const { a, b } = await twoProcesses(t, server.url);
    const future = `${Date.now() + 86_400_000}-0`;
    const stream = await subscribe(a.url, '', resumeFrom(future));
    t.teardown(() => stream.abort());
    const txnNo = await cardSale(b);
    await eventually(async () => streamed(stream.messages, [txnNo]).length, (n) => n > 0);
    t.match(stream.events[0]?.message, { type: 'gap', lastEventId: future, reason: 'unknown' });
  });

  t.test('a malformed id is refused with 400 INVALID_REQUEST before anything is streamed', async (t) => {
    const { a } = await twoProcesses(t, server.url);
    for (const bad of ['12', 'abc', '1-2/0', '1-2/x', '1-2-3', '99999999999999999999-0', '1-2/3/4']) {
      const stream = await subscribe(a.url, '', resumeFrom(bad));
      t.equal(stream.status, 400, bad);
      t.match(JSON.parse(await stream.body()), { error: { code: 'INVALID_REQUEST', message: /last-event-id/ } }, `${bad}: the API's error envelope`);
    }
    const byQuery = await subscribe(a.url, '?lastEventId=nope');
    t.equal(byQuery.status, 400, '?lastEventId= too');
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
