import t from 'tap';
import { Redis } from 'ioredis';
import { fromPromise } from 'xstate';
import type { CallResult, KeyedInput } from '../../machines/calls.ts';
import type { BenefitHold } from '../../machines/types.ts';
import type { ProvidedMachine } from '../../runtime/transaction-host.ts';
import { RedisReplyGate } from '../../simulation/redis-backend.ts';
import { simulate } from '../../simulation/run.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { waitUntil } from '../helpers/tethered-spawn.ts';

// The simulation on the Redis backend: a private redis-server, the run under a prefix of its own.

t.test('on Redis, a seed with crashes breaks no invariant, replays to the same digest and leaves no key behind', async (t) => {
  const server = await startRedisServer();
  t.teardown(() => server.stop());
  const options = { seed: 11, sales: 40, faults: 'default' as const, crashes: 2, backend: 'redis' as const, redisUrl: server.url };
  const first = await simulate(options);
  t.same(first.violations, [], 'no invariant broken');
  t.equal(first.crashes, 2, 'both crashes happened');
  const second = await simulate(options);
  t.equal(second.digest, first.digest, 'same digest on replay');
  t.equal(second.simulatedMs, first.simulatedMs, 'same simulated time');
  // Hops and flushes count waits, not the run's work: a boot's file reads may split a batch of replies.
  const { hops: _a, 'redis:flushes': _fa, ...firstCounters } = first.counters;
  const { hops: _b, 'redis:flushes': _fb, ...secondCounters } = second.counters;
  t.comment(`on Redis: ${first.counters['redis:commands']} commands, ${first.counters['redis:flushes']} flushes, ${first.wallMs} ms`);
  t.same(secondCounters, firstCounters, 'the same workload, faults and crashes happened');
  const probe = new Redis(server.url);
  t.teardown(() => probe.disconnect());
  t.equal(await probe.dbsize(), 0, "each run deleted its own prefix's keys");
});

t.test('on Redis too, a compensation that skips a release is caught: locks-settled', async (t) => {
  const server = await startRedisServer();
  t.teardown(() => server.stop());
  const skipRelease = (m: ProvidedMachine) =>
    m.provide({ actors: { releaseHold: fromPromise<CallResult<{}>, KeyedInput<{ hold: BenefitHold }>>(async () => ({ ok: true, at: 0 })) } });
  const result = await simulate({ seed: 5, sales: 60, faults: 'none', crashes: 0, backend: 'redis', redisUrl: server.url, adjustMachine: skipRelease });
  t.ok(result.violations.some((v) => v.invariant === 'locks-settled'), 'locks-settled is reported');
});

t.test('the reply gate holds replies until a flush, hands them over in send order, and a cut client loses what it had not written', async (t) => {
  const server = await startRedisServer();
  t.teardown(() => server.stop());
  const client = new Redis(server.url, { lazyConnect: true, enableAutoPipelining: true });
  t.teardown(() => client.disconnect());
  await client.connect();
  const gate = new RedisReplyGate();
  const cut = gate.attach(client);
  const order: string[] = [];
  const written = client.set('k1', 'a').then(() => order.push('set k1'));
  // Auto-pipelined: written on the next immediate, so this one goes out before the cut below.
  const read = client.get('k1').then((v) => order.push(`get k1 = ${v}`));
  await new Promise<void>((resolve) => setImmediate(resolve));
  t.ok(gate.pending(), 'commands are out');
  // The replies arrive in real time, but nothing is handed over before a flush.
  await waitUntil('both replies did not arrive', async () => gate.held() === 2, 5_000, 5);
  t.same(order, [], 'no reply handed over yet');
  await gate.flush();
  await Promise.all([written, read]);
  t.same(order, ['set k1', 'get k1 = a'], 'handed over in send order');
  t.notOk(gate.pending(), 'nothing out after the flush');

  // Issued before the cut but not yet written (its auto-pipeline waits for an immediate): lost.
  void client.set('k2', 'lost');
  cut();
  void client.set('k3', 'lost too');
  await new Promise<void>((resolve) => setImmediate(resolve));
  t.notOk(gate.pending(), 'nothing of the cut client went out');
  const probe = new Redis(server.url);
  t.teardown(() => probe.disconnect());
  t.same(await probe.mget('k1', 'k2', 'k3'), ['a', null, null], 'only what was written before the cut is stored');
});
