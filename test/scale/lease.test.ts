import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import { RedisLeases } from '../../runtime/lease.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { FUEL_SALE, startHarness } from '../helpers/harness.ts';
import { startRedisServer } from '../helpers/redis-server.ts';

t.test('transaction leases in Redis', async (t) => {
  let url = process.env.REDIS_URL ?? '';
  if (!url) {
    const server = await startRedisServer();
    t.teardown(() => server.stop());
    url = server.url;
  }
  const leasesOf = (t: Test, prefix: string, ttlMs = 10_000, waitMs = 5_000) => {
    const redis = new Redis(url);
    t.teardown(() => redis.quit());
    return { redis, leases: new RedisLeases(redis, { lease: (x) => `${prefix}:{${x}}:lease`, txn: (x) => `${prefix}:{${x}}:txn` }, { ttlMs, waitMs }) };
  };

  t.test('a second process waits for a held lease and takes it once released', async (t) => {
    const prefix = `lease-${randomUUID().slice(0, 8)}`;
    const a = leasesOf(t, prefix).leases;
    const b = leasesOf(t, prefix).leases;
    const held = await a.acquire('T1');
    t.equal(held.storedVersion, null, 'no transaction stored yet');
    let taken = false;
    const waiting = b.acquire('T1').then((lease) => ((taken = true), lease));
    await new Promise((r) => setTimeout(r, 150));
    t.equal(taken, false, 'still waiting while the first holds it');
    await held.release();
    const second = await waiting;
    t.ok(second.held());
    t.ok(b.contended > 0, 'it had to wait');
    await second.release();
  });

  t.test('a lease of a process that died lapses after its TTL; a lease held is renewed past it', async (t) => {
    const prefix = `lease-${randomUUID().slice(0, 8)}`;
    const { redis, leases } = leasesOf(t, prefix, 200, 3_000);
    await redis.set(`${prefix}:{T1}:lease`, 'a-dead-process', 'PX', 200);
    const taken = await leases.acquire('T1');
    t.ok(taken.held(), 'taken once the dead holder’s lease lapsed');
    const impatient = leasesOf(t, prefix, 200, 400).leases;
    await new Promise((r) => setTimeout(r, 500));
    await t.rejects(impatient.acquire('T1'), { code: 'CORE_SYSTEM_UNAVAILABLE' }, 'renewed: still held after twice its TTL');
    await taken.release();
    t.equal(await redis.exists(`${prefix}:{T1}:lease`), 0, 'released');
  });

  t.test('a process whose copy is older than the store’s reloads it and applies the command to the stored one', async (t) => {
    const storage = { kind: 'redis' as const, url, prefix: `fence-${randomUUID().slice(0, 8)}` };
    const a = await startHarness(t, { config: { storage } });
    const b = await startHarness(t, { config: { storage } });
    const started = await a.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
    t.equal(started.status, 201);
    const requote = (amount: number) => ({ items: [{ type: 'fuel', nozzleNo: 1, amount }], paymentMethods: ['wechat'] });
    // A quote is stored without an actor (issue 21): A's copy comes into memory with its first command.
    t.equal((await a.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/quotes`, requote(15000))).status, 201);
    t.equal(a.tc.host.liveCount, 1, 'process A keeps the transaction in memory');
    const onB = await b.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/quotes`, requote(20000));
    t.equal(onB.status, 201);
    const onA = await a.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/quotes`, requote(25000));
    t.equal(onA.status, 201, 'A applied it, on the copy B stored');
    t.equal(onA.body.version, onB.body.version + 1);
    t.equal(onA.body.quote.lines[0]?.amount, 25000);
    t.equal(a.tc.host.reapplied, 0, 'caught when A took the lease (stored version ahead of its copy), before any write could conflict');
    const journal = await a.tc.storage.journal.entries(started.body.txnNo);
    t.equal(journal.filter((j) => j.event === 'REQUOTE').length, 3, 'every re-quote is in the journal');
  });
});
