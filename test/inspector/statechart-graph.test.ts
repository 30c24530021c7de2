import t from 'tap';
import { transactionMachine } from '../../machines/transaction.machine.ts';
import { paymentLegMachine } from '../../machines/payment-leg.machine.ts';
import { MACHINES_BY_ID } from '../../machines/registry.ts';
import { edgeLines, layoutStatechart, type StatechartLayout } from '../../http/inspector/statechart-layout.ts';
import { ManualClock } from '../../runtime/clock.ts';
import { activeNodeIds, statechartGraph } from '../../runtime/statechart-graph.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { DEMO_KEY, eventually, FUEL_SALE, keyEntry, startHarness } from '../helpers/harness.ts';

const NOON = Date.parse('2026-11-25T12:00:00+08:00');

t.test('reads every state node of the transaction machine from its definition, with parents and initial children', async (t) => {
  const graph = statechartGraph(transactionMachine);
  const node = (id: string) => graph.nodes.find((n) => n.id === id);
  t.equal(graph.root, 'transaction');
  t.same(
    graph.nodes.filter((n) => n.parent === 'transaction').map((n) => n.key),
    ['quoted', 'ordering', 'ordered', 'paying', 'paid', 'completed', 'unwinding', 'cancelled', 'failed'],
    'top-level states in the order the machine lists them',
  );
  t.equal(node('transaction')?.initial, 'transaction.quoted');
  t.equal(node('transaction.paying.collecting')?.parent, 'transaction.paying');
  t.equal(node('transaction.paying')?.initial, 'transaction.paying.collecting');
  t.same(node('transaction.paid.markingOrderPaid')?.invokes, ['markOrderPaid'], 'the call a working state waits for');
  t.ok(node('transaction.paid.markingOrderPaid')?.tags.includes('working'));
  t.equal(statechartGraph(paymentLegMachine).nodes.find((n) => n.key === 'succeeded')?.type, 'final');
});

t.test('draws state-changing transitions as edges with their events and guards, and lists context-only events on their node', async (t) => {
  const graph = statechartGraph(transactionMachine);
  const edge = (source: string, target: string) => graph.edges.filter((e) => e.source === source && e.target === target);
  t.same(edge('transaction.ordered', 'transaction.paying').map((e) => [e.label, e.guards]), [['PAY', [null]]]);
  t.same(
    edge('transaction.ordering.lockingHold', 'transaction.unwinding').map((e) => [e.label, e.guards]),
    [['done: lockHold', ['unavailable', null]]],
    'two guarded transitions between the same states are one edge, guards in priority order',
  );
  t.same(edgeLines(edge('transaction.ordering.lockingHold', 'transaction.unwinding')[0]!), ['done: lockHold', '[unavailable]', '[else]']);
  t.same(edge('transaction.ordering.nextHold', 'transaction.ordering.lockingHold').map((e) => edgeLines(e)), [['[holdToLockBeforeOrder]']], 'an eventless transition reads as its guard');
  t.ok(graph.nodes.find((n) => n.id === 'transaction.paying')?.handles.includes('LEG_PENDING'), 'LEG_PENDING changes only the context');
  t.notOk(graph.edges.some((e) => e.event === 'LEG_PENDING'), 'and is not drawn as a self-loop');
  for (const [name, machine] of Object.entries(MACHINES_BY_ID)) {
    const g = statechartGraph(machine);
    const ids = new Set(g.nodes.map((n) => n.id));
    t.ok(g.edges.every((e) => ids.has(e.source) && ids.has(e.target)), `${name}: every edge joins two of its nodes`);
    t.equal(name, machine.id, `${name} is registered under its machine id, the name its parent spawns it by`);
  }
});

t.test('lights a nested active state and its ancestors', async (t) => {
  t.same(activeNodeIds('transaction', { paying: 'collecting' }), ['transaction', 'transaction.paying', 'transaction.paying.collecting']);
  t.same(activeNodeIds('paymentLeg', 'pending'), ['paymentLeg', 'paymentLeg.pending']);
  t.same(activeNodeIds('transaction', null), ['transaction']);
});

/** True when `p` lies on or inside `box`, give or take `slack` px. */
const within = (p: { x: number; y: number }, box: { x: number; y: number; width: number; height: number }, slack = 1) =>
  p.x >= box.x - slack && p.x <= box.x + box.width + slack && p.y >= box.y - slack && p.y <= box.y + box.height + slack;

t.test('lays out every machine with each state inside its parent and each edge running from its source to its target', async (t) => {
  for (const [name, machine] of Object.entries(MACHINES_BY_ID)) {
    const layout: StatechartLayout = await layoutStatechart(statechartGraph(machine));
    const box = new Map(layout.nodes.map((n) => [n.id, n]));
    for (const n of layout.nodes) {
      t.ok(n.width > 0 && n.height > 0, `${name}: ${n.id} has a size`);
      const parent = n.parent ? box.get(n.parent) : null;
      if (parent) t.ok(within(n, parent) && within({ x: n.x + n.width, y: n.y + n.height }, parent), `${name}: ${n.id} sits inside ${n.parent}`);
    }
    for (const e of layout.edges) {
      t.ok(e.points.length >= 2, `${name}: ${e.id} is routed`);
      t.ok(within(e.points[0]!, box.get(e.source)!, 2), `${name}: ${e.id} leaves its source`);
      t.ok(within(e.points.at(-1)!, box.get(e.target)!, 2), `${name}: ${e.id} reaches its target`);
      t.ok(e.labelBox && within(e.labelBox, { x: 0, y: 0, width: layout.width, height: layout.height }), `${name}: ${e.id} has its label on the canvas`);
    }
  }
});

