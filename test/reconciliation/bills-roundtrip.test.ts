import Fastify from 'fastify';
import t from 'tap';
import { chinaDayBounds, channelFeeFen, shiftDay } from '../../domain/reconciliation/bill-format.ts';
import type { BillRow } from '../../domain/reconciliation/bill-row.ts';
import { parseBill, type BillCheck } from '../../domain/reconciliation/parse-bill.ts';
import { BILL_INJECTION_KINDS } from '../../systems/payment-gateway/bills/channel-bills.ts';
import type { BillFact } from '../../systems/payment-gateway/bills/render.ts';
import { simBillRoutes, wechatBillRoutes } from '../../systems/payment-gateway/bills/routes.ts';
import { CHANNELS, DAY, simulatedDay } from './bill-day.ts';

/** Splits bytes into small chunks, so multi-byte characters and lines straddle chunk ends. */
function* chunks(bytes: Uint8Array, size = 97): Generator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function parsed(channel: BillRow['channel'], bytes: Uint8Array): Promise<{ rows: BillRow[]; check: BillCheck | null }> {
  const rows: BillRow[] = [];
  let check: BillCheck | null = null;
  for await (const e of parseBill(channel, chunks(bytes))) {
    if (e.type === 'row') rows.push(e.row);
    else check = e.check;
  }
  return { rows, check };
}

/** What a bill can carry of a fact: times to the second. */
const comparable = (f: BillFact | BillRow) => ({
  kind: f.kind, merchantRef: f.merchantRef, paymentNo: f.paymentNo, channelRef: f.channelRef, channelTradeNo: f.channelTradeNo,
  merchantId: f.merchantId, status: f.status, amountFen: f.amountFen, feeFen: f.feeFen, at: new Date(Math.floor(Date.parse(f.at) / 1000) * 1000).toISOString(),
});

t.test('every channel\'s bill of a simulated day parses back to exactly the rows the generator put in it, totals checked', async (t) => {
  const { sims } = await simulatedDay(t);
  const { startMs, endMs } = chinaDayBounds(DAY);
  for (const channel of CHANNELS) {
    const got = sims.bills.bill(channel, DAY);
    if (!got.ok) throw new Error(got.message);
    const facts = sims.bills.facts(channel, DAY);
    const { rows, check } = await parsed(channel, got.file.bytes);
    t.same(rows.map(comparable), facts.map(comparable), `${channel}: rows round-trip`);
    t.equal(check?.ok, true, `${channel}: the stated totals match the rows (${check?.problems.join('; ')})`);
    t.equal(rows.length, 10, `${channel}: 6 payments and 4 refunds of D, not D+1's payment nor the unpaid ones`);
    t.ok(rows.every((r) => Date.parse(r.at) >= startMs && Date.parse(r.at) < endMs), `${channel}: every row is on D, China time`);
    t.ok(rows.every((r) => r.feeFen === channelFeeFen(channel, r.kind, r.amountFen)), `${channel}: fees at the configured rate`);
    t.equal(rows.filter((r) => r.kind === 'refund').length, 4, `${channel}: refunds are rows of their own`);
  }
  const next = sims.bills.bill('wechat', shiftDay(DAY, 1));
  t.equal(next.ok, false, 'the next day\'s bill is not ready while that day runs');
});

