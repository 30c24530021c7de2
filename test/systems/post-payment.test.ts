import Fastify from 'fastify';
import t from 'tap';
import { DownstreamUnavailableError, type CallKey, type SystemName } from '../../systems/contract.ts';
import { simAdminRoutes } from '../../systems/sim/admin-routes.ts';
import type { OsOrderEvent } from '../../systems/os/port.ts';
import { SIMULATED_OPERATIONS, type SimulatedSystems } from '../../systems/sim/index.ts';
import { key, openSims } from './helpers.ts';

const marketingRecord = {
  txnNo: 'T1', orderNo: 'O1', userId: 'U1', amountFen: 30000,
  discounts: [{ kind: 'promotion', id: 'P1', amountFen: 1500 }, { kind: 'points', amountFen: 500 }],
};
const settlementRecord = {
  txnNo: 'T1', orderNo: 'O1', stationId: 'S1', merchantId: 'M1', amountFen: 30000,
  legs: [{ method: 'stored_value', amountFen: 10000 }, { method: 'wechat', amountFen: 20000 }],
};
const invoiceRequest = { txnNo: 'T1', orderNo: 'O1', userId: 'U1', amountFen: 30000 };
const rewardRequest = { txnNo: 'T1', orderNo: 'O1', userId: 'U1', stationId: 'S1', amountFen: 30000 };
const refund = (refundNo: string, amountFen: number) => ({ txnNo: 'T1', refundNo, amountFen });
/** An order's first event (placed), as the OS outbox delivers it. */
const osEvent = (e: Pick<OsOrderEvent, 'txnNo' | 'orderNo' | 'stationId'> & Partial<OsOrderEvent>): OsOrderEvent => ({
  kind: 'placed', eventSeq: 1, stationSeq: 1, at: Date.parse('2026-12-01T09:00:00+08:00'), payload: { payableFen: 30000 }, ...e,
});

/** One post-payment verb, with what it needs done first. */
interface VerbCase {
  system: SystemName;
  verb: string;
  /** The verb also dedupes by a business number, so a retry under a new key has no second effect. */
  byNumber: boolean;
  before?: (s: SimulatedSystems) => Promise<unknown>;
  call: (s: SimulatedSystems, k: CallKey) => Promise<{ ok: boolean }>;
}

const VERBS: VerbCase[] = [
  { system: 'marketing', verb: 'record', byNumber: true, call: (s, k) => s.marketing.record(k, marketingRecord) },
  {
    system: 'marketing', verb: 'reverse', byNumber: true,
    before: (s) => s.marketing.record(key('T1', 'marketing:record'), marketingRecord),
    call: (s, k) => s.marketing.reverse(k, refund('R1', 10000)),
  },
  { system: 'campaign', verb: 'reward', byNumber: true, call: (s, k) => s.campaign.reward(k, rewardRequest) },
  {
    system: 'campaign', verb: 'reverse', byNumber: true,
    before: (s) => s.campaign.reward(key('T1', 'campaign:reward'), rewardRequest),
    call: (s, k) => s.campaign.reverse(k, { txnNo: 'T1', refundNo: 'R1' }),
  },
  { system: 'settlement', verb: 'record', byNumber: true, call: (s, k) => s.settlement.record(k, settlementRecord) },
  {
    system: 'settlement', verb: 'reverse', byNumber: true,
    before: (s) => s.settlement.record(key('T1', 'settlement:record'), settlementRecord),
    call: (s, k) => s.settlement.reverse(k, refund('R1', 10000)),
  },
  { system: 'push', verb: 'notify', byNumber: false, call: (s, k) => s.push.notify(k, { stationId: 'S1', txnNo: 'T1', message: 'paid 300.00' }) },
  { system: 'invoice', verb: 'issue', byNumber: true, call: (s, k) => s.invoice.issue(k, invoiceRequest) },
  {
    system: 'invoice', verb: 'reverse', byNumber: true,
    before: (s) => s.invoice.issue(key('T1', 'invoice:issue'), invoiceRequest),
    call: (s, k) => s.invoice.reverse(k, refund('R1', 10000)),
  },
  { system: 'notify', verb: 'send', byNumber: false, call: (s, k) => s.notify.send(k, { userId: 'U1', txnNo: 'T1', message: 'thank you' }) },
  {
    system: 'os', verb: 'deliverEvent', byNumber: true,
    call: (s, k) => s.os.deliverEvent(k, osEvent({ txnNo: 'T1', orderNo: 'O1', stationId: 'S1' })),
  },
  { system: 'level', verb: 'addGrowth', byNumber: true, call: (s, k) => s.level.addGrowth(k, { userId: 'U2', txnNo: 'T1', growth: 300 }) },
  {
    system: 'level', verb: 'reverseGrowth', byNumber: true,
    call: (s, k) => s.level.reverseGrowth(k, { userId: 'U2', txnNo: 'T1', refundNo: 'R1', growth: 300 }),
  },
  { system: 'points', verb: 'award', byNumber: true, call: (s, k) => s.points.award(k, { userId: 'U1', awardNo: 'T1-award', points: 300 }) },
  { system: 'points', verb: 'reverseAward', byNumber: true, call: (s, k) => s.points.reverseAward(k, { userId: 'U1', reverseNo: 'R1-award', points: 300 }) },
  { system: 'coupon', verb: 'issue', byNumber: true, call: (s, k) => s.coupon.issue(k, { userId: 'U1', issueNo: 'T1-reward-1', templateId: 'TPL-WASH5' }) },
  {
    system: 'coupon', verb: 'revoke', byNumber: true,
    before: (s) => s.coupon.issue(key('T1', 'coupon:issue'), { userId: 'U1', issueNo: 'T1-reward-1', templateId: 'TPL-WASH5' }),
    call: (s, k) => s.coupon.revoke(k, { userId: 'U1', couponId: 'CP-T1-reward-1' }),
  },
];

