import Database from 'better-sqlite3';
import t from 'tap';
import { ManualClock } from '../../runtime/clock.ts';
import { SqliteTransitionFeed } from '../../storage/sqlite/transition-feed.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { subscribe as subscribeTo } from '../helpers/event-stream.ts';
import { DEMO_KEY, eventually, FUEL_SALE, keyEntry, startHarness, type Harness } from '../helpers/harness.ts';

const NOON = Date.parse('2026-11-25T12:00:00+08:00');

const subscribe = (h: Harness, query?: string, headers?: Record<string, string>) => subscribeTo(h.url, query, headers);

/** Status of a one-off request to the stream, which is then dropped. */
async function statusOf(h: Harness, query: string): Promise<number | undefined> {
  const stream = await subscribe(h, query, {});
  stream.abort();
  return stream.status;
}

const start = (h: Harness) => h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });

t.test('streams every transition as it happens, in the shape trade tail reads', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const stream = await subscribe(h);
  t.equal(stream.status, 200);
  t.match(stream.type, 'text/event-stream');
  const started = await start(h);
  const first = await eventually(async () => stream.messages.find((m) => m.txnNo === started.body.txnNo), (m) => m !== undefined);
  t.same(Object.keys(first!).sort(), ['actor', 'at', 'data', 'event', 'from', 'to', 'txnNo', 'type']);
  t.match(first, { type: 'transition', txnNo: started.body.txnNo, actor: 'transaction', event: 'xstate.init', from: null, to: 'quoted', at: NOON });

  await h.api('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-wechat' });
  const ordered = await eventually(async () => stream.messages.filter((m) => m.txnNo === started.body.txnNo), (ms) => ms.some((m) => m.to === 'ordered'));
  t.same(
    ordered.map((m) => m.event).slice(0, 2),
    ['xstate.init', 'ORDER'],
    'in the order they happened',
  );
  const journal = await h.tc.storage.journal.entries(started.body.txnNo);
  t.same(ordered.map((m) => m.to), journal.map((e) => e.to).slice(0, ordered.length), 'exactly the journal');
  t.same(
    stream.events.filter((e) => e.message.type === 'transition' && e.message.txnNo === started.body.txnNo).map((e) => e.id),
    journal.map((e) => String(e.seq)).slice(0, ordered.length),
    'each with its journal sequence number as its id',
  );
  stream.abort();
});

t.test('sends only the transactions asked for with ?txnNo=', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const watched = await start(h);
  const stream = await subscribe(h, `?txnNo=${watched.body.txnNo}`);
  const other = await start(h);
  await h.api('POST', `/v1/transactions/${watched.body.txnNo}/cancel`, {});
  await eventually(async () => stream.messages, (ms) => ms.some((m) => m.event === 'CANCEL'));
  t.same([...new Set(stream.messages.map((m) => m.txnNo))], [watched.body.txnNo], `nothing of ${other.body.txnNo}`);
  stream.abort();
});

t.test('takes the admin key as a header or as ?key= (EventSource sends no headers), and refuses others', async (t) => {
  const h = await startHarness(t, {
    clock: new ManualClock(NOON),
    config: { apiKeys: [keyEntry('pos-key', { system: 'pos', scopes: ['trade'], merchants: ['M1'] })] },
  });
  t.equal(await statusOf(h, ''), 401, 'no key');
  t.equal(await statusOf(h, '?key=nope'), 401, 'unknown key');
  t.equal(await statusOf(h, '?key=pos-key'), 403, 'a key without the admin scope');
  t.equal((await h.api('GET', `/inspect/api/statecharts?key=${DEMO_KEY}`, undefined, { authorization: '' })).status, 401, 'no other route takes a key in its URL');
  const stream = await subscribe(h, `?key=${DEMO_KEY}`, {});
  t.equal(stream.status, 200);
  const started = await start(h);
  await eventually(async () => stream.messages, (ms) => ms.some((m) => m.txnNo === started.body.txnNo));
  stream.abort();
});

t.test('stops listening for stored saves when the client goes, and ends open streams when the server closes', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const feed = h.tc.storage.feed;
  if (!(feed instanceof SqliteTransitionFeed)) throw new Error('the harness runs on SQLite');
  const listeners = () => feed.followers;
  const baseline = listeners();
  const leaving = await subscribe(h);
  const staying = await subscribe(h);
  await eventually(async () => listeners(), (n) => n === baseline + 2);
  t.pass('each stream follows the feed');
  leaving.abort();
  await start(h);
  await eventually(async () => staying.messages.length, (n) => n > 0);
  staying.abort();
  await eventually(async () => listeners(), (n) => n === baseline);
  t.pass('no subscriber is left once both clients are gone');

  const open = await subscribe(h);
  await h.close();
  await open.ended;
  t.pass('the stream ended with the server instead of holding its close');
});

/** A transition as compared across streams and the journal. */
const line = (e: { txnNo: string; actor: string; event: string; to: unknown }) => JSON.stringify([e.txnNo, e.actor, e.event, e.to]);

/**
 * The harness's SQLite journal read straight from its file, in sequence: what the stream's ids
 * (on SQLite, journal sequence numbers) are checked against.
 */