t.test('every kind of discrepancy is planted into the bill exactly as recorded', async (t) => {
  const { sims, clock } = await simulatedDay(t);
  clock.ms = chinaDayBounds(shiftDay(DAY, 1)).endMs;
  for (const channel of CHANNELS) {
    const clean = new Map(sims.bills.facts(channel, DAY).map((f) => [f.merchantRef, f]));
    const cleanNext = new Map(sims.bills.facts(channel, shiftDay(DAY, 1)).map((f) => [f.merchantRef, f]));
    const planted = BILL_INJECTION_KINDS.map((kind) => sims.bills.inject({ channel, date: DAY, kind, ...(kind === 'platform_over_status' ? { rowKind: 'refund' as const } : {}) }));
    const got = sims.bills.bill(channel, DAY);
    const gotNext = sims.bills.bill(channel, shiftDay(DAY, 1));
    if (!got.ok || !gotNext.ok) throw new Error('bill not ready');
    const { rows, check } = await parsed(channel, got.file.bytes);
    const next = await parsed(channel, gotNext.file.bytes);
    t.equal(check?.ok, true, `${channel}: a bill with planted rows still adds up`);
    const byRef = new Map(rows.map((r) => [r.merchantRef, r]));
    const nextByRef = new Map(next.rows.map((r) => [r.merchantRef, r]));
    const by = (kind: string) => planted.find((p) => p.kind === kind)!;
    t.notOk(byRef.has(by('channel_missing').merchantRef), `${channel}: the missing row is gone`);
    t.ok(clean.has(by('channel_missing').merchantRef), `${channel}: and was there before`);
    t.notOk(clean.has(by('platform_missing').merchantRef), `${channel}: the unknown row is new`);
    t.equal(byRef.get(by('platform_missing').merchantRef)?.status, 'succeeded', `${channel}: and is paid`);
    const short = byRef.get(by('platform_short_status').merchantRef);
    t.equal(short?.status, 'succeeded', `${channel}: a payment we never saw paid is paid on the bill`);
    t.not(sims.gateway.peekPayment(by('platform_short_status').paymentNo)?.status, 'succeeded', `${channel}: while ours is not`);
    t.equal(byRef.get(by('platform_over_status').merchantRef)?.status, 'failed', `${channel}: a refund we count paid failed on the bill`);
    t.equal(byRef.get(by('platform_over_status').merchantRef)?.kind, 'refund');
    const up = by('platform_short_amount');
    t.equal(byRef.get(up.merchantRef)?.amountFen, clean.get(up.merchantRef)!.amountFen + 100, `${channel}: amount larger on the bill`);
    const down = by('platform_over_amount');
    t.equal(byRef.get(down.merchantRef)?.amountFen, clean.get(down.merchantRef)!.amountFen - 100, `${channel}: amount smaller on the bill`);
    const fee = by('fee_mismatch');
    t.equal(byRef.get(fee.merchantRef)?.feeFen, clean.get(fee.merchantRef)!.feeFen + 1, `${channel}: fee off by a fen`);
    const out = by('midnight_next');
    t.ok(clean.has(out.merchantRef) && !byRef.has(out.merchantRef) && nextByRef.has(out.merchantRef), `${channel}: a late row moved to the next day`);
    t.equal(out.onBill, shiftDay(DAY, 1));
    const into = by('midnight_previous');
    t.ok(cleanNext.has(into.merchantRef) && byRef.has(into.merchantRef) && !nextByRef.has(into.merchantRef), `${channel}: an early row moved to the day before`);
    for (const p of [out, into]) {
      const moved = Date.parse(p.billAt!);
      t.ok(Math.abs(moved - chinaDayBounds(DAY).endMs) <= 10 * 60_000, `${channel}: ${p.kind} stays within 10 minutes of midnight`);
    }
    t.equal(rows.length, clean.size - 1 + 1 + 1 - 1 + 1, `${channel}: one dropped, two added, one moved out, one moved in`);
  }
  t.equal(sims.bills.planted({ date: DAY }).length, BILL_INJECTION_KINDS.length * CHANNELS.length, 'each planted item is recorded');
  sims.bills.inject({ channel: 'wechat', date: DAY, kind: 'platform_short_status' });
  t.throws(() => sims.bills.inject({ channel: 'wechat', date: DAY, kind: 'platform_short_status' }), /fits/, 'with both unpaid payments planted, a third is refused');
});

t.test('WeChat\'s download answers a hash and a link; the file at the link has that SHA-1; an unfinished day is STATEMENT_CREATING', async (t) => {
  const { sims, clock } = await simulatedDay(t);
  const app = Fastify();
  await app.register(wechatBillRoutes, { bills: sims.bills });
  await app.register(simBillRoutes, { bills: sims.bills, prefix: '/sim' });
  t.teardown(() => app.close());

  const asked = await app.inject({ method: 'GET', url: `/v3/bill/tradebill?bill_date=${DAY}&bill_type=ALL` });
  t.equal(asked.statusCode, 200);
  const { hash_type, hash_value, download_url } = asked.json<{ hash_type: string; hash_value: string; download_url: string }>();
  t.equal(hash_type, 'SHA1');
  const file = await app.inject({ method: 'GET', url: new URL(download_url).pathname + new URL(download_url).search });
  t.equal(file.statusCode, 200);
  const { createHash } = await import('node:crypto');
  t.equal(createHash('sha1').update(file.rawPayload).digest('hex'), hash_value, 'the file hashes to hash_value');
  t.match(file.body, /^交易时间,公众账号ID,/);

  clock.ms = chinaDayBounds(DAY).endMs - 1000;
  const early = await app.inject({ method: 'GET', url: `/v3/bill/tradebill?bill_date=${DAY}&bill_type=ALL` });
  t.equal(early.statusCode, 400);
  t.equal(early.json<{ code: string }>().code, 'STATEMENT_CREATING', 'a day not over yet has no bill');
  clock.ms = chinaDayBounds(DAY).endMs + 3600_000;

  const planted = await app.inject({ method: 'POST', url: '/sim/bills/injections', payload: { channel: 'alipay', date: DAY, kind: 'fee_mismatch', deltaFen: 3 } });
  t.equal(planted.statusCode, 201);
  const listed = await app.inject({ method: 'GET', url: `/sim/bills/injections?channel=alipay&date=${DAY}` });
  t.equal(listed.json<{ planted: unknown[] }>().planted.length, 1, 'the admin route lists what was planted');
  const zip = await app.inject({ method: 'GET', url: `/sim/bills/alipay/${DAY}` });
  t.equal(zip.headers['content-type'], 'application/zip');
  const { rows, check } = await parsed('alipay', zip.rawPayload);
  t.equal(check?.ok, true);
  t.equal(rows.length, 10);
  const stale = await app.inject({ method: 'GET', url: new URL(download_url).pathname + new URL(download_url).search });
  t.equal(stale.statusCode, 200, 'an alipay injection does not change the wechat bill');
  const refused = await app.inject({ method: 'POST', url: '/sim/bills/injections', payload: { channel: 'wechat', date: DAY, kind: 'midnight_previous', merchantRef: 'nope' } });
  t.equal(refused.statusCode, 409, 'an injection with nothing to change is refused');
});
