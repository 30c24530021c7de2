import { randomUUID } from 'node:crypto';
import t from 'tap';
import { TIMERS } from '../../machines/types.ts';
import { pino } from 'pino';
import { BullmqScheduler } from '../../runtime/bullmq-scheduler.ts';
import { systemClock } from '../../runtime/clock.ts';
import { Sentinel } from '../../runtime/sentinel.ts';
import { createRedisStorage } from '../../storage/redis/storage.ts';
import type { TradeCenterConfig } from '../../runtime/trade-center.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { eventually, orderedSale, startHarness } from '../helpers/harness.ts';
import { startRedisServer } from '../helpers/redis-server.ts';

/** A sentinel that looks every 100 ms and calls 300 ms of idleness with a timer 200 ms overdue stuck. */
const SENTINEL: Partial<TradeCenterConfig> = { sentinel: { scanMs: 100, idleMs: { default: 300 }, graceMs: 200, maxNudges: 3 }, queryAfterMs: 60 * 60_000 };

t.test('the sentinel', async (t) => {
  let url = process.env.REDIS_URL ?? '';
  if (!url) {
    const server = await startRedisServer();
    t.teardown(() => server.stop());
    url = server.url;
  }
  const redis = (): Partial<TradeCenterConfig> => ({ storage: { kind: 'redis', url, prefix: `tc-sentinel-${randomUUID().slice(0, 8)}` } });

  t.test('finds a transaction whose timer job was deleted and finishes it (must-show 5)', async (t) => {
    const h = await startHarness(t, { config: { ...SENTINEL, ...redis(), paymentTtlMs: 3_000 } });
    const scheduler = h.tc.scaleOut!.scheduler;
    const ordered = await orderedSale(h.api, 'wechat');
    const paying = await h.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.payableAmount }] });
    const jobId = BullmqScheduler.timerJobId(ordered.txnNo, TIMERS.paymentExpiry, Date.parse(paying.body.expiresAt!));
    t.equal(await scheduler.timers.remove(jobId), 1, 'the expiry wake-up is lost');
    const done = await eventually(() => h.api<TransactionView>('GET', `/v1/transactions/${ordered.txnNo}`), (r) => r.body.state === 'cancelled');
    t.equal(done.body.outcome?.message, 'payment expired', 'the sentinel fired the overdue timer');
    t.ok(h.tc.sentinel.counters.nudges >= 1, 'by a nudge');
    t.equal(scheduler.counters.timersFired, 0, 'not by a job');
    t.equal(h.tc.sims!.systems.paymentGateway.peekPayment(paying.body.legs[0]!.paymentNo)?.status, 'closed');
  });

  t.test('one process a period scans when many share a Redis', async (t) => {
    const store = createRedisStorage({ url, prefix: `tc-sentinel-${randomUUID().slice(0, 8)}` });
    t.teardown(() => store.close());
    const config = { scanMs: 60_000, idleMs: { default: 1_000 }, graceMs: 1_000, maxNudges: 3 };
    const sentinels = [1, 2, 3].map(() => new Sentinel(store.sentinel, { nudge: async () => null }, systemClock, config, pino({ level: 'silent' })));
    await Promise.all(sentinels.map((s) => s.scan()));
    t.equal(sentinels.reduce((n, s) => n + s.counters.scans, 0), 1, 'one scanned, two stood aside');
  });

  for (const [backend, config] of [['SQLite', () => ({})], ['Redis', redis]] as const) {
    t.test(`flags a transaction that nudges do not move as needing attention, and counts it stuck (${backend})`, async (t) => {
      // The card system takes the confirm, then does not answer for seconds: the call hangs.
      const h = await startHarness(t, { config: { ...SENTINEL, ...config(), callTimeoutMs: 20_000 } });
      const ordered = await orderedSale(h.api, 'stored_value');
      h.tc.sims!.faults.storedValue.configure({ confirm: { delayAfterEffectMs: 6_000 } });
      const paying = h.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'stored_value', cardNo: 'C1', amount: ordered.payableAmount }] });
      await eventually(async () => h.tc.sentinel.stuckCount(), (n) => n === 1);
      t.ok(h.tc.sentinel.counters.nudges >= 1, 'nudged before giving up');
      t.equal(h.tc.sentinel.counters.flagged, 1);
      const listed = await h.api<{ items: { txnNo: string }[] }>('GET', '/admin/transactions?needsAttention=true');
      t.same(listed.body.items.map((i) => i.txnNo), [ordered.txnNo], 'listed for a person');
      const metrics = await (await fetch(`${h.url}/metrics`)).text();
      t.match(metrics, /^tc_sentinel_flagged 1$/m, 'exposed as a metric');
      h.tc.sims!.faults.storedValue.clear();
      t.equal((await paying).body.state, 'completed', 'the card system answers at last: the sale completes');
      await eventually(
        async () => {
          await h.tc.sentinel.scan();
          return h.tc.sentinel.stuckCount();
        },
        (n) => n === 0,
      );
      t.same((await h.api<{ items: unknown[] }>('GET', '/admin/transactions?needsAttention=true')).body.items, [], 'and the flag is gone');
    });
  }
});
