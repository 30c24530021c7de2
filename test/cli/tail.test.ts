import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import { HttpSource } from '../../bin/commands/http-source.ts';
import { runTail } from '../../bin/commands/tail.ts';
import type { LiveTransition, TradeSource } from '../../bin/commands/source.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { DEMO_KEY, eventually, FUEL_SALE, startHarness } from '../helpers/harness.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';
import { captureIo, sources } from './helpers.ts';
import { PATIENCE_MS } from '../helpers/deadlines.ts';

t.test('tail follows a sale live, from the server event stream and by polling the store journal', async (t) => {
  const h = await startHarness(t);
  for (const { mode, open } of sources(h)) {
    await t.test(mode, async (t) => {
      const source = open();
      t.teardown(() => source.close());
      const io = captureIo();
      const stop = new AbortController();
      let opened!: () => void;
      const open$ = new Promise<void>((resolve) => (opened = resolve));
      // A failing tail ends at the test's limit instead of hanging it.
      const limit = setTimeout(() => stop.abort(), PATIENCE_MS);
      t.teardown(() => clearTimeout(limit));
      const tail = runTail(source, io, { json: true, count: 2, signal: stop.signal, onOpen: () => opened() });
      await open$;
      const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
      await h.api('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-wechat' });
      t.equal(await tail, 2, 'it stops after --count transitions');
      const lines = io.stdout().trim().split('\n').map((l) => JSON.parse(l) as LiveTransition);
      t.same(
        lines.map((l) => [l.type, l.txnNo, l.actor, l.event]),
        [
          ['transition', started.body.txnNo, 'transaction', 'xstate.init'],
          ['transition', started.body.txnNo, 'transaction', 'ORDER'],
        ],
      );
      t.same([lines[0]!.from, lines[0]!.to, lines[1]!.from], [null, 'quoted', 'quoted']);
      t.match(lines[1]!.to, { ordering: String }, 'the order starts');
      t.ok(lines.every((l) => !Number.isNaN(Date.parse(l.at))), 'times are ISO-8601');
    });
  }
});

t.test('tail --txn shows one transaction only, as readable lines, until stopped', async (t) => {
  const h = await startHarness(t);
  const [server] = sources(h);
  const source = server!.open();
  t.teardown(() => source.close());
  const io = captureIo();
  const stop = new AbortController();
  const limit = setTimeout(() => stop.abort(), PATIENCE_MS);
  t.teardown(() => clearTimeout(limit));
  let opened!: () => void;
  const open$ = new Promise<void>((resolve) => (opened = resolve));
  const other = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  const mine = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  const tail = runTail(source, io, { txnNo: mine.body.txnNo, signal: stop.signal, onOpen: () => opened() });
  await open$;
  await h.api('POST', `/v1/transactions/${other.body.txnNo}/cancel`, {});
  await h.api('POST', `/v1/transactions/${mine.body.txnNo}/cancel`, {});
  await eventually(async () => io.stdout(), (out) => out.includes('cancelled'));
  stop.abort();
  t.equal(await tail, 0, 'stopped by its signal, not by a count');
  const lines = io.stdout().trim().split('\n');
  t.ok(lines.every((l) => l.includes(mine.body.txnNo)), 'only the transaction asked for');
  t.match(lines.at(-1), new RegExp(`${mine.body.txnNo}  transaction  CANCEL\\s+.* → cancelled$`));
});

/** Every entry of a SQLite file's journal, across transactions, in sequence. */
function journalInSequence(dbPath: string): { txnNo: string; actor: string; event: string }[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare<[], { txnNo: string; actor: string; event: string }>('SELECT txn_no AS txnNo, actor, event FROM journal ORDER BY seq').all();
  } finally {
    db.close();
  }
}

