import t from 'tap';
import { IdempotencyConflictError } from '../../systems/sim/store.ts';
import { key, openSims } from './helpers.ts';

t.test('a lock moves the amount from available to locked, confirm deducts it, cancel returns it', async (t) => {
  const { systems: { storedValue: sv } } = openSims(t);
  t.same(await sv.lock(key('T1', 'leg-1:lock'), { lockKey: 'T1:leg-1', cardNo: 'C1', amountFen: 30000 }), { ok: true, lockKey: 'T1:leg-1' });
  t.match(await sv.getCard('C1'), { availableFen: 70000, lockedFen: 30000 });
  t.same(await sv.confirm(key('T1', 'leg-1:confirm'), { lockKey: 'T1:leg-1' }), { ok: true });
  t.match(await sv.getCard('C1'), { availableFen: 70000, lockedFen: 0 });

  await sv.lock(key('T2', 'leg-1:lock'), { lockKey: 'T2:leg-1', cardNo: 'C1', amountFen: 5000 });
  t.same(await sv.cancel(key('T2', 'leg-1:cancel'), { lockKey: 'T2:leg-1' }), { ok: true });
  t.match(await sv.getCard('C1'), { availableFen: 70000, lockedFen: 0 });
});

t.test('a repeated lock with the same key returns the first result and locks once', async (t) => {
  const { systems: { storedValue: sv }, store } = openSims(t);
  const req = { lockKey: 'T1:leg-1', cardNo: 'C1', amountFen: 30000 };
  const first = await sv.lock(key('T1', 'leg-1:lock'), req);
  const again = await sv.lock(key('T1', 'leg-1:lock'), req);
  t.same(again, first);
  t.match(await sv.getCard('C1'), { availableFen: 70000, lockedFen: 30000 });
  t.equal(store.effects({ system: 'storedValue', verb: 'lock' }).length, 1);
});

t.test('concurrent duplicate locks lock the amount exactly once', async (t) => {
  const { systems: { storedValue: sv }, store } = openSims(t);
  const req = { lockKey: 'T1:leg-1', cardNo: 'C1', amountFen: 30000 };
  const results = await Promise.all(Array.from({ length: 8 }, () => sv.lock(key('T1', 'leg-1:lock'), req)));
  for (const r of results) t.same(r, { ok: true, lockKey: 'T1:leg-1' });
  t.match(await sv.getCard('C1'), { availableFen: 70000, lockedFen: 30000 });
  t.equal(store.effects({ system: 'storedValue' }).length, 1);
});

t.test('a lock under a new key for an existing lockKey changes nothing', async (t) => {
  const { systems: { storedValue: sv }, store } = openSims(t);
  const req = { lockKey: 'T1:leg-1', cardNo: 'C1', amountFen: 30000 };
  await sv.lock(key('T1', 'leg-1:lock'), req);
  t.same(await sv.lock(key('T1', 'leg-1:lock:retry'), req), { ok: true, lockKey: 'T1:leg-1' });
  t.match(await sv.getCard('C1'), { availableFen: 70000, lockedFen: 30000 });
  t.equal(store.effects({ system: 'storedValue' }).length, 1);
});

t.test('a cancel without a lock succeeds and a lock arriving after it is refused (no hanging lock)', async (t) => {
  const { systems: { storedValue: sv }, store } = openSims(t);
  t.same(await sv.cancel(key('T1', 'leg-1:cancel'), { lockKey: 'T1:leg-1' }), { ok: true });
  t.match(store.effects({ system: 'storedValue' }), [{ verb: 'cancel', detail: 'empty-rollback' }]);
  const late = await sv.lock(key('T1', 'leg-1:lock'), { lockKey: 'T1:leg-1', cardNo: 'C1', amountFen: 30000 });
  t.match(late, { ok: false, code: 'LOCK_CANCELLED' });
  t.match(await sv.getCard('C1'), { availableFen: 100000, lockedFen: 0 });
  t.match(await sv.confirm(key('T1', 'leg-1:confirm'), { lockKey: 'T1:leg-1' }), { ok: false, code: 'LOCK_CANCELLED' });
});

t.test('cancel after confirm is refused with ALREADY_CONFIRMED and the money stays spent', async (t) => {
  const { systems: { storedValue: sv } } = openSims(t);
  await sv.lock(key('T1', 'leg-1:lock'), { lockKey: 'T1:leg-1', cardNo: 'C1', amountFen: 30000 });
  await sv.confirm(key('T1', 'leg-1:confirm'), { lockKey: 'T1:leg-1' });
  t.match(await sv.cancel(key('T1', 'leg-1:cancel'), { lockKey: 'T1:leg-1' }), { ok: false, code: 'ALREADY_CONFIRMED' });
  t.match(await sv.getCard('C1'), { availableFen: 70000, lockedFen: 0 });
});

