import Fastify, { type FastifyInstance } from 'fastify';
import { SIMULATED_OPERATIONS, type SimulatedSystems } from '../systems/sim/index.ts';
import { post } from './drive.ts';

/** One downstream call a checkout made, its arguments as JSON so a replay can give them fresh keys. */
interface RecordedCall {
  system: string;
  op: string;
  args: string;
}

type Operations = Record<string, (...args: unknown[]) => Promise<unknown>>;

/**
 * The floor of the checkout benchmark: what the in-process simulators alone cost a checkout.
 *
 * One real checkout is made through the Trade Center at `checkoutUrl` while every simulator
 * operation it reaches is recorded (after the platform's caches, so only calls that really happen
 * are kept: the quote's reads, the order, the holds and the payment, and the nine post-payment
 * tasks). The route returned replays those calls in order, straight to the same simulators, for
 * each request, with the transaction and order numbers replaced by fresh ones so that every
 * replay is a new sale to the simulators (new idempotency keys, new locks, new records), and
 * answers with the recorded checkout's body. No engine, no storage, no validation: whatever the
 * platform does costs on top of this, so a target this route misses on the same machine cannot
 * be met with in-process simulators, however cheap the engine.
 */
export async function simulatorFloor(sims: SimulatedSystems, checkoutUrl: string, checkout: unknown, settle: () => Promise<void>): Promise<{ app: FastifyInstance; url: string; calls: number }> {
  const operations = sims as unknown as Record<string, Operations>;
  const calls: RecordedCall[] = [];
  const originals: [Operations, string, Operations[string]][] = [];
  for (const [system, ops] of Object.entries(SIMULATED_OPERATIONS)) {
    const sim = operations[system]!;
    for (const op of ops) {
      const original = sim[op]!;
      originals.push([sim, op, original]);
      sim[op] = (...args: unknown[]) => {
        calls.push({ system, op, args: JSON.stringify(args) });
        return original.apply(sim, args);
      };
    }
  }
  let answer: { txnNo: string };
  try {
    answer = await post<{ txnNo: string }>(checkoutUrl, checkout);
    await settle(); // the post-payment tasks run after the answer
  } finally {
    for (const [sim, op, original] of originals) sim[op] = original;
  }
  const order = calls.find((c) => c.op === 'createOrder');
  if (!order) throw new Error('the recorded checkout created no order');
  const orderNo = (JSON.parse(order.args) as [unknown, { orderNo: string }])[1].orderNo;
  const { txnNo } = answer;
  const mine = calls.filter((c) => c.args.includes(txnNo) || !c.args.includes('"txnNo"'));

  const app = Fastify();
  let sale = 0;
  app.post('/floor', async () => {
    const n = String(++sale).padStart(9, '0');
    const fresh = (args: string) => args.replaceAll(txnNo, `TFLOOR${n}`).replaceAll(orderNo, `OFLOOR${n}`);
    for (const c of mine) await operations[c.system]![c.op]!(...(JSON.parse(fresh(c.args)) as unknown[]));
    return answer;
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}/floor`, calls: mine.length };
}
