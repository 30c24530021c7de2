import { randomUUID } from 'node:crypto';
import t, { type Test } from 'tap';
import { ManualClock } from '../../runtime/clock.ts';
import type { TradeCenterConfig } from '../../runtime/trade-center.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { DEFAULT_OS_SYNC, OsSync } from '../../runtime/os-sync.ts';
import type { CallKey } from '../../systems/contract.ts';
import type { OsOrderEvent, OsPort } from '../../systems/os/port.ts';
import { openSqliteStorage } from '../../storage/sqlite/storage.ts';
import { osCommand } from '../../bin/commands/os.ts';
import { parseResyncFrom } from '../../http/routes/os.ts';
import { captureIo } from '../cli/helpers.ts';
import { apiClient, DEMO_KEY, FUEL_SALE, keyEntry, startHarness, type Harness } from '../helpers/harness.ts';
import { startRedisServer } from '../helpers/redis-server.ts';

const HOUR = 3_600_000;

const BACKENDS: { name: string; config: (t: Test) => Promise<Partial<TradeCenterConfig>> }[] = [
  { name: 'SQLite', config: async () => ({}) },
  {
    name: 'Redis',
    config: async (t) => {
      const server = await startRedisServer();
      t.teardown(() => server.stop());
      return { storage: { kind: 'redis', url: server.url, prefix: `tc-os-${randomUUID().slice(0, 8)}` } };
    },
  },
];

/** S1 and S2 are in group G1 (merchant M1), S3 in G2 (merchant M2): demo/dataset.json. */
const STATIONS = [
  { stationId: 'S1', merchantId: 'M1' },
  { stationId: 'S2', merchantId: 'M1' },
  { stationId: 'S3', merchantId: 'M2' },
] as const;

function sale(stationId: string, merchantId: string, amount: number) {
  return { ...FUEL_SALE, stationId, merchantId, items: [{ type: 'fuel', nozzleNo: 1, amount }], paymentMethods: ['stored_value'], legs: [{ method: 'stored_value', cardNo: 'C1', amount: 'rest' }] };
}

/** Sells at every station: paid sales, a partly then fully refunded one, and a cancelled order. Returns the order numbers. */
async function trade(h: Harness, round: number): Promise<string[]> {
  const orders: string[] = [];
  for (const [i, s] of STATIONS.entries()) {
    const paid = await h.api<TransactionView>('POST', '/v1/checkout', sale(s.stationId, s.merchantId, 3000 + round * 10 + i));
    if (paid.body.state !== 'completed') throw new Error(`checkout failed: ${JSON.stringify(paid.body)}`);
    orders.push(paid.body.orderNo!);
    const refunded = await h.api<TransactionView>('POST', '/v1/checkout', sale(s.stationId, s.merchantId, 3000));
    if (refunded.body.state !== 'completed') throw new Error(`checkout failed: ${JSON.stringify(refunded.body)}`);
    for (const amount of [1000, undefined]) {
      const r = await h.api<{ refundNo: string }>('POST', `/v1/transactions/${refunded.body.txnNo}/refunds`, { ...(amount ? { amount } : {}), reason: 'returned' });
      if (r.status !== 202 && r.status !== 201) throw new Error(`refund failed: ${JSON.stringify(r.body)}`);
      await until(async () => (await h.api<{ status: string }>('GET', `/v1/transactions/${refunded.body.txnNo}/refunds/${r.body.refundNo}`)).body.status === 'succeeded');
    }
    orders.push(refunded.body.orderNo!);
    const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...sale(s.stationId, s.merchantId, 700), legs: undefined });
    const { quoteId, combos } = started.body.quote;
    const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId, comboId: combos[0]!.comboId });
    orders.push(ordered.body.orderNo!);
    const cancelled = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/cancel`, {});
    if (cancelled.body.state !== 'cancelled') throw new Error(`cancel failed: ${JSON.stringify(cancelled.body)}`);
  }
  return orders;
}

/** Waits on the machines settling (refund legs answer asynchronously), never on the wall clock for a fixed time. */
async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((r) => setImmediate(r));
  }
}

/** Each station's events at the OS: every event of the outbox once, in station order, each order's events 1, 2, … in order. */
async function checkOs(t: Test, h: Harness, label: string): Promise<number> {
  const os = h.tc.sims!.systems.os;
  let total = 0;
  for (const { stationId } of STATIONS) {
    const got = os.peekEvents(stationId);
    const cursor = await h.tc.storage.osOutbox.cursor(stationId);
    const outbox = await h.tc.storage.osOutbox.events(stationId, 0, 10_000);
    t.equal(got.length, outbox.length, `${label}: ${stationId} holds each of its ${outbox.length} events once`);
    t.same(got.map((e) => e.stationSeq), outbox.map((e) => e.stationSeq), `${label}: ${stationId} got them in station order`);
    t.same(got.map((e) => `${e.orderNo}#${e.eventSeq}:${e.kind}`), outbox.map((e) => `${e.orderNo}#${e.eventSeq}:${e.kind}`), `${label}: ${stationId} got what was recorded`);
    t.equal(cursor.pending, 0, `${label}: ${stationId} has nothing pending`);
    const byOrder = new Map<string, OsOrderEvent[]>();
    for (const e of got) byOrder.set(e.orderNo, [...(byOrder.get(e.orderNo) ?? []), e]);
    for (const [orderNo, events] of byOrder) {
      if (JSON.stringify(events.map((e) => e.eventSeq)) !== JSON.stringify(events.map((_, i) => i + 1))) t.fail(`${orderNo}: events out of order ${events.map((e) => e.eventSeq)}`);
      if (events[0]!.kind !== 'placed') t.fail(`${orderNo}: first event ${events[0]!.kind}`);
    }
    total += got.length;
  }
  return total;
}