for (const c of VERBS) {
  const name = `${c.system}.${c.verb}`;

  t.test(`${name} repeated with the same key returns the first result and has one effect`, async (t) => {
    const { systems, store } = openSims(t);
    await c.before?.(systems);
    const first = await c.call(systems, key('R1', `${name}`));
    t.equal(first.ok, true);
    t.same(await c.call(systems, key('R1', `${name}`)), first);
    if (c.byNumber) t.same(await c.call(systems, key('R1', `${name}:retry`)), first, 'the same business number under a new key changes nothing either');
    t.equal(store.effects({ system: c.system, verb: c.verb }).length, 1);
  });

  t.test(`${name} under concurrent duplicates has one effect`, async (t) => {
    const { systems, store } = openSims(t);
    await c.before?.(systems);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => c.call(systems, key('R1', c.byNumber && i % 2 ? `${name}:retry` : name))));
    for (const r of results) t.same(r, results[0]);
    t.equal(results[0]?.ok, true);
    t.equal(store.effects({ system: c.system, verb: c.verb }).length, 1);
  });

  t.test(`${name} fails with DownstreamUnavailableError and no effect during an outage`, async (t) => {
    const { systems, store, faults } = openSims(t);
    await c.before?.(systems);
    faults[c.system].configure({ [c.verb]: { outage: true } });
    await t.rejects(c.call(systems, key('R1', name)), DownstreamUnavailableError);
    t.same(store.effects({ system: c.system, verb: c.verb }), []);
    faults[c.system].clear();
    t.match(await c.call(systems, key('R1', name)), { ok: true }, 'the retry after the outage succeeds');
  });
}

t.test('marketing and settlement reversals are refused without a record and beyond the recorded amount, summed over refunds', async (t) => {
  const { systems: { marketing, settlement }, store } = openSims(t);
  t.match(await marketing.reverse(key('T1', 'marketing:reverse:R1'), refund('R1', 100)), { ok: false, code: 'RECORD_NOT_FOUND' });
  t.match(await settlement.reverse(key('T1', 'settlement:reverse:R1'), refund('R1', 100)), { ok: false, code: 'RECORD_NOT_FOUND' });
  await marketing.record(key('T1', 'marketing:record'), marketingRecord);
  await settlement.record(key('T1', 'settlement:record'), settlementRecord);
  for (const [system, port] of [['marketing', marketing], ['settlement', settlement]] as const) {
    t.same(await port.reverse(key('T1', `${system}:reverse:R2`), refund('R2', 20000)), { ok: true, refundNo: 'R2' });
    t.match(await port.reverse(key('T1', `${system}:reverse:R3`), refund('R3', 10001)), { ok: false, code: 'EXCEEDS_RECORDED' });
    t.same(await port.reverse(key('T1', `${system}:reverse:R4`), refund('R4', 10000)), { ok: true, refundNo: 'R4' });
    t.same(store.effects({ system }).map((e) => e.verb), ['record', 'reverse', 'reverse']);
  }
  t.match(settlement.peekRecords('T1'), { records: [{ no: 'O1', body: settlementRecord }], reversals: [{ no: 'R2' }, { no: 'R4' }] });
});

