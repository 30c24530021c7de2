import t from 'tap';
import { runTail } from '../../bin/commands/tail.ts';
import type { LiveTransition } from '../../bin/commands/source.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { eventually, FUEL_SALE, startHarness } from '../helpers/harness.ts';
import { captureIo, sources } from './helpers.ts';

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
      const limit = setTimeout(() => stop.abort(), 10_000);
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
  const limit = setTimeout(() => stop.abort(), 10_000);
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
