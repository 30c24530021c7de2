import t from 'tap';
import { key, openSims, type Cleanup } from './helpers.ts';

/** The demo's "today": CP5 expired in the summer, everything else of U1 is valid. */
const NOV_25 = { now: () => Date.parse('2026-11-25T10:00:00+08:00') };
const open = (t: Cleanup) => openSims(t, { clock: NOV_25 });
const lockCp1Cp3 = { lockKey: 'T1:coupons', userId: 'U1', couponIds: ['CP1', 'CP3'] };

t.test("listCoupons offers the user's available coupons only, expired ones as they are", async (t) => {
  const { systems: { coupon } } = open(t);
  const listed = await coupon.listCoupons('U1');
  t.same(listed.map((c) => c.couponId), ['CP1', 'CP2', 'CP3', 'CP4', 'CP5'], 'CP6 is used');
  t.same(listed[0], {
    couponId: 'CP1', userId: 'U1', name: '10 yuan off fuel over 100 yuan',
    benefit: { type: 'cash', valueFen: 1000, thresholdFen: 10000 }, scope: { kind: 'fuel' },
    validFrom: '2026-01-01T00:00:00+08:00', validTo: '2027-12-31T23:59:59+08:00',
    stackableWithPromotions: true, status: 'available',
  });
  t.same(await coupon.listCoupons('U404'), []);
});

t.test('lock takes every listed coupon, use marks them used, release makes them available again', async (t) => {
  const { systems: { coupon } } = open(t);
  t.same(await coupon.lock(key('T1', 'coupons:lock'), lockCp1Cp3), { ok: true, lockKey: 'T1:coupons' });
  t.match(coupon.peekCoupon('CP1'), { status: 'locked', lockKey: 'T1:coupons' });
  t.notOk((await coupon.listCoupons('U1')).some((c) => c.couponId === 'CP1' || c.couponId === 'CP3'), 'locked coupons are not offered');
  t.same(await coupon.use(key('T1', 'coupons:use'), { lockKey: 'T1:coupons' }), { ok: true });
  t.match(coupon.peekCoupon('CP3'), { status: 'used', lockKey: 'T1:coupons' });

  await coupon.lock(key('T2', 'coupons:lock'), { lockKey: 'T2:coupons', userId: 'U1', couponIds: ['CP2'] });
  t.same(await coupon.release(key('T2', 'coupons:release'), { lockKey: 'T2:coupons' }), { ok: true });
  t.match(coupon.peekCoupon('CP2'), { status: 'available', lockKey: null });
  t.match(coupon.peekLocks('U1'), [{ lockKey: 'T1:coupons', couponIds: ['CP1', 'CP3'], status: 'confirmed' }, { lockKey: 'T2:coupons', status: 'cancelled' }]);
});

t.test('a repeated lock with the same key returns the first result and locks once', async (t) => {
  const { systems: { coupon }, store } = open(t);
  const first = await coupon.lock(key('T1', 'coupons:lock'), lockCp1Cp3);
  t.same(await coupon.lock(key('T1', 'coupons:lock'), lockCp1Cp3), first);
  t.same(await coupon.lock(key('T1', 'coupons:lock:retry'), lockCp1Cp3), first, 'a new key for the same lockKey changes nothing either');
  t.equal(store.effects({ system: 'coupon' }).length, 1);
});

t.test('concurrent duplicate locks lock the coupons exactly once', async (t) => {
  const { systems: { coupon }, store } = open(t);
  const results = await Promise.all(Array.from({ length: 8 }, () => coupon.lock(key('T1', 'coupons:lock'), lockCp1Cp3)));
  for (const r of results) t.same(r, { ok: true, lockKey: 'T1:coupons' });
  t.equal(store.effects({ system: 'coupon', verb: 'lock' }).length, 1);
  t.equal(coupon.peekLocks('U1').length, 1);
});

t.test('a coupon locked by one transaction cannot be locked by another', async (t) => {
  const { systems: { coupon } } = open(t);
  await coupon.lock(key('T1', 'coupons:lock'), lockCp1Cp3);
  const second = await coupon.lock(key('T2', 'coupons:lock'), { lockKey: 'T2:coupons', userId: 'U1', couponIds: ['CP1'] });
  t.match(second, { ok: false, code: 'COUPON_UNAVAILABLE', message: 'coupon CP1 is locked' });
});