t.test('a settlement record whose legs do not add up to the amount is a caller bug and throws', async (t) => {
  const { systems: { settlement, marketing } } = openSims(t);
  await t.rejects(settlement.record(key('T1', 'settlement:record'), { ...settlementRecord, amountFen: 30001 }), RangeError);
  await t.rejects(marketing.reverse(key('T1', 'marketing:reverse'), refund('R1', 0)), RangeError);
});

t.test('a lost settlement response is retried with the same key and books once', async (t) => {
  const { systems: { settlement }, faults, store } = openSims(t);
  faults.settlement.configure({ record: { failAfterEffect: 1 } });
  await t.rejects(settlement.record(key('T1', 'settlement:record'), settlementRecord), { name: 'DownstreamUnavailableError', system: 'settlement' });
  t.same(await settlement.record(key('T1', 'settlement:record'), settlementRecord), { ok: true, orderNo: 'O1' });
  t.equal(settlement.peekRecords('T1').records.length, 1);
  t.equal(store.effects({ system: 'settlement' }).length, 1);
});

t.test('invoice issues one invoice per order and refuses reversals without an invoice or beyond it', async (t) => {
  const { systems: { invoice } } = openSims(t);
  t.match(await invoice.reverse(key('T1', 'invoice:reverse:R1'), refund('R1', 100)), { ok: false, code: 'INVOICE_NOT_FOUND' });
  t.same(await invoice.issue(key('T1', 'invoice:issue'), invoiceRequest), { ok: true, invoiceNo: 'INV-O1' });
  t.match(await invoice.reverse(key('T1', 'invoice:reverse:R2'), refund('R2', 30001)), { ok: false, code: 'EXCEEDS_INVOICED' });
  t.same(await invoice.reverse(key('T1', 'invoice:reverse:R3'), refund('R3', 30000)), { ok: true, reversalNo: 'INV-R3' });
  t.match(invoice.peekInvoices('T1'), { invoices: [{ no: 'INV-O1' }], reversals: [{ no: 'INV-R3', body: { amountFen: 30000 } }] });
});

t.test('campaign rewards a TPL-WASH5 coupon from 200 yuan on, and takes the rewards back once', async (t) => {
  const { systems: { campaign }, store } = openSims(t);
  t.same(await campaign.reward(key('T2', 'campaign:reward'), { ...rewardRequest, txnNo: 'T2', orderNo: 'O2', amountFen: 19999 }), { ok: true, rewards: [] });
  t.same(store.effects({ system: 'campaign' }), [], 'an order that earns nothing changes nothing');
  t.same(await campaign.reward(key('T1', 'campaign:reward'), { ...rewardRequest, amountFen: 20000 }), { ok: true, rewards: [{ kind: 'coupon', templateId: 'TPL-WASH5' }] });
  t.same(await campaign.reverse(key('T1', 'campaign:reverse:R1'), { txnNo: 'T1', refundNo: 'R1' }), { ok: true, rewards: [{ kind: 'coupon', templateId: 'TPL-WASH5' }] });
  t.same(await campaign.reverse(key('T1', 'campaign:reverse:R2'), { txnNo: 'T1', refundNo: 'R2' }), { ok: true, rewards: [] }, 'a later refund finds nothing left');
  t.same(await campaign.reverse(key('T2', 'campaign:reverse:R3'), { txnNo: 'T2', refundNo: 'R3' }), { ok: true, rewards: [] });
  t.same(store.effects({ system: 'campaign' }).map((e) => e.verb), ['reward', 'reverse']);
  t.match(campaign.peekGrants('T1'), [{ no: 'O1', body: { reversedBy: 'R1' } }]);
});