t.test('confirm after cancel is refused with LOCK_CANCELLED and the money stays available', async (t) => {
  const { systems: { storedValue: sv } } = openSims(t);
  await sv.lock(key('T1', 'leg-1:lock'), { lockKey: 'T1:leg-1', cardNo: 'C1', amountFen: 30000 });
  await sv.cancel(key('T1', 'leg-1:cancel'), { lockKey: 'T1:leg-1' });
  t.match(await sv.confirm(key('T1', 'leg-1:confirm'), { lockKey: 'T1:leg-1' }), { ok: false, code: 'LOCK_CANCELLED' });
  t.match(await sv.getCard('C1'), { availableFen: 100000, lockedFen: 0 });
});

t.test('confirm and cancel under new keys are no-ops once the lock is settled', async (t) => {
  const { systems: { storedValue: sv }, store } = openSims(t);
  await sv.lock(key('T1', 'leg-1:lock'), { lockKey: 'T1:leg-1', cardNo: 'C1', amountFen: 100 });
  await sv.confirm(key('T1', 'leg-1:confirm'), { lockKey: 'T1:leg-1' });
  t.same(await sv.confirm(key('T1', 'leg-1:confirm:2'), { lockKey: 'T1:leg-1' }), { ok: true });
  await sv.lock(key('T2', 'leg-1:lock'), { lockKey: 'T2:leg-1', cardNo: 'C1', amountFen: 100 });
  await sv.cancel(key('T2', 'leg-1:cancel'), { lockKey: 'T2:leg-1' });
  t.same(await sv.cancel(key('T2', 'leg-1:cancel:2'), { lockKey: 'T2:leg-1' }), { ok: true });
  t.match(await sv.getCard('C1'), { availableFen: 99900, lockedFen: 0 });
  t.same(store.effects({ system: 'storedValue' }).map((e) => e.verb), ['lock', 'confirm', 'lock', 'cancel']);
});

t.test('a confirm with no lock at all is refused with LOCK_NOT_FOUND', async (t) => {
  const { systems: { storedValue: sv } } = openSims(t);
  t.match(await sv.confirm(key('T1', 'leg-1:confirm'), { lockKey: 'T1:leg-1' }), { ok: false, code: 'LOCK_NOT_FOUND' });
});

t.test('a lock beyond the available balance is refused and locks nothing', async (t) => {
  const { systems: { storedValue: sv }, store } = openSims(t);
  const refused = await sv.lock(key('T1', 'leg-1:lock'), { lockKey: 'T1:leg-1', cardNo: 'C3', amountFen: 1201 });
  t.match(refused, { ok: false, code: 'INSUFFICIENT_BALANCE' });
  t.match(await sv.getCard('C3'), { availableFen: 1200, lockedFen: 0 });
  t.same(store.effects(), []);
  t.match(await sv.lock(key('T2', 'leg-1:lock'), { lockKey: 'T2:leg-1', cardNo: 'NOPE', amountFen: 1 }), { ok: false, code: 'CARD_NOT_FOUND' });
});

t.test('locked money cannot be locked twice by different transactions', async (t) => {
  const { systems: { storedValue: sv } } = openSims(t);
  t.match(await sv.lock(key('T1', 'leg-1:lock'), { lockKey: 'T1:leg-1', cardNo: 'C3', amountFen: 1000 }), { ok: true });
  t.match(await sv.lock(key('T2', 'leg-1:lock'), { lockKey: 'T2:leg-1', cardNo: 'C3', amountFen: 1000 }), { ok: false, code: 'INSUFFICIENT_BALANCE' });
});

t.test('reusing a key for a different request is a caller bug and throws', async (t) => {
  const { systems: { storedValue: sv } } = openSims(t);
  await sv.lock(key('T1', 'leg-1:lock'), { lockKey: 'T1:leg-1', cardNo: 'C1', amountFen: 100 });
  await t.rejects(sv.lock(key('T1', 'leg-1:lock'), { lockKey: 'T1:leg-1', cardNo: 'C1', amountFen: 200 }), IdempotencyConflictError);
  await t.rejects(sv.lock(key('T1', 'leg-1:lock'), { lockKey: 'T1:leg-1', cardNo: 'C1', amountFen: 0 }), RangeError);
});