/** Runs `trade tail` against `source` until the test ends; resolves `opened` once it listens. */
function tailUntilEnd(t: Test, source: TradeSource, opts: { json?: boolean } = {}) {
  const io = captureIo();
  const stop = new AbortController();
  // A failing tail ends at the test's limit instead of hanging it.
  const limit = setTimeout(() => stop.abort(), PATIENCE_MS);
  let opened!: () => void;
  const open = new Promise<void>((resolve) => (opened = resolve));
  const done = runTail(source, io, { ...opts, signal: stop.signal, onOpen: () => opened() });
  t.teardown(async () => {
    clearTimeout(limit);
    stop.abort();
    await done;
  });
  return { io, open, stop: async () => (stop.abort(), done) };
}

t.test('tail reconnects after its connection drops and resumes where it was: nothing missed, nothing twice', async (t) => {
  const h = await startHarness(t);
  const proxy = await startTcpProxy(h.url);
  t.teardown(() => proxy.close());
  const { io, open, stop } = tailUntilEnd(t, new HttpSource(proxy.url, DEMO_KEY), { json: true });
  await open;
  const start = () => h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  const before = await start();
  await eventually(async () => io.stdout(), (out) => out.includes(before.body.txnNo));

  // The network drops the stream, and keeps the tail away until the transitions below are made.
  proxy.hold();
  proxy.cut();
  await eventually(async () => io.stderr(), (err) => err.includes('connection lost'));
  const away = await start();
  await h.api('POST', `/v1/transactions/${before.body.txnNo}/cancel`, {});
  proxy.release();
  await eventually(async () => io.stdout(), (out) => out.includes('"CANCEL"'));
  const after = await start();
  await eventually(async () => io.stdout(), (out) => out.includes(after.body.txnNo));
  await stop();

  const key = (e: { txnNo: string; actor: string; event: string }) => `${e.txnNo} ${e.actor} ${e.event}`;
  const printed = io.stdout().trim().split('\n').map((l) => JSON.parse(l) as LiveTransition);
  t.same(printed.map(key), journalInSequence(h.tc.config.dbPath).map(key), 'every transition of the journal, once each, in order');
  t.ok(printed.some((p) => p.txnNo === away.body.txnNo), `with ${away.body.txnNo}, started while it was away`);
  t.match(io.stderr(), /connection lost \(.+\); reconnecting to resume where it stopped\n/, 'the drop is said on stderr');
  t.notMatch(io.stderr(), /warning/, 'and no gap: the journal keeps everything');
});

t.test('tail warns when the stream cannot resume where its connection dropped, then follows live again', async (t) => {
  const redis = await startRedisServer();
  t.teardown(() => redis.stop());
  const prefix = `tc-tail-${randomUUID().slice(0, 8)}`;
  const h = await startHarness(t, { config: { storage: { kind: 'redis', url: redis.url, prefix } } });
  const proxy = await startTcpProxy(h.url);
  t.teardown(() => proxy.close());
  const { io, open, stop } = tailUntilEnd(t, new HttpSource(proxy.url, DEMO_KEY));
  await open;
  const start = () => h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  const before = await start();
  await eventually(async () => io.stdout(), (out) => out.includes(before.body.txnNo));

  proxy.hold();
  proxy.cut();
  await eventually(async () => io.stderr(), (err) => err.includes('connection lost'));
  const away = await start();
  // What the feed's cap does, exactly and now: only the latest save is kept.
  await h.tc.scaleOut!.storage.handle.redis.xtrim(`${prefix}:{idx}:feed`, 'MAXLEN', 1);
  proxy.release();
  await eventually(async () => io.stderr(), (err) => err.includes('warning'));
  const after = await start();
  await eventually(async () => io.stdout(), (out) => out.includes(after.body.txnNo));
  await stop();

  t.match(io.stderr(), /^warning: transitions may be missing: could not resume after event \d+-\d+, the server no longer keeps what followed it; following live again from \S+ \(each transaction's journal has them all: trade inspect TXN\)$/m, 'one clear line on stderr');
  t.notOk(io.stdout().includes(away.body.txnNo), `${away.body.txnNo}, started while it was away, is in the gap`);
  t.match(io.stdout(), new RegExp(`${after.body.txnNo}  transaction  xstate.init`), 'then live again');
});