t.test('push, notify and os refuse an unknown station or user and keep what they were sent', async (t) => {
  const { systems: { push, notify, os }, store } = openSims(t);
  t.match(await push.notify(key('T1', 'push'), { stationId: 'S9', txnNo: 'T1', message: 'paid' }), { ok: false, code: 'STATION_NOT_FOUND' });
  t.match(await notify.send(key('T1', 'notify'), { userId: 'U9', txnNo: 'T1', message: 'paid' }), { ok: false, code: 'USER_NOT_FOUND' });
  t.match(await os.deliverEvent(key('T1', 'os-event:1'), osEvent({ txnNo: 'T1', orderNo: 'O1', stationId: 'S9' })), { ok: false, code: 'STATION_NOT_FOUND' });
  t.same(store.effects(), []);
  await push.notify(key('T2', 'push'), { stationId: 'S2', txnNo: 'T2', message: 'paid 12.00' });
  await notify.send(key('T2', 'notify'), { userId: 'U2', txnNo: 'T2', message: 'thank you' });
  await os.deliverEvent(key('T2', 'os-event:1'), osEvent({ txnNo: 'T2', orderNo: 'O2', stationId: 'S2', payload: { payableFen: 1200 } }));
  t.match(push.peekMessages('S2'), [{ txnNo: 'T2', body: { message: 'paid 12.00' } }]);
  t.match(notify.peekMessages('U2'), [{ txnNo: 'T2', body: { message: 'thank you' } }]);
  t.match(os.peekEvents('S2'), [{ orderNo: 'O2', eventSeq: 1, kind: 'placed', payload: { payableFen: 1200 } }]);
});

t.test('growth raises the level at its threshold, a reversal lowers it again and never goes below zero', async (t) => {
  const { systems: { level, user }, store } = openSims(t);
  t.same(await level.addGrowth(key('T1', 'level:grow'), { userId: 'U2', txnNo: 'T1', growth: 5680 }), { ok: true, member: { userId: 'U2', level: 'gold', growth: 10000 } });
  t.match(await user.getUser('U2'), { level: 'gold' }, 'the user system shows the new level too');
  t.same(await level.reverseGrowth(key('T1', 'level:reverse:R1'), { userId: 'U2', txnNo: 'T1', refundNo: 'R1', growth: 1 }), { ok: true, member: { userId: 'U2', level: 'silver', growth: 9999 }, reversed: 1 });
  t.same(await level.reverseGrowth(key('T2', 'level:reverse:R2'), { userId: 'U3', txnNo: 'T2', refundNo: 'R2', growth: 500 }), { ok: true, member: { userId: 'U3', level: 'normal', growth: 0 }, reversed: 150 });
  t.match(await level.addGrowth(key('T3', 'level:grow'), { userId: 'U9', txnNo: 'T3', growth: 10 }), { ok: false, code: 'MEMBER_NOT_FOUND' });
  t.match(store.effects({ system: 'level' }), [{ verb: 'addGrowth', detail: 'level silver -> gold' }, { verb: 'reverseGrowth', detail: 'level gold -> silver' }, { verb: 'reverseGrowth', detail: null }]);
});

t.test('points award adds to the balance; reverseAward takes back at most the spendable balance and says how much', async (t) => {
  const { systems: { points } } = openSims(t);
  t.same(await points.award(key('T1', 'points:award'), { userId: 'U1', awardNo: 'T1-award', points: 300 }), { ok: true, awardNo: 'T1-award' });
  t.match(points.peekPointsAccount('U1'), { balance: 5300 });
  await points.lock(key('T2', 'points:lock'), { lockKey: 'T2:points', userId: 'U1', points: 1000 });
  t.same(await points.reverseAward(key('R1', 'points:reverse'), { userId: 'U1', reverseNo: 'R1-award', points: 6000 }), { ok: true, reverseNo: 'R1-award', reversed: 4300 });
  t.match(points.peekPointsAccount('U1'), { balance: 0, locked: 1000 }, 'locked points are not taken');
  t.same(await points.reverseAward(key('R2', 'points:reverse'), { userId: 'U1', reverseNo: 'R2-award', points: 100 }), { ok: true, reverseNo: 'R2-award', reversed: 0 });
  t.match(await points.award(key('T3', 'points:award'), { userId: 'U4', awardNo: 'T3-award', points: 1 }), { ok: false, code: 'ACCOUNT_NOT_FOUND' });
  t.match(await points.reverseAward(key('R3', 'points:reverse'), { userId: 'U4', reverseNo: 'R3-award', points: 1 }), { ok: false, code: 'ACCOUNT_NOT_FOUND' });
});

