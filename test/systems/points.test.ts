import t from 'tap';
import { key, openSims } from './helpers.ts';

const lock1000 = { lockKey: 'T1:points', userId: 'U1', points: 1000 };

t.test('getAccount answers the spendable balance and the rule; a user without an account gets null', async (t) => {
  const { systems: { points } } = openSims(t);
  t.same(await points.getAccount('U1'), { userId: 'U1', balance: 5000, rule: { pointsPerYuan: 100, step: 100, maxRatioBp: 1000 } });
  t.match(await points.getAccount('U3'), { balance: 0 });
  t.equal(await points.getAccount('U4'), null);
});

t.test('lock moves points from the balance to locked, deduct consumes them, release returns them', async (t) => {
  const { systems: { points } } = openSims(t);
  t.same(await points.lock(key('T1', 'points:lock'), lock1000), { ok: true, lockKey: 'T1:points' });
  t.match(points.peekPointsAccount('U1'), { balance: 4000, locked: 1000 });
  t.match(await points.getAccount('U1'), { balance: 4000 }, 'locked points are not spendable');
  t.same(await points.deduct(key('T1', 'points:deduct'), { lockKey: 'T1:points' }), { ok: true });
  t.match(points.peekPointsAccount('U1'), { balance: 4000, locked: 0 });

  await points.lock(key('T2', 'points:lock'), { ...lock1000, lockKey: 'T2:points', points: 500 });
  t.same(await points.release(key('T2', 'points:release'), { lockKey: 'T2:points' }), { ok: true });
  t.match(points.peekPointsAccount('U1'), { balance: 4000, locked: 0 });
  t.match(points.peekLocks('U1'), [{ lockKey: 'T1:points', points: 1000, status: 'confirmed' }, { lockKey: 'T2:points', points: 500, status: 'cancelled' }]);
});

t.test('a repeated lock with the same key returns the first result and locks once', async (t) => {
  const { systems: { points }, store } = openSims(t);
  const first = await points.lock(key('T1', 'points:lock'), lock1000);
  t.same(await points.lock(key('T1', 'points:lock'), lock1000), first);
  t.same(await points.lock(key('T1', 'points:lock:retry'), lock1000), first, 'a new key for the same lockKey changes nothing either');
  t.match(points.peekPointsAccount('U1'), { balance: 4000, locked: 1000 });
  t.equal(store.effects({ system: 'points' }).length, 1);
});

t.test('concurrent duplicate locks lock the points exactly once', async (t) => {
  const { systems: { points }, store } = openSims(t);
  const results = await Promise.all(Array.from({ length: 8 }, () => points.lock(key('T1', 'points:lock'), lock1000)));
  for (const r of results) t.same(r, { ok: true, lockKey: 'T1:points' });
  t.match(points.peekPointsAccount('U1'), { balance: 4000, locked: 1000 });
  t.equal(store.effects({ system: 'points', verb: 'lock' }).length, 1);
});

t.test('a lock beyond the balance is refused with INSUFFICIENT_POINTS and locks nothing', async (t) => {
  const { systems: { points }, store } = openSims(t);
  t.match(await points.lock(key('T1', 'points:lock'), { ...lock1000, points: 5100 }), { ok: false, code: 'INSUFFICIENT_POINTS' });
  t.match(points.peekPointsAccount('U1'), { balance: 5000, locked: 0 });
  t.match(await points.lock(key('T2', 'points:lock'), { lockKey: 'T2:points', userId: 'U3', points: 100 }), { ok: false, code: 'INSUFFICIENT_POINTS' });
  t.match(await points.lock(key('T3', 'points:lock'), { lockKey: 'T3:points', userId: 'U4', points: 100 }), { ok: false, code: 'INSUFFICIENT_POINTS' }, 'no account holds no points');
  t.same(store.effects(), []);
});

t.test('locked points cannot be locked again by another transaction', async (t) => {
  const { systems: { points } } = openSims(t);
  t.match(await points.lock(key('T1', 'points:lock'), { ...lock1000, points: 4000 }), { ok: true });
  t.match(await points.lock(key('T2', 'points:lock'), { ...lock1000, lockKey: 'T2:points', points: 1100 }), { ok: false, code: 'INSUFFICIENT_POINTS' });
});

