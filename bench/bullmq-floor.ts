import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { BullmqScheduler } from '../runtime/bullmq-scheduler.ts';

/** The timer a sale arms at order time and drops once paid, and the tasks it then asks for (machines/post-payment-tasks.ts). */
const TIMER = 'paymentExpiry';
const TASKS = ['settlement', 'os-sync', 'marketing', 'campaign', 'points-award', 'growth', 'invoice', 'push', 'notify'];

/**
 * The other floor of the Redis checkout: what BullMQ alone costs a sale. Through the real
 * {@link BullmqScheduler}, each sale arms its payment-expiry timer (a delayed job), then drops it
 * and adds its nine post-payment task jobs, as the host does on the saves that ask for them; the
 * scheduler's own workers run every task job with work that does nothing. No engine, no
 * snapshot, no simulator: whatever a checkout adds is on top of this.
 */
export async function bullmqFloor(redisUrl: string, sales: number, concurrency: number, timed: { start(): void; stop(): void }): Promise<{ perSecond: number }> {
  const scheduler = new BullmqScheduler({ url: redisUrl, prefix: `{floor${Date.now()}}`, log: pino({ level: 'silent' }) });
  let ran = 0;
  await scheduler.start({
    fireTimer: async () => false,
    runTask: async () => {
      ran++;
      return { next: 'done' };
    },
    taskBackoff: () => 1000,
  });
  const sale = async (n: number) => {
    const txnNo = `TFLOOR${n}`;
    const expiry = { [TIMER]: Date.now() + 15 * 60_000 };
    await scheduler.saved(txnNo, {}, expiry, []);
    await scheduler.saved(txnNo, expiry, {}, TASKS);
  };
  const run = async (count: number, first: number) => {
    ran = 0;
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < count) await sale(first + next++);
    }));
    while (ran < count * TASKS.length) await new Promise((r) => setTimeout(r, 5));
  };
  try {
    await run(Math.min(200, sales), 1_000_000_000); // warm-up
    timed.start();
    const started = performance.now();
    await run(sales, 0);
    const seconds = (performance.now() - started) / 1000;
    timed.stop();
    return { perSecond: sales / seconds };
  } finally {
    await scheduler.stop();
  }
}