for (const backend of BACKENDS) {
  t.test(`${backend.name}: after an hour of OS outage every station's OS holds each order event once and in order, and again after a resync from a date`, async (t) => {
    const clock = new ManualClock(Date.parse('2026-12-01T09:00:00+08:00'));
    // The breaker measures wall time (cockatiel): kept shut, so the outbox's own backoff on the clock is what is tested.
    const h = await startHarness(t, { clock, config: { breaker: { afterFailures: 100_000, halfOpenAfterMs: 10 }, ...(await backend.config(t)) } });
    const os = h.tc.sims!.systems.os;
    await h.sims.faults.os.configure({ deliverEvent: { outage: true } });
    const orders = [...(await trade(h, 0))];
    for (let minute = 0; minute < 60; minute++) {
      clock.advance(60_000);
      t.equal(await h.tc.osSync.runDue(), 0);
      if (minute === 30) orders.push(...(await trade(h, 1)));
    }
    for (const { stationId } of STATIONS) t.equal(os.peekEvents(stationId).length, 0, `${stationId}: nothing reached OS while it was down`);
    const status = await h.tc.osSync.status();
    t.same(status.map((s) => s.stationId), ['S1', 'S2', 'S3']);
    t.ok(status.every((s) => s.pending === 16 && s.deliveredSeq === 0 && s.failures > 0 && s.lastError !== null), 'each station: 2 rounds x 8 events (placed and paid; placed, paid, refunded twice; placed and cancelled) pending, retrying');

    await h.sims.faults.os.clear();
    clock.advance(HOUR);
    t.equal(await h.tc.osSync.runDue(), 48, 'every pending event delivered in one pass once OS is back');
    const delivered = await checkOs(t, h, 'after the outage');
    t.equal(delivered, 48);
    // Each order is placed; a paid one paid; the refunded one refunded twice; the cancelled one cancelled.
    const kinds = os.peekEvents('S1').filter((e) => e.orderNo === orders[1]).map((e) => e.kind);
    t.same(kinds, ['placed', 'paid', 'refunded', 'refunded']);
    t.same(os.peekEvents('S1').filter((e) => e.orderNo === orders[2]).map((e) => e.kind), ['placed', 'cancelled']);

    // A resync from the second round's date re-delivers from there: OS's idempotency keeps each once.
    const resyncFrom = Date.parse('2026-12-01T09:31:00+08:00');
    const back = await h.tc.osSync.resync('S1', resyncFrom);
    t.ok(back > 0 && back < 16, `the cursor went back to ${back}`);
    t.equal((await h.tc.storage.osOutbox.cursor('S1')).pending, 16 - back);
    t.equal(await h.tc.osSync.runDue(), 16 - back, 'the events since that date were sent again');
    t.equal(await checkOs(t, h, 'after the resync'), 48);
    // Every order sold, checked against what was sold (not only against the outbox): each round at
    // each station is a paid sale, a sale refunded twice and a cancelled order, in that order.
    const expected = [['placed', 'paid'], ['placed', 'paid', 'refunded', 'refunded'], ['placed', 'cancelled']];
    for (const [i, orderNo] of orders.entries()) {
      const station = STATIONS[Math.floor(i / 3) % 3]!.stationId;
      t.same(os.peekEvents(station).filter((e) => e.orderNo === orderNo).map((e) => `${e.eventSeq}:${e.kind}`), expected[i % 3]!.map((k, j) => `${j + 1}:${k}`), `${orderNo} at ${station}: every event once, in order`);
    }
  });

  t.test(`${backend.name}: two deliverers at once (two processes' loops, each on its own connection) send each station's events once, one deliverer per station at a time`, async (t) => {
    const clock = new ManualClock(Date.parse('2026-12-03T09:00:00+08:00'));
    const h = await startHarness(t, { clock, config: { breaker: { afterFailures: 100_000, halfOpenAfterMs: 10 }, ...(await backend.config(t)) } });
    await trade(h, 0);
    const os = h.tc.sims!.systems.os;
    // Every call OS gets, and how many run at once per station (each waits a turn of the loop, so two loops would overlap).
    const sent: string[] = [];
    const inFlight = new Map<string, number>();
    let overlap = 0;
    const watched: OsPort = {
      deliverEvent: async (key: CallKey, e: OsOrderEvent) => {
        sent.push(`${e.stationId}#${e.stationSeq}`);
        const n = (inFlight.get(e.stationId) ?? 0) + 1;
        inFlight.set(e.stationId, n);
        overlap = Math.max(overlap, n);
        try {
          await new Promise((r) => setImmediate(r));
          return await os.deliverEvent(key, e);
        } finally {
          inFlight.set(e.stationId, (inFlight.get(e.stationId) ?? 1) - 1);
        }
      },
    };
    // The second "process": on SQLite a connection of its own to the same file, on Redis the shared server.
    const other = backend.name === 'SQLite' ? openSqliteStorage(h.config.dbPath) : null;
    t.teardown(() => other?.close());
    const loop = (outbox: typeof h.tc.storage.osOutbox) =>
      new OsSync(outbox, watched, h.tc.downstream, (s) => h.tc.routing.groupOf(s), clock, { ...DEFAULT_OS_SYNC, batch: 3 }, h.tc.log);
    const a = loop(h.tc.storage.osOutbox);
    const b = loop(other?.osOutbox ?? h.tc.storage.osOutbox);
    const [byA, byB] = await Promise.all([a.runDue(), b.runDue()]);
    t.equal(byA + byB, 24, `every event delivered once between them (${byA} and ${byB})`);
    t.equal(sent.length, 24, 'OS was sent each event once: no station was delivered by both');
    t.equal(new Set(sent).size, 24);
    t.equal(overlap, 1, 'never two deliveries to one station at the same time');
    t.ok(a.leaseBusy + b.leaseBusy > 0, 'one loop found a station leased by the other and passed it by');
    t.equal(await checkOs(t, h, 'two deliverers'), 24);
    t.equal(await a.runDue() + await b.runDue(), 0, 'the leases were let go and nothing is left');
  });

  t.test(`${backend.name}: a group switched to reading the online orders gets nothing new, its events still recorded; the switch is journalled`, async (t) => {
    const clock = new ManualClock(Date.parse('2026-12-02T09:00:00+08:00'));
    // The breaker measures wall time (cockatiel): kept shut, so the outbox's own backoff on the clock is what is tested.
    const h = await startHarness(t, { clock, config: { breaker: { afterFailures: 100_000, halfOpenAfterMs: 10 }, ...(await backend.config(t)) } });
    const os = h.tc.sims!.systems.os;
    await trade(h, 0);
    t.equal(await h.tc.osSync.runDue(), 24);
    const change = await h.tc.osSync.switchGroup('G1', true, 'test');
    t.match(change, { seq: 1, group: 'G1', readsOnline: true, by: 'test', at: clock.now() });
    await trade(h, 1);
    clock.advance(60_000);
    t.equal(await h.tc.osSync.runDue(), 8, 'only S3 (group G2) is delivered to');
    t.equal(os.peekEvents('S1').length, 8, 'S1 (G1) got nothing new');
    t.equal(os.peekEvents('S2').length, 8, 'S2 (G1) got nothing new');
    t.equal(os.peekEvents('S3').length, 16);
    const status = await h.tc.osSync.status();
    t.match(status.find((s) => s.stationId === 'S1'), { group: 'G1', readsOnline: true, pending: 8, headSeq: 16 });
    t.same((await h.tc.osSync.groupChanges(10)).map((c) => [c.seq, c.group, c.readsOnline]), [[1, 'G1', true]]);
  });
}

