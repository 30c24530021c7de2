import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CallKey } from '../../systems/contract.ts';
import type { AsyncChannel } from '../../systems/payment-gateway/port.ts';
import { DEMO_DATASET_URL, loadDataset, type Dataset } from '../../systems/sim/dataset.ts';
import { createSimulators, type SimulatorOptions, type Simulators } from '../../systems/sim/index.ts';

/** What a helper needs from a tap test: somewhere to register cleanup. */
export interface Cleanup {
  teardown(fn: () => unknown): void;
}

export const demo: Dataset = loadDataset(DEMO_DATASET_URL);

export const SECRET = 'test-callback-secret';

export function key(txnNo: string, step: string): CallKey {
  return { txnNo, step };
}

/** Simulators on a fresh in-memory store with the demo dataset, closed after the test. */
export function openSims(t: Cleanup, opts: Partial<SimulatorOptions> = {}): Simulators {
  const sims = createSimulators({
    dbPath: ':memory:',
    dataset: demo,
    clock: Date,
    callback: { baseUrl: 'http://127.0.0.1:9', secret: SECRET },
    ...opts,
  });
  t.teardown(() => sims.close());
  return sims;
}

export interface ReceivedCallback {
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
}

/**
 * A real HTTP server on port 0 standing in for the platform's callback endpoint. `answer` picks
 * the status of the n-th request (0-based), so a test can make the receiver fail first.
 */
export async function startReceiver(t: Cleanup, answer: (n: number) => number = () => 200) {
  const received: ReceivedCallback[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = received.length;
      received.push({ path: req.url ?? '', headers: req.headers, rawBody: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(answer(n), { 'content-type': 'application/json' }).end('{"code":"SUCCESS"}');
      for (const w of waiters.filter((w) => received.length >= w.count)) w.resolve();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // fetch keeps connections alive; without closing them server.close() waits for their timeout.
  const close = () => new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  t.teardown(close);
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    /** Resolves once `count` requests arrived; rejects after `timeoutMs`. */
    waitFor(count: number, timeoutMs = 5000): Promise<void> {
      if (received.length >= count) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${received.length} of ${count} callbacks arrived`)), timeoutMs);
        waiters.push({ count, resolve: () => { clearTimeout(timer); resolve(); } });
      });
    },
    close,
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `condition` until it holds; rejects after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

/** A pending payment request (wechat unless told) of `amountFen`, expiring in 15 minutes. */
export function paymentRequest(txnNo: string, amountFen = 27300, channel: AsyncChannel = 'wechat', legNo = 1) {
  return {
    paymentNo: `${txnNo}-P${legNo}`,
    txnNo,
    merchantId: 'M1',
    channel,
    amountFen,
    description: '92# fuel, S1 nozzle 3',
    expiresAt: new Date(Date.now() + 15 * 60_000).toISOString(),
  };
}
