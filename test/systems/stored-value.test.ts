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

const topUp = { cardNo: 'C3', creditNo: 'R1-1', amountFen: 50000, reason: 'top-up' } as const;
const topUpRefund = { cardNo: 'C3', debitNo: 'R2-1', amountFen: 50000, reason: 'top-up-refund' } as const;

t.test('a credit adds the amount to the available balance and journals one effect', async (t) => {
  const { systems: { storedValue: sv }, store } = openSims(t);
  t.same(await sv.credit(key('T1', 'top-up:credit'), topUp), { ok: true, creditNo: 'R1-1' });
  t.same(await sv.credit(key('T1', 'bonus:credit'), { ...topUp, creditNo: 'R1-2', amountFen: 5000, reason: 'bonus' }), { ok: true, creditNo: 'R1-2' });
  t.match(await sv.getCard('C3'), { availableFen: 56200, lockedFen: 0 });
  t.same(store.effects({ system: 'storedValue' }).map((e) => [e.verb, e.key]), [['credit', 'T1:top-up:credit'], ['credit', 'T1:bonus:credit']]);
});

t.test('a repeated credit, under the same key or the same creditNo, credits once', async (t) => {
  const { systems: { storedValue: sv }, store } = openSims(t);
  const first = await sv.credit(key('T1', 'top-up:credit'), topUp);
  t.same(await sv.credit(key('T1', 'top-up:credit'), topUp), first);
  t.same(await sv.credit(key('T1', 'top-up:credit:retry'), topUp), first, 'the same creditNo under a new key');
  t.match(await sv.getCard('C3'), { availableFen: 51200 });
  t.equal(store.effects({ system: 'storedValue', verb: 'credit' }).length, 1);
  await t.rejects(sv.credit(key('T1', 'top-up:credit:other'), { ...topUp, amountFen: 1 }), IdempotencyConflictError,
    'a creditNo reused for another amount is a caller bug');
});

t.test('concurrent duplicate credits credit exactly once', async (t) => {
  const { systems: { storedValue: sv }, store } = openSims(t);
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => sv.credit(key('T1', `top-up:credit${i % 2 ? ':retry' : ''}`), topUp)));
  for (const r of results) t.same(r, { ok: true, creditNo: 'R1-1' });
  t.match(await sv.getCard('C3'), { availableFen: 51200 });
  t.equal(store.effects({ system: 'storedValue' }).length, 1);
});

t.test('a credit whose response was lost is answered with the first result on retry', async (t) => {
  const { systems: { storedValue: sv }, store, faults } = openSims(t);
  faults.storedValue.configure({ credit: { failAfterEffect: 1 } });
  await t.rejects(sv.credit(key('T1', 'top-up:credit'), topUp), { name: 'DownstreamUnavailableError' });
  t.same(await sv.credit(key('T1', 'top-up:credit'), topUp), { ok: true, creditNo: 'R1-1' });
  t.match(await sv.getCard('C3'), { availableFen: 51200 });
  t.equal(store.effects({ system: 'storedValue' }).length, 1);
});

t.test('a credit to an unknown card is refused with CARD_NOT_FOUND', async (t) => {
  const { systems: { storedValue: sv }, store } = openSims(t);
  t.match(await sv.credit(key('T1', 'top-up:credit'), { ...topUp, cardNo: 'NOPE' }), { ok: false, code: 'CARD_NOT_FOUND' });
  t.same(store.effects(), []);
  await t.rejects(sv.credit(key('T2', 'top-up:credit'), { ...topUp, amountFen: 0 }), RangeError);
});

t.test('a debit takes the amount from the available balance once, by key and by debitNo', async (t) => {
  const { systems: { storedValue: sv }, store } = openSims(t);
  await sv.credit(key('T1', 'top-up:credit'), topUp);
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => sv.debit(key('R2', `debit${i % 2 ? ':retry' : ''}`), topUpRefund)));
  for (const r of results) t.same(r, { ok: true, debitNo: 'R2-1' });
  t.match(await sv.getCard('C3'), { availableFen: 1200, lockedFen: 0 });
  t.same(store.effects({ system: 'storedValue' }).map((e) => e.verb), ['credit', 'debit']);
});

t.test('a debit beyond the available balance is refused with INSUFFICIENT_BALANCE and takes nothing', async (t) => {
  const { systems: { storedValue: sv }, store } = openSims(t);
  await sv.credit(key('T1', 'top-up:credit'), topUp);
  await sv.lock(key('T3', 'leg-1:lock'), { lockKey: 'T3:leg-1', cardNo: 'C3', amountFen: 1201 });
  const refused = await sv.debit(key('R2', 'debit'), topUpRefund);
  t.match(refused, { ok: false, code: 'INSUFFICIENT_BALANCE', message: 'card C3 has 49999 fen available, 50000 needed' }, 'locked money does not count');
  t.match(await sv.getCard('C3'), { availableFen: 49999, lockedFen: 1201 });
  t.same(await sv.debit(key('R2', 'debit'), topUpRefund), refused, 'the repeat is the first result');
  t.same(store.effects({ system: 'storedValue', verb: 'debit' }), []);
  t.match(await sv.debit(key('R3', 'debit'), { ...topUpRefund, debitNo: 'R3-1', cardNo: 'NOPE' }), { ok: false, code: 'CARD_NOT_FOUND' });

  await sv.cancel(key('T3', 'leg-1:cancel'), { lockKey: 'T3:leg-1' });
  t.same(await sv.debit(key('R2', 'debit:retry'), topUpRefund), { ok: true, debitNo: 'R2-1' }, 'a refused debitNo may be tried again');
  t.match(await sv.getCard('C3'), { availableFen: 1200, lockedFen: 0 });
});