t.test('a used, expired or unknown coupon or another user\'s is refused with COUPON_UNAVAILABLE and nothing is locked', async (t) => {
  const { systems: { coupon }, store } = open(t);
  const attempt = (n: number, couponIds: string[]) =>
    coupon.lock(key(`T${n}`, 'coupons:lock'), { lockKey: `T${n}:coupons`, userId: 'U1', couponIds });
  t.match(await attempt(1, ['CP1', 'CP6']), { ok: false, code: 'COUPON_UNAVAILABLE', message: 'coupon CP6 is used' });
  t.match(await attempt(2, ['CP1', 'CP5']), { ok: false, code: 'COUPON_UNAVAILABLE', message: /CP5 is valid from .* to 2026-08-31/ });
  t.match(await attempt(3, ['CP1', 'CP7']), { ok: false, code: 'COUPON_UNAVAILABLE', message: 'user U1 holds no coupon CP7' });
  t.match(await attempt(4, ['CP404']), { ok: false, code: 'COUPON_UNAVAILABLE' });
  t.match(coupon.peekCoupon('CP1'), { status: 'available', lockKey: null }, 'the valid coupon of the set stays available');
  t.same(coupon.peekLocks('U1'), []);
  t.same(store.effects(), []);
});

t.test('a coupon is refused before its validity starts', async (t) => {
  const { systems: { coupon } } = openSims(t, { clock: { now: () => Date.parse('2026-08-01T00:00:00+08:00') } });
  const cp4 = { lockKey: 'T1:coupons', userId: 'U1', couponIds: ['CP4'] };
  t.match(await coupon.lock(key('T1', 'coupons:lock'), cp4), { ok: false, code: 'COUPON_UNAVAILABLE', message: /CP4 is valid from 2026-09-01/ });
});

t.test('a release without a lock succeeds and a lock arriving after it is refused (no hanging lock)', async (t) => {
  const { systems: { coupon }, store } = open(t);
  t.same(await coupon.release(key('T1', 'coupons:release'), { lockKey: 'T1:coupons' }), { ok: true });
  t.match(store.effects({ system: 'coupon' }), [{ verb: 'release', detail: 'empty-rollback' }]);
  t.match(await coupon.lock(key('T1', 'coupons:lock'), lockCp1Cp3), { ok: false, code: 'LOCK_CANCELLED' });
  t.match(coupon.peekCoupon('CP1'), { status: 'available' });
  t.match(await coupon.use(key('T1', 'coupons:use'), { lockKey: 'T1:coupons' }), { ok: false, code: 'LOCK_CANCELLED' });
});

t.test('release after use is refused with ALREADY_CONFIRMED and the coupons stay used', async (t) => {
  const { systems: { coupon } } = open(t);
  await coupon.lock(key('T1', 'coupons:lock'), lockCp1Cp3);
  await coupon.use(key('T1', 'coupons:use'), { lockKey: 'T1:coupons' });
  t.match(await coupon.release(key('T1', 'coupons:release'), { lockKey: 'T1:coupons' }), { ok: false, code: 'ALREADY_CONFIRMED' });
  t.match(coupon.peekCoupon('CP1'), { status: 'used' });
});

t.test('use after release is refused with LOCK_CANCELLED and the coupons stay available', async (t) => {
  const { systems: { coupon } } = open(t);
  await coupon.lock(key('T1', 'coupons:lock'), lockCp1Cp3);
  await coupon.release(key('T1', 'coupons:release'), { lockKey: 'T1:coupons' });
  t.match(await coupon.use(key('T1', 'coupons:use'), { lockKey: 'T1:coupons' }), { ok: false, code: 'LOCK_CANCELLED' });
  t.match(coupon.peekCoupon('CP1'), { status: 'available' });
  t.match(await coupon.use(key('T9', 'coupons:use'), { lockKey: 'T9:coupons' }), { ok: false, code: 'LOCK_NOT_FOUND' });
});

t.test('a lock of no coupons or of one coupon twice is a caller bug and throws', async (t) => {
  const { systems: { coupon } } = open(t);
  await t.rejects(coupon.lock(key('T1', 'coupons:lock'), { lockKey: 'T1:coupons', userId: 'U1', couponIds: [] }), RangeError);
  await t.rejects(coupon.lock(key('T1', 'coupons:lock'), { lockKey: 'T1:coupons', userId: 'U1', couponIds: ['CP1', 'CP1'] }), RangeError);
});

t.test('an outage of the coupon system fails listing and locking, and changes nothing', async (t) => {
  const { systems: { coupon }, faults, store } = open(t);
  faults.coupon.configure({ '*': { outage: true } });
  await t.rejects(coupon.listCoupons('U1'), { name: 'DownstreamUnavailableError', system: 'coupon' });
  await t.rejects(coupon.lock(key('T1', 'coupons:lock'), lockCp1Cp3));
  t.same(store.effects(), []);
  t.match(coupon.peekCoupon('CP1'), { status: 'available' });
});

/** A clock a test moves: coupons are used in July, while CP5 is valid, and restored later. */
function movableClock(iso: string) {
  let now = Date.parse(iso);
  return { now: () => now, set: (to: string) => { now = Date.parse(to); } };
}

async function useCoupons(coupon: ReturnType<typeof openSims>['systems']['coupon'], couponIds: string[]) {
  await coupon.lock(key('T1', 'coupons:lock'), { lockKey: 'T1:coupons', userId: 'U1', couponIds });
  await coupon.use(key('T1', 'coupons:use'), { lockKey: 'T1:coupons' });
}

