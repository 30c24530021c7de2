import t from 'tap';
import type { TransactionView } from '../../runtime/view.ts';
import { FUEL_SALE, startHarness } from '../helpers/harness.ts';
import { PATIENCE_MS } from '../helpers/deadlines.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { waitUntil } from '../helpers/tethered-spawn.ts';

interface Ack {
  txnNo: string;
  version: number;
  state: string;
}

t.test('Redis killed and restarted under load loses no acknowledged transaction (must-show 4)', async (t) => {
  const redis = await startRedisServer({ appendonly: true });
  t.teardown(() => redis.stop());
  const h = await startHarness(t, { config: { storage: { kind: 'redis', url: redis.url, prefix: 'tc-restart' } } });
  const acks: Ack[] = [];
  let failures = 0;
  let running = true;
  const client = async (n: number) => {
    for (let i = 0; running; i++) {
      try {
        const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, userId: 'U4', items: [{ type: 'fuel', nozzleNo: 1, amount: 500 + n }], paymentMethods: ['stored_value'] });
        if (started.status !== 201) throw new Error(String(started.status));
        acks.push({ txnNo: started.body.txnNo, version: started.body.version, state: started.body.state });
        const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-stored_value' });
        if (ordered.status !== 201) throw new Error(String(ordered.status));
        acks.push({ txnNo: ordered.body.txnNo, version: ordered.body.version, state: ordered.body.state });
        const paid = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/payments`, { legs: [{ method: 'stored_value', cardNo: 'C1', amount: ordered.body.payableAmount }] });
        if (paid.status !== 200) throw new Error(String(paid.status));
        acks.push({ txnNo: paid.body.txnNo, version: paid.body.version, state: paid.body.state });
      } catch {
        failures++; // not acknowledged: nothing is promised about it
      }
    }
  };
  const clients = Promise.all([1, 2, 3, 4, 5, 6].map(client));
  // Load before and after the kill is counted, not timed: on a busy machine 1.5 s may pass
  // before the first answer.
  await waitUntil('no answer before the kill', async () => acks.length >= 12, PATIENCE_MS, 20);
  const before = acks.length;
  await redis.kill();
  await new Promise((r) => setTimeout(r, 500));
  await redis.restart();
  await waitUntil('no answer after the restart', async () => acks.length >= before + 12, PATIENCE_MS, 20);
  running = false;
  await clients;
  t.ok(before > 0 && acks.length > before, `load before (${before} answers) and after the restart (${acks.length - before} more; ${failures} requests failed)`);

  const lost: string[] = [];
  for (const ack of acks) {
    const stored = await h.tc.storage.snapshots.load(ack.txnNo);
    if (!stored || stored.version < ack.version) lost.push(`${ack.txnNo}@${ack.version} (${ack.state})`);
  }
  t.same(lost, [], 'every acknowledged version is in Redis after its restart');
  const card = h.tc.sims!.systems.storedValue.peekCard('C1')!;
  t.equal(card.lockedFen, 0, 'no card lock left');
});