t.test('the admin API and trade os show the cursors, resync a station from a day and switch a group, journalled; a key for some merchants is refused', async (t) => {
  const clock = new ManualClock(Date.parse('2026-12-01T09:00:00+08:00'));
  const scoped = 'sk_os_m1_only_0123456789abcdef';
  const h = await startHarness(t, { clock, config: { apiKeys: [keyEntry(scoped, { scopes: ['admin', 'trade', 'refund'], merchants: ['M1'] })] } });
  t.equal(parseResyncFrom('2026-12-01'), Date.parse('2026-12-01T00:00:00+08:00'), 'a day starts at midnight at the stations (UTC+8)');
  t.equal(parseResyncFrom('tomorrow'), null);
  await trade(h, 0);
  t.equal(await h.tc.osSync.runDue(), 24);
  type Cursors = { cursors: { stationId: string; deliveredSeq: number; pending: number; group: string | null; readsOnline: boolean; deliveredAt: string | null }[] };
  const cursors = await h.api<Cursors>('GET', '/admin/os/cursors');
  t.equal(cursors.status, 200);
  t.match(cursors.body.cursors, [
    { stationId: 'S1', group: 'G1', deliveredSeq: 8, pending: 0, readsOnline: false, deliveredAt: new Date(clock.now()).toISOString() },
    { stationId: 'S2', group: 'G1', deliveredSeq: 8 },
    { stationId: 'S3', group: 'G2', deliveredSeq: 8 },
  ]);
  t.equal((await apiClient(h.url, scoped)('GET', '/admin/os/cursors')).status, 403, 'stations span merchants: a key for M1 only may not look');
  t.equal((await h.api('POST', '/admin/os/resync', { stationId: 'S1', from: 'soon' })).status, 400);

  const io = captureIo();
  const run = (...args: string[]) => osCommand(io).parseAsync([...args, '--url', h.url, '--key', DEMO_KEY], { from: 'user' });
  await run('cursors');
  t.match(io.stdout(), /S1\s+│?\s*G1\s+│?\s*8\s+│?\s*8\s+│?\s*0/, 'trade os cursors lists each station');
  await run('resync', '--station', 'S1', '--from', '2026-12-01');
  t.match(io.stdout(), /S1: cursor back to 0, 8 events to deliver again/);
  t.equal(await h.tc.osSync.runDue(), 8);
  t.equal(h.tc.sims!.systems.os.peekEvents('S1').length, 8, 'OS still holds each once');
  await run('switch', '--group', 'G1', '--reads-online');
  t.match(io.stdout(), /change 1 by demo at .*: group G1 reads the online orders: not synced any more/);
  const groups = await h.api<{ readsOnlineGroups: string[]; changes: { seq: number; group: string; readsOnline: boolean; by: string }[] }>('GET', '/admin/os/groups');
  t.same(groups.body.readsOnlineGroups, ['G1']);
  t.match(groups.body.changes, [{ seq: 1, group: 'G1', readsOnline: true, by: 'demo' }]);
  const back = await h.api<{ change: { seq: number; readsOnline: boolean } }>('PUT', '/admin/os/groups/G1', { readsOnline: false });
  t.match(back.body.change, { seq: 2, readsOnline: false });
});
