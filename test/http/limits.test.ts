import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { buildApp } from '../../http/app.ts';
import { DEFAULT_HTTP_LIMITS, httpLimitsFromEnv, type HttpLimits } from '../../http/limits.ts';
import { ConfigError } from '../../runtime/systems-config.ts';
import { createTradeCenter, DEFAULT_CONFIG } from '../../runtime/trade-center.ts';
import { loadDataset } from '../../systems/sim/index.ts';
import { DATASET_PATH, DEMO_KEY } from '../helpers/harness.ts';

/** A real server with `limits` on a loopback port; closed at teardown. */
async function serveWith(t: Test, limits: Partial<HttpLimits>): Promise<{ port: number }> {
  const dir = t.testdir();
  const tc = createTradeCenter(
    { ...DEFAULT_CONFIG, dataset: loadDataset(DATASET_PATH), dbPath: join(dir, 'trade.db'), simDbPath: join(dir, 'sim.db'), logLevel: 'silent' },
    { log: pino({ level: 'silent' }) },
  );
  const app = await buildApp(tc, { limits: { ...DEFAULT_HTTP_LIMITS, ...limits } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(async () => {
    await app.close();
    await tc.close();
  });
  return { port: (app.server.address() as { port: number }).port };
}

interface RawConnection {
  socket: Socket;
  /** Everything the server sent, once it closed the connection, and when that was (ms after opening). */
  closed: Promise<{ text: string; afterMs: number }>;
}

/** A raw TCP connection, so the test decides exactly which bytes go out and when. */
function rawConnection(t: Test, port: number): RawConnection {
  const opened = Date.now();
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined); // a reset by the server shows up as the close below
  t.teardown(() => void socket.destroy());
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const closed = new Promise<{ text: string; afterMs: number }>((resolve) => socket.on('close', () => resolve({ text, afterMs: Date.now() - opened })));
  return { socket, closed };
}

/** Resolves with `promise`, or rejects once `ms` passed: a bound on a wait, not a sleep. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

function bodyOf(response: string): unknown {
  return JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4));
}

t.test('a body sent one byte at a time is cut with 408 in the API error format once the request timeout passes (issue 17)', async (t) => {
  const requestTimeoutMs = 1_500;
  const { port } = await serveWith(t, { requestTimeoutMs });
  const { socket, closed } = rawConnection(t, port);
  socket.write(`POST /v1/transactions HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer ${DEMO_KEY}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`);
  // The slow client of the issue (a byte every 5 s), faster so that the connection is never idle.
  const drip = setInterval(() => socket.write(' '), 200);
  t.teardown(() => clearInterval(drip));
  const { text, afterMs } = await within(15_000, 'the slow request was not cut', closed);
  clearInterval(drip);
  t.match(text, /^HTTP\/1\.1 408 /, 'answered 408');
  t.match(text, /\r\nConnection: close\r\n/i);
  t.same(bodyOf(text), { error: { code: 'REQUEST_TIMEOUT', message: 'the request did not arrive within the request timeout' } });
  t.ok(afterMs >= requestTimeoutMs - 100, `not before the timeout (${afterMs} ms)`);
  // Node looks for overdue requests ten times per timeout: well within two timeouts even on a busy machine.
  t.ok(afterMs < requestTimeoutMs * 2 + 1_000, `cut ${afterMs} ms after it began, timeout ${requestTimeoutMs} ms`);
});

t.test('a connection that sends nothing is closed after the connection timeout', async (t) => {
  const { port } = await serveWith(t, { connectionTimeoutMs: 500 });
  const { closed } = rawConnection(t, port);
  const { afterMs } = await within(15_000, 'the silent connection was not closed', closed);
  t.ok(afterMs >= 400 && afterMs < 10_000, `closed after ${afterMs} ms`);
});

t.test('an idle keep-alive connection is closed after the keep-alive timeout', async (t) => {
  const { port } = await serveWith(t, { keepAliveTimeoutMs: 300 });
  const { socket, closed } = rawConnection(t, port);
  socket.write('GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n');
  const { text, afterMs } = await within(15_000, 'the idle keep-alive connection was not closed', closed);
  t.match(text, /^HTTP\/1\.1 200 /, 'the request was answered first');
  t.ok(afterMs < 10_000, `then closed after ${afterMs} ms, not the default 72 s of fastify`);
});

t.test('a body over the body limit is refused with 413 in the API error format', async (t) => {
  const { port } = await serveWith(t, { bodyLimitBytes: 1_000 });
  const res = await fetch(`http://127.0.0.1:${port}/v1/transactions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${DEMO_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ scene: 'merchant_pos', padding: 'x'.repeat(2_000) }),
  });
  t.equal(res.status, 413);
  t.same(((await res.json()) as { error: { code: string } }).error.code, 'PAYLOAD_TOO_LARGE');
});

t.test('connections past the connection cap are closed unanswered while those within it are served', async (t) => {
  const { port } = await serveWith(t, { maxConnections: 2 });
  const held = [rawConnection(t, port), rawConnection(t, port)];
  // Each held connection is accepted (it got an answer) and stays open.
  for (const { socket } of held) socket.write('GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n');
  const answered = await within(15_000, 'the connections within the cap were not served', Promise.all(held.map((c) => new Promise<void>((resolve) => c.socket.once('data', () => resolve())))));
  t.equal(answered.length, 2);
  const extra = rawConnection(t, port);
  extra.socket.write('GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n');
  const { text } = await within(15_000, 'the connection past the cap was not closed', extra.closed);
  t.equal(text, '', 'the third connection got no answer');
  held[0]!.socket.destroy();
  await held[0]!.closed;
  // Node counts connections as they close: poll until the freed place is taken by a new one.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const again = rawConnection(t, port);
    again.socket.write('GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n');
    const { text: answer } = await within(15_000, 'a connection after one closed got no close', again.closed);
    if (answer.startsWith('HTTP/1.1 200')) break;
    if (Date.now() > deadline) t.fail('no connection was served after one of the held ones closed');
    await new Promise((r) => setTimeout(r, 20));
  }
  t.pass('once one closed, a new connection is served');
});

t.test('limits come from TRADE_HTTP_* over the defaults, flags over both, and a bad value names its key', async (t) => {
  t.same(httpLimitsFromEnv({}), DEFAULT_HTTP_LIMITS);
  const limits = httpLimitsFromEnv({ TRADE_HTTP_REQUEST_TIMEOUT_MS: '2000', TRADE_HTTP_MAX_CONNECTIONS: '10' }, { maxConnections: 20 });
  t.equal(limits.requestTimeoutMs, 2_000);
  t.equal(limits.maxConnections, 20, 'the flag wins over the environment');
  t.equal(limits.bodyLimitBytes, DEFAULT_HTTP_LIMITS.bodyLimitBytes);
  let refusal: unknown = null;
  try {
    httpLimitsFromEnv({ TRADE_HTTP_BODY_LIMIT_BYTES: '0', TRADE_HTTP_KEEP_ALIVE_TIMEOUT_MS: 'soon' });
  } catch (err) {
    refusal = err;
  }
  t.ok(refusal instanceof ConfigError, 'a bad value stops the start');
  t.match(String(refusal), /TRADE_HTTP_BODY_LIMIT_BYTES: not a positive integer: "0"/);
  t.match(String(refusal), /TRADE_HTTP_KEEP_ALIVE_TIMEOUT_MS: not a positive integer: "soon"/);
});