t.test('serves the page without a key and its data only with the admin key', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON), config: { apiKeys: [keyEntry('pos-key', { system: 'pos', scopes: ['trade'], merchants: ['M1'] })] } });
  for (const [path, type] of [['/inspect', 'text/html'], ['/inspect/app.js', 'text/javascript'], ['/inspect/app.css', 'text/css']] as const) {
    const res = await fetch(`${h.url}${path}`);
    t.equal(res.status, 200, path);
    t.match(res.headers.get('content-type'), type);
  }
  t.notMatch(await (await fetch(`${h.url}/inspect`)).text(), /https?:\/\//, 'nothing loaded from elsewhere');
  t.equal((await fetch(`${h.url}/inspect/api/statecharts`)).status, 401);
  t.equal((await fetch(`${h.url}/inspect/api/statecharts`, { headers: { authorization: 'Bearer pos-key' } })).status, 403);
  const charts = await h.api<{ statecharts: Record<string, StatechartLayout> }>('GET', '/inspect/api/statecharts');
  t.equal(charts.status, 200);
  t.same(Object.keys(charts.body.statecharts).sort(), ['latePayment', 'paymentLeg', 'refund', 'refundLeg', 'transaction']);
  t.ok(charts.body.statecharts.transaction!.nodes.some((n) => n.id === 'transaction.paid.markingOrderPaid'));
});

type Detail = {
  view: TransactionView & { tasks: { task: string; status: string }[] };
  actors: { path: string; machine: string; value: unknown; active: string[] }[];
  journal: { seq: number; path: string; event: string; to: unknown; toActive: string[] }[];
};

t.test('shows a refunded mixed payment as a tree of actors, each journal entry placed on its actor', async (t) => {
  const h = await startHarness(t, { clock: new ManualClock(NOON) });
  const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  const txnNo = started.body.txnNo;
  const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-wechat' });
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${txnNo}/payments`, {
    legs: [
      { method: 'stored_value', cardNo: 'C1', amount: 20_000 },
      { method: 'wechat', amount: ordered.body.payableAmount - 20_000 },
    ],
  });
  await h.tc.sims!.gateway.pay(paying.body.legs[1]!.paymentNo);
  await eventually(() => h.api<TransactionView>('GET', `/v1/transactions/${txnNo}`), (r) => r.body.state === 'completed');
  const refunds: string[] = [];
  for (const amount of [3_000, 2_000]) {
    const refund = await h.api<{ refundNo: string }>('POST', `/v1/transactions/${txnNo}/refunds`, { amount, reason: 'pump stopped early' });
    refunds.push(refund.body.refundNo);
    await eventually(() => h.api<{ status: string }>('GET', `/v1/transactions/${txnNo}/refunds/${refund.body.refundNo}`), (r) => r.body.status === 'succeeded');
  }

  const detail = await h.api<Detail>('GET', `/inspect/api/transactions/${txnNo}`);
  t.equal(detail.status, 200);
  const actor = (path: string) => detail.body.actors.find((a) => a.path === path);
  t.same(actor('transaction')?.active, ['transaction', 'transaction.completed']);
  t.equal(actor('leg-1')?.value, 'succeeded');
  t.equal(actor('leg-2')?.machine, 'paymentLeg');
  for (const refundNo of refunds) {
    t.equal(actor(`refund-${refundNo}`)?.value, 'finished', `refund ${refundNo} finished`);
    const legs = detail.body.actors.filter((a) => a.path.startsWith(`refund-${refundNo}/`));
    t.ok(legs.length >= 1 && legs.every((l) => l.machine === 'refundLeg' && l.value === 'succeeded'), `refund ${refundNo} has its own refund legs`);
    for (const leg of legs) {
      const entries = detail.body.journal.filter((e) => e.path === leg.path);
      t.ok(entries.length >= 2, `${leg.path} has its own journal entries`);
      t.same(entries.at(-1)?.to, leg.value, `${leg.path}'s last entry ends where the actor is`);
    }
  }
  t.same(detail.body.journal.map((e) => e.seq), [...detail.body.journal.map((e) => e.seq)].sort((a, b) => a - b), 'in journal order');
  t.ok(detail.body.journal.every((e) => e.toActive.length > 0), 'every entry knows the states it lit');

  const listed = await h.api<{ items: { txnNo: string }[] }>('GET', `/inspect/api/transactions?q=${ordered.body.orderNo}`);
  t.same(listed.body.items.map((i) => i.txnNo), [txnNo], 'found by its order number');
  t.same((await h.api<{ items: unknown[] }>('GET', '/inspect/api/transactions?q=T-none')).body.items, []);
  t.same((await h.api<{ items: { txnNo: string }[] }>('GET', '/inspect/api/transactions?state=completed')).body.items.map((i) => i.txnNo), [txnNo]);
  t.same((await h.api<{ items: unknown[] }>('GET', '/inspect/api/transactions?needsAttention=true')).body.items, []);
  t.equal((await h.api('GET', '/inspect/api/transactions/T-none')).status, 404);
});