function journalRows(h: Harness): { seq: number; txnNo: string; actor: string; event: string; to: unknown }[] {
  const db = new Database(h.tc.config.dbPath, { readonly: true });
  try {
    return db
      .prepare<[], { seq: number; txn_no: string; actor: string; event: string; to_state: string | null }>('SELECT seq, txn_no, actor, event, to_state FROM journal ORDER BY seq')
      .all()
      .map((r) => ({ seq: r.seq, txnNo: r.txn_no, actor: r.actor, event: r.event, to: r.to_state === null ? null : JSON.parse(r.to_state) }));
  } finally {
    db.close();
  }
}

/** Every journal entry after `seq`, as lines. */
async function journalAfter(h: Harness, seq: number): Promise<string[]> {
  return journalRows(h).filter((r) => r.seq > seq).map(line);
}

/** The highest journal sequence number so far. */
async function lastSeq(h: Harness): Promise<number> {
  return journalRows(h).at(-1)?.seq ?? 0;
}

t.test('a client that reconnects with Last-Event-ID gets exactly the transitions stored while it was away, then live ones', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const first = await subscribe(h);
  const a = await start(h);
  await h.api('POST', `/v1/transactions/${a.body.txnNo}/order`, { quoteId: a.body.quote.quoteId, comboId: 'c-wechat' });
  await eventually(async () => ({ seen: first.messages.map(line), stored: await journalAfter(h, 0) }), ({ seen, stored }) => seen.length > 0 && seen.join() === stored.join());
  const lastEventId = first.lastEventId()!;
  t.equal(lastEventId, String(await lastSeq(h)), 'the last id is the last journal entry it was sent');
  first.abort();

  const b = await start(h);
  await h.api('POST', `/v1/transactions/${a.body.txnNo}/cancel`, {});
  const missed = await journalAfter(h, Number(lastEventId));
  t.ok(missed.length >= 2, `${missed.length} transitions while it was away`);

  const again = await subscribe(h, '', { authorization: `Bearer ${DEMO_KEY}`, 'last-event-id': lastEventId });
  await eventually(async () => again.messages.map(line), (seen) => seen.length >= missed.length);
  t.same(again.messages.map(line), missed, 'the missed transitions, in order: none of those it had, none left out');
  t.same(again.gaps, [], 'no gap: the journal keeps everything');
  await h.api('POST', `/v1/transactions/${b.body.txnNo}/cancel`, {});
  await eventually(async () => again.messages, (ms) => ms.some((m) => m.txnNo === b.body.txnNo && m.event === 'CANCEL'));
  t.same([...first.messages, ...again.messages].map(line), await journalAfter(h, 0), 'both connections together: the whole journal, each entry once');
  again.abort();
});

t.test('?lastEventId= resumes like the header, and the header wins when both come (EventSource keeps its first URL)', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const a = await start(h);
  const afterA = await lastSeq(h);
  const b = await start(h);
  const afterB = await lastSeq(h);
  const byQuery = await subscribe(h, `?lastEventId=${afterA}`);
  await eventually(async () => byQuery.messages, (ms) => ms.length > 0);
  t.same(byQuery.messages.map(line), await journalAfter(h, afterA), `everything after ${afterA}: ${b.body.txnNo} started`);
  const both = await subscribe(h, `?lastEventId=${afterA}`, { authorization: `Bearer ${DEMO_KEY}`, 'last-event-id': String(afterB) });
  await h.api('POST', `/v1/transactions/${a.body.txnNo}/cancel`, {});
  await eventually(async () => both.messages, (ms) => ms.some((m) => m.event === 'CANCEL'));
  t.same(both.messages.map(line), await journalAfter(h, afterB), 'after the header\'s id, not the query\'s');
  byQuery.abort();
  both.abort();
});

t.test('an id beyond the end of the journal gets a gap event, then the stream goes on live', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  await start(h);
  const end = await lastSeq(h);
  const stream = await subscribe(h, '', { authorization: `Bearer ${DEMO_KEY}`, 'last-event-id': '999999' });
  const later = await start(h);
  await eventually(async () => stream.messages, (ms) => ms.some((m) => m.txnNo === later.body.txnNo));
  t.same(stream.events[0], { id: String(end), message: { type: 'gap', lastEventId: '999999', reason: 'unknown', at: NOON } }, 'first, the gap, its id where the stream resumed');
  t.same(stream.messages.map(line), await journalAfter(h, end), 'then every transition from there');
  stream.abort();
});

t.test('a malformed id is refused with 400 INVALID_REQUEST, as a header or as ?lastEventId=', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  for (const bad of ['abc', '1-2', '-1', '1.5', '12/3', '1234567890123456']) {
    for (const [how, stream] of [
      ['header', await subscribe(h, '', { authorization: `Bearer ${DEMO_KEY}`, 'last-event-id': bad })],
      ['query', await subscribe(h, `?lastEventId=${encodeURIComponent(bad)}`)],
    ] as const) {
      t.equal(stream.status, 400, `${how} ${bad}`);
      t.match(JSON.parse(await stream.body()), { error: { code: 'INVALID_REQUEST', message: /last-?event-?id/i } }, `${how} ${bad}: the API's error envelope`);
    }
  }
});
