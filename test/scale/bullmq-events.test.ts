import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import t from 'tap';
import { BULLMQ_EVENTS, BullmqScheduler } from '../../runtime/bullmq-scheduler.ts';
import { startRedisServer } from '../helpers/redis-server.ts';

/**
 * BullMQ appends to each queue's event stream at every job step (added, waiting, active,
 * completed, ...): some nine task jobs a sale. Nothing reads the stream, so it is kept short
 * (BULLMQ_EVENTS), not at BullMQ's default of 10,000 entries a queue.
 */
t.test("the scheduler's queues keep a short BullMQ event stream however many jobs pass", async (t) => {
  const server = await startRedisServer();
  t.teardown(() => server.stop());
  const prefix = `{tc-events-${randomUUID().slice(0, 8)}-bull}`;
  const scheduler = new BullmqScheduler({ url: server.url, prefix, log: pino({ level: 'silent' }) });
  t.teardown(() => scheduler.stop());
  const probe = new Redis(server.url);
  t.teardown(() => probe.disconnect());
  const JOBS = 3_000;
  for (let i = 0; i < JOBS; i += 500) {
    await scheduler.tasks.addBulk(Array.from({ length: 500 }, (_, j) => ({ name: 'task', data: { txnNo: `T${i + j}`, task: 'points-award' }, opts: { jobId: `k-T${i + j}` } })));
  }
  t.equal(await scheduler.tasks.count(), JOBS, 'every job is there');
  const length = await probe.xlen(`${prefix}:tasks:events`);
  // MAXLEN ~ trims whole stream nodes (100 entries by default): a node's worth over at most.
  t.ok(length <= BULLMQ_EVENTS.events.maxLen + 100, `${length} events kept after ${JOBS} jobs added (cap ${BULLMQ_EVENTS.events.maxLen})`);
  t.ok(length >= BULLMQ_EVENTS.events.maxLen / 2, `${length}: the stream is there and capped, not empty`);
});