t.test('a release without a lock succeeds and a lock arriving after it is refused (no hanging lock)', async (t) => {
  const { systems: { points }, store } = openSims(t);
  t.same(await points.release(key('T1', 'points:release'), { lockKey: 'T1:points' }), { ok: true });
  t.match(store.effects({ system: 'points' }), [{ verb: 'release', detail: 'empty-rollback' }]);
  t.match(await points.lock(key('T1', 'points:lock'), lock1000), { ok: false, code: 'LOCK_CANCELLED' });
  t.match(points.peekPointsAccount('U1'), { balance: 5000, locked: 0 });
  t.match(await points.deduct(key('T1', 'points:deduct'), { lockKey: 'T1:points' }), { ok: false, code: 'LOCK_CANCELLED' });
});

t.test('release after deduct is refused with ALREADY_CONFIRMED and the points stay spent', async (t) => {
  const { systems: { points } } = openSims(t);
  await points.lock(key('T1', 'points:lock'), lock1000);
  await points.deduct(key('T1', 'points:deduct'), { lockKey: 'T1:points' });
  t.match(await points.release(key('T1', 'points:release'), { lockKey: 'T1:points' }), { ok: false, code: 'ALREADY_CONFIRMED' });
  t.match(points.peekPointsAccount('U1'), { balance: 4000, locked: 0 });
});

t.test('deduct after release is refused with LOCK_CANCELLED and the points stay in the balance', async (t) => {
  const { systems: { points } } = openSims(t);
  await points.lock(key('T1', 'points:lock'), lock1000);
  await points.release(key('T1', 'points:release'), { lockKey: 'T1:points' });
  t.match(await points.deduct(key('T1', 'points:deduct'), { lockKey: 'T1:points' }), { ok: false, code: 'LOCK_CANCELLED' });
  t.match(points.peekPointsAccount('U1'), { balance: 5000, locked: 0 });
  t.match(await points.deduct(key('T9', 'points:deduct'), { lockKey: 'T9:points' }), { ok: false, code: 'LOCK_NOT_FOUND' });
});

t.test('a lost deduct response is retried with the same key and deducts once', async (t) => {
  const { systems: { points }, faults, store } = openSims(t);
  await points.lock(key('T1', 'points:lock'), lock1000);
  faults.points.configure({ deduct: { failAfterEffect: 1 } });
  await t.rejects(points.deduct(key('T1', 'points:deduct'), { lockKey: 'T1:points' }), { name: 'DownstreamUnavailableError', system: 'points' });
  t.same(await points.deduct(key('T1', 'points:deduct'), { lockKey: 'T1:points' }), { ok: true });
  t.match(points.peekPointsAccount('U1'), { balance: 4000, locked: 0 });
  t.equal(store.effects({ system: 'points', verb: 'deduct' }).length, 1);
});

t.test('a lock of zero or fractional points is a caller bug and throws', async (t) => {
  const { systems: { points } } = openSims(t);
  await t.rejects(points.lock(key('T1', 'points:lock'), { ...lock1000, points: 0 }), RangeError);
  await t.rejects(points.lock(key('T1', 'points:lock'), { ...lock1000, points: 1.5 }), RangeError);
});

const restore300 = { userId: 'U1', restoreNo: 'R1-points', points: 300 };

t.test('restore gives points back to the spendable balance and journals one effect', async (t) => {
  const { systems: { points }, store } = openSims(t);
  t.same(await points.restore(key('R1', 'points:restore'), restore300), { ok: true, restoreNo: 'R1-points' });
  t.match(points.peekPointsAccount('U1'), { balance: 5300, locked: 0 });
  t.same(store.effects({ system: 'points' }).map((e) => [e.verb, e.key]), [['restore', 'R1:points:restore']]);
});

t.test('repeated and concurrent restores, under the same key or the same restoreNo, restore once', async (t) => {
  const { systems: { points }, store } = openSims(t);
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => points.restore(key('R1', `points:restore${i % 2 ? ':retry' : ''}`), restore300)));
  for (const r of results) t.same(r, { ok: true, restoreNo: 'R1-points' });
  t.same(await points.restore(key('R1', 'points:restore:again'), restore300), { ok: true, restoreNo: 'R1-points' });
  t.match(points.peekPointsAccount('U1'), { balance: 5300 });
  t.equal(store.effects({ system: 'points', verb: 'restore' }).length, 1);
});

t.test('a restore to a user without an account is refused with ACCOUNT_NOT_FOUND', async (t) => {
  const { systems: { points }, store } = openSims(t);
  t.match(await points.restore(key('R1', 'points:restore'), { ...restore300, userId: 'U4' }), { ok: false, code: 'ACCOUNT_NOT_FOUND' });
  t.same(store.effects(), []);
  await t.rejects(points.restore(key('R2', 'points:restore'), { ...restore300, points: -1 }), RangeError);
});