t.test('coupon issue makes an available TPL-WASH5 coupon valid 90 days from the clock', async (t) => {
  const now = Date.parse('2026-06-01T00:00:00Z');
  const { systems: { coupon } } = openSims(t, { clock: { now: () => now } });
  t.same(await coupon.issue(key('T1', 'coupon:issue'), { userId: 'U3', issueNo: 'T1-reward-1', templateId: 'TPL-WASH5' }), { ok: true, couponId: 'CP-T1-reward-1' });
  t.match(await coupon.listCoupons('U3'), [{ couponId: 'CP9' }, {
    couponId: 'CP-T1-reward-1', userId: 'U3', status: 'available',
    benefit: { type: 'cash', valueFen: 500 }, scope: { kind: 'goods', skus: ['SKU-WASH'] },
    validFrom: '2026-06-01T00:00:00.000Z', validTo: '2026-08-30T00:00:00.000Z',
  }]);
  t.match(await coupon.issue(key('T2', 'coupon:issue'), { userId: 'U3', issueNo: 'T2-reward-1', templateId: 'TPL-NOPE' }), { ok: false, code: 'TEMPLATE_NOT_FOUND' });
  t.match(await coupon.issue(key('T3', 'coupon:issue'), { userId: 'U9', issueNo: 'T3-reward-1', templateId: 'TPL-WASH5' }), { ok: false, code: 'USER_NOT_FOUND' });
});

t.test('coupon revoke removes an unused coupon and is refused with COUPON_USED once it is used or locked', async (t) => {
  const { systems: { coupon }, store } = openSims(t);
  const issue = (n: number) => coupon.issue(key(`T${n}`, 'coupon:issue'), { userId: 'U3', issueNo: `T${n}-reward-1`, templateId: 'TPL-WASH5' });
  await issue(1);
  t.same(await coupon.revoke(key('R1', 'coupon:revoke'), { userId: 'U3', couponId: 'CP-T1-reward-1' }), { ok: true, couponId: 'CP-T1-reward-1' });
  t.equal(coupon.peekCoupon('CP-T1-reward-1'), null);

  await issue(2);
  await coupon.lock(key('T9', 'coupons:lock'), { lockKey: 'T9:coupons', userId: 'U3', couponIds: ['CP-T2-reward-1'] });
  t.match(await coupon.revoke(key('R2', 'coupon:revoke'), { userId: 'U3', couponId: 'CP-T2-reward-1' }), { ok: false, code: 'COUPON_USED' });
  await coupon.use(key('T9', 'coupons:use'), { lockKey: 'T9:coupons' });
  t.match(await coupon.revoke(key('R3', 'coupon:revoke'), { userId: 'U3', couponId: 'CP-T2-reward-1' }), { ok: false, code: 'COUPON_USED' });
  t.match(coupon.peekCoupon('CP-T2-reward-1'), { status: 'used' });

  t.match(await coupon.revoke(key('R4', 'coupon:revoke'), { userId: 'U1', couponId: 'CP-T2-reward-1' }), { ok: false, code: 'COUPON_NOT_FOUND' }, "another user's coupon reads as unknown");
  t.equal(store.effects({ system: 'coupon', verb: 'revoke' }).length, 1);
});

t.test('PUT /sim/faults accepts every post-payment system and operation', async (t) => {
  const sims = openSims(t);
  const app = Fastify();
  await app.register(simAdminRoutes, { prefix: '/sim', sims });
  t.teardown(() => app.close());
  for (const c of VERBS) t.ok(SIMULATED_OPERATIONS[c.system].includes(c.verb), `${c.system}.${c.verb} is a fault operation`);
  for (const system of ['marketing', 'campaign', 'settlement', 'push', 'invoice', 'notify', 'os'] as const) {
    const put = await app.inject({ method: 'PUT', url: `/sim/faults/${system}`, payload: { '*': { outage: true } } });
    t.equal(put.statusCode, 200, system);
  }
  await t.rejects(sims.systems.os.deliverEvent(key('T1', 'os-event:1'), osEvent({ txnNo: 'T1', orderNo: 'O1', stationId: 'S1' })), { name: 'DownstreamUnavailableError', system: 'os' });
});
