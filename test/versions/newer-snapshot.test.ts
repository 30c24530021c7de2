import t from 'tap';
import { MACHINE_VERSIONS } from '../../machines/versions.ts';
import type { PersistedActor } from '../../machines/snapshot-versions.ts';
import { ScriptedRun } from '../../simulation/scenarios.ts';

/** The stored snapshot as a newer deploy would have written it: the transaction machine one version ahead. */
function fromNewerVersion(snapshot: unknown): PersistedActor {
  const s = structuredClone(snapshot) as PersistedActor;
  return { ...s, machineVersion: MACHINE_VERSIONS.transaction.version + 1 };
}

t.test('a snapshot written by a newer version is refused and flagged, and nothing else changes (issue 22)', async (t) => {
  const d = await ScriptedRun.open();
  t.teardown(() => d.close());
  await d.start({ userId: 'U4', items: [{ type: 'fuel', nozzleNo: 1, amount: 20_000 }], paymentMethods: ['wechat'] });
  await d.order();
  await d.pay(['wechat']);
  const newer = d.txnNo;
  // Another sale in the same store, whose payment expires at the same time: it must not be held up.
  await d.start({ userId: 'U4', items: [{ type: 'fuel', nozzleNo: 1, amount: 10_000 }], paymentMethods: ['wechat'] });
  await d.order();
  const other = d.txnNo;
  d.txnNo = newer;

  const written = fromNewerVersion((await d.stored()).snapshot);
  await d.redeployWith(written);
  const before = await d.stored();
  const callsBefore = d.world.calls.length;

  const pay = await d.world.request('POST', `/v1/transactions/${newer}/cancel`, { reason: 'changed my mind' });
  t.equal(pay.status, 409, 'a command is refused');
  t.equal((pay.body as { error: { code: string } }).error.code, 'SNAPSHOT_TOO_NEW', 'with a code that says why');
  const view = await d.world.request('GET', `/v1/transactions/${newer}`);
  t.equal(view.status, 200, 'a read still answers, from the stored data');
  t.equal((view.body as { state: string }).state, 'paying');

  // The payment deadline passes: the refused transaction's timer fires and is refused too; the other one expires as usual.
  await d.advance(16 * 60_000);
  const after = await d.world.tc.storage.snapshots.load(newer);
  t.ok(after, 'still stored');
  t.same(after!.snapshot, written, 'the snapshot is left exactly as the newer version wrote it');
  t.same(
    { state: after!.state, stateValue: after!.stateValue, timers: after!.timers, working: after!.working, atRest: after!.atRest, orderNo: after!.orderNo },
    { state: before.state, stateValue: before.stateValue, timers: before.timers, working: before.working, atRest: before.atRest, orderNo: before.orderNo },
    'its state, timers and indexes are as they were',
  );
  t.equal(after!.needsAttention, true, 'flagged for a person through the save record');
  const journal = await d.world.tc.storage.journal.entries(newer);
  t.same(
    journal.filter((e) => e.event === 'SNAPSHOT_REFUSED').map((e) => e.data['reason']),
    [`transaction ${newer} was stored by transaction v${MACHINE_VERSIONS.transaction.version + 1} (at transaction); this version runs v${MACHINE_VERSIONS.transaction.version} and leaves it untouched`],
    'the refusal is journalled once, however often it is refused',
  );
  t.same(
    d.world.calls.slice(callsBefore).filter((c) => c.txnNo === newer),
    [],
    'no downstream call was made for it (the payment was not closed by the older machines)',
  );
  const otherNow = await d.world.tc.storage.snapshots.load(other);
  t.equal(otherNow?.state, 'cancelled', 'the other sale in the store expired as usual');
});

t.test('a payment leg written by a newer version refuses the whole transaction, with the child named (issue 22)', async (t) => {
  const d = await ScriptedRun.open();
  t.teardown(() => d.close());
  await d.start({ userId: 'U4', items: [{ type: 'fuel', nozzleNo: 1, amount: 20_000 }], paymentMethods: ['wechat'] });
  await d.order();
  await d.pay(['wechat']);
  const snapshot = structuredClone((await d.stored()).snapshot) as PersistedActor;
  snapshot.children!['leg-1']!.snapshot!.machineVersion = MACHINE_VERSIONS.paymentLeg.version + 1;
  await d.redeployWith(snapshot);
  await d.customerPays(1);
  const record = await d.stored();
  t.same(record.snapshot, snapshot, 'the callback changed nothing');
  t.equal(record.needsAttention, true);
  const refused = (await d.world.tc.storage.journal.entries(d.txnNo)).find((e) => e.event === 'SNAPSHOT_REFUSED');
  t.match(refused?.data['reason'], /stored by paymentLeg v2 \(at leg-1\)/);
});
