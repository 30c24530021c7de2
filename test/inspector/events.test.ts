import t from 'tap';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { subscribe as subscribeTo } from '../helpers/event-stream.ts';
import { DEMO_KEY, eventually, FUEL_SALE, startHarness, type Harness } from '../helpers/harness.ts';

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
  t.same(ordered.map((m) => m.to), (await h.tc.store.journal(started.body.txnNo)).map((e) => e.to).slice(0, ordered.length), 'exactly the journal');
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
    config: { apiKeys: [{ key: DEMO_KEY, client: 'demo', scopes: ['trade', 'refund', 'admin'], merchants: ['*'] }, { key: 'pos-key', client: 'pos', scopes: ['trade'], merchants: ['M1'] }] },
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

t.test('stops listening to the event bus when the client goes, and ends open streams when the server closes', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  // Others listen to the bus too (the metrics): count the streams' subscriptions on top of them.
  const listeners = () => h.tc.host.transitions.observers.length;
  const baseline = listeners();
  const leaving = await subscribe(h);
  const staying = await subscribe(h);
  t.equal(listeners(), baseline + 2, 'each stream listens to the bus');
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