const restoreCp1Cp3 = { userId: 'U1', restoreNo: 'R1-coupons', couponIds: ['CP1', 'CP3'] };

t.test('restore makes used coupons that are still valid available again', async (t) => {
  const { systems: { coupon }, store } = open(t);
  await useCoupons(coupon, ['CP1', 'CP3']);
  t.same(await coupon.restore(key('R1', 'coupons:restore'), restoreCp1Cp3), { ok: true, restored: ['CP1', 'CP3'], expired: [] });
  t.match(coupon.peekCoupon('CP1'), { status: 'available', lockKey: null });
  t.ok((await coupon.listCoupons('U1')).some((c) => c.couponId === 'CP3'), 'a restored coupon is offered again');
  t.same(store.effects({ system: 'coupon', verb: 'restore' }).map((e) => e.key), ['R1:coupons:restore']);
});

t.test('a used coupon past its validity stays used and is listed as expired', async (t) => {
  const clock = movableClock('2026-07-01T10:00:00+08:00');
  const { systems: { coupon } } = openSims(t, { clock });
  await useCoupons(coupon, ['CP1', 'CP5']);
  clock.set('2026-11-25T10:00:00+08:00');
  const outcome = await coupon.restore(key('R1', 'coupons:restore'), { ...restoreCp1Cp3, couponIds: ['CP1', 'CP5'] });
  t.same(outcome, { ok: true, restored: ['CP1'], expired: ['CP5'] });
  t.match(coupon.peekCoupon('CP5'), { status: 'used', lockKey: 'T1:coupons' });
});

t.test('repeated and concurrent restores return the first result and restore once', async (t) => {
  const { systems: { coupon }, store } = open(t);
  await useCoupons(coupon, ['CP1', 'CP3']);
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => coupon.restore(key('R1', `coupons:restore${i % 2 ? ':retry' : ''}`), restoreCp1Cp3)));
  for (const r of results) t.same(r, { ok: true, restored: ['CP1', 'CP3'], expired: [] });
  t.equal(store.effects({ system: 'coupon', verb: 'restore' }).length, 1);
});

t.test('a restoreNo retried after the coupon was used again does not hand it back twice', async (t) => {
  const { systems: { coupon } } = open(t);
  await useCoupons(coupon, ['CP1']);
  await coupon.restore(key('R1', 'coupons:restore'), { ...restoreCp1Cp3, couponIds: ['CP1'] });
  await coupon.lock(key('T2', 'coupons:lock'), { lockKey: 'T2:coupons', userId: 'U1', couponIds: ['CP1'] });
  await coupon.use(key('T2', 'coupons:use'), { lockKey: 'T2:coupons' });
  t.same(await coupon.restore(key('R1', 'coupons:restore:retry'), { ...restoreCp1Cp3, couponIds: ['CP1'] }), { ok: true, restored: ['CP1'], expired: [] });
  t.match(coupon.peekCoupon('CP1'), { status: 'used', lockKey: 'T2:coupons' });
});

t.test('coupons that are not used are left alone and a new restoreNo restores nothing twice', async (t) => {
  const { systems: { coupon }, store } = open(t);
  await useCoupons(coupon, ['CP1']);
  await coupon.lock(key('T2', 'coupons:lock'), { lockKey: 'T2:coupons', userId: 'U1', couponIds: ['CP3'] });
  t.same(await coupon.restore(key('R1', 'coupons:restore'), { ...restoreCp1Cp3, couponIds: ['CP1', 'CP2', 'CP3'] }), { ok: true, restored: ['CP1'], expired: [] });
  t.match(coupon.peekCoupon('CP3'), { status: 'locked', lockKey: 'T2:coupons' });
  t.same(await coupon.restore(key('R2', 'coupons:restore'), { ...restoreCp1Cp3, restoreNo: 'R2-coupons', couponIds: ['CP1'] }), { ok: true, restored: [], expired: [] });
  t.equal(store.effects({ system: 'coupon', verb: 'restore' }).length, 1);
});

t.test("an unknown coupon or another user's is refused with COUPON_NOT_FOUND and nothing is restored", async (t) => {
  const { systems: { coupon } } = open(t);
  await useCoupons(coupon, ['CP1']);
  t.match(await coupon.restore(key('R1', 'coupons:restore'), { ...restoreCp1Cp3, couponIds: ['CP1', 'CP7'] }),
    { ok: false, code: 'COUPON_NOT_FOUND', message: 'user U1 holds no coupon CP7' });
  t.match(await coupon.restore(key('R2', 'coupons:restore'), { ...restoreCp1Cp3, restoreNo: 'R2', couponIds: ['CP404'] }), { ok: false, code: 'COUPON_NOT_FOUND' });
  t.match(coupon.peekCoupon('CP1'), { status: 'used' });
  await t.rejects(coupon.restore(key('R3', 'coupons:restore'), { ...restoreCp1Cp3, couponIds: [] }), RangeError);
});
