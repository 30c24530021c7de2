import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import { Agent, request } from 'undici';
import { buildApp } from '../../http/app.ts';
import { createTradeCenter, DEFAULT_CONFIG } from '../../runtime/trade-center.ts';
import { loadDataset } from '../../systems/sim/index.ts';

t.test('a request in flight when the server starts closing is answered, and the server then closes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trade-close-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tc = createTradeCenter(
    { ...DEFAULT_CONFIG, dataset: loadDataset(new URL('../../demo/dataset.json', import.meta.url).pathname), dbPath: join(dir, 'trade.db'), simDbPath: join(dir, 'sim.db'), logLevel: 'silent' },
    { log: pino({ level: 'silent' }) },
  );
  t.teardown(() => tc.close());
  const app = await buildApp(tc);
  let answerNow: () => void = () => undefined;
  let arrived: () => void = () => undefined;
  const inFlight = new Promise<void>((resolve) => (arrived = resolve));
  // Stands for any slow handler: a callback whose transaction is busy, a checkout waiting on a system.
  app.get('/test/slow', async () => {
    await new Promise<void>((resolve) => {
      answerNow = resolve;
      arrived();
    });
    return { ok: true };
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  await tc.start();
  const origin = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  // A client that keeps connections alive as long as the server lets it, as a gateway's would.
  const client = new Agent({ keepAliveTimeout: 60_000, keepAliveMaxTimeout: 60_000 });
  t.teardown(() => client.close());
  const answer = request(`${origin}/test/slow`, { dispatcher: client });
  await inFlight;
  let closed = false;
  const closing = app.close().then(() => (closed = true));
  await new Promise((r) => setTimeout(r, 50));
  answerNow();
  const res = await answer;
  t.equal(res.statusCode, 200, 'the request in flight is answered');
  t.equal(res.headers.connection, 'close', 'and told the connection ends');
  t.same(await res.body.json(), { ok: true });
  // Well under the client's 60 s keep-alive, which is what a close that waited for it would take.
  let limit: NodeJS.Timeout | undefined;
  await Promise.race([closing, new Promise((r) => (limit = setTimeout(r, 30_000)))]);
  clearTimeout(limit);
  t.ok(closed, 'the server closed once the last answer was sent, without waiting for the client to leave');
});
