import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import t from 'tap';
import { archiverConfig } from '../../runtime/archiver.ts';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { FUEL_SALE, startHarness, untilArchivable, type Harness } from '../helpers/harness.ts';

const NOON = Date.parse('2026-11-25T12:00:00+08:00');

async function scrape(h: Harness): Promise<{ text: string; families: ParsedFamily[] }> {
  const res = await fetch(`${h.url}/metrics`);
  if (res.status !== 200) throw new Error(`GET /metrics: ${res.status}`);
  if (!res.headers.get('content-type')?.startsWith('text/plain; version=0.0.4')) throw new Error(`content type ${res.headers.get('content-type')}`);
  const text = await res.text();
  // The parser folds a histogram's labelled series into one (it only handles `le`), so histograms
  // are also read as untyped: `_bucket`, `_sum` and `_count` become families of their own.
  const flat = text.replace(/^# TYPE (\S+) histogram$/gm, '# TYPE $1 untyped');
  return { text, families: [...parsePrometheusTextFormat(text), ...parsePrometheusTextFormat(flat).filter((f) => /_(bucket|sum|count)$/.test(f.name))] };
}

/** The value of one sample with these labels (0 when absent). */
function sample(families: ParsedFamily[], name: string, labels: Record<string, string> = {}): number {
  // Read as untyped, one histogram yields a run of families per series: look through them all.
  const named = families.filter((f) => f.name === name);
  if (named.length === 0) throw new Error(`no metric ${name}`);
  const series = named.flatMap((f) => f.metrics);
  const found = series.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  if (!found) return 0;
  return Number(found.value);
}

async function sale(h: Harness, method: 'stored_value' | 'wechat', then: 'pay' | 'cancel' | 'quote'): Promise<string> {
  const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, userId: 'U4', paymentMethods: [method] });
  if (then === 'quote') return started.body.txnNo;
  const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: `c-${method}` });
  if (then === 'cancel') await h.api('POST', `/v1/transactions/${started.body.txnNo}/cancel`, {});
  else await h.api('POST', `/v1/transactions/${started.body.txnNo}/payments`, { legs: [{ method, amount: ordered.body.payableAmount, ...(method === 'stored_value' ? { cardNo: 'C1' } : {}) }] });
  return started.body.txnNo;
}

t.test('/metrics, parsed as Prometheus text, counts exactly the sales, cancels and quotes that were run', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock });
  const SALES = 3;
  const CANCELS = 2;
  const QUOTES = 1;
  for (let i = 0; i < SALES; i++) await sale(h, 'stored_value', 'pay');
  for (let i = 0; i < CANCELS; i++) await sale(h, 'stored_value', 'cancel');
  for (let i = 0; i < QUOTES; i++) await sale(h, 'wechat', 'quote');
  await h.tc.tasks.runDue();
  await h.tc.host.settle();

  const { families } = await scrape(h);
  t.same(
    ['completed', 'cancelled', 'quoted'].map((state) => sample(families, 'tc_transactions', { state })),
    [SALES, CANCELS, QUOTES],
    'transactions by state, from the store',
  );
  t.equal(sample(families, 'tc_transitions_total', { machine: 'transaction', event: 'xstate.init' }), SALES + CANCELS + QUOTES, 'one start each');
  t.equal(sample(families, 'tc_transitions_total', { machine: 'transaction', event: 'ORDER' }), SALES + CANCELS);
  t.equal(sample(families, 'tc_transitions_total', { machine: 'transaction', event: 'PAY' }), SALES);
  t.equal(sample(families, 'tc_transitions_total', { machine: 'transaction', event: 'CANCEL' }), CANCELS);
  t.equal(sample(families, 'tc_transitions_total', { machine: 'payment-leg', event: 'xstate.init' }), SALES, 'one leg actor per sale');
  t.equal(sample(families, 'tc_task_attempts_total', { system: 'settlement', outcome: 'done' }), SALES, 'settlement ran once per sale');
  t.equal(sample(families, 'tc_tasks_dead_total', { system: 'settlement' }), 0);
  t.equal(sample(families, 'tc_transactions_needs_attention'), 0);
  t.equal(sample(families, 'tc_transactions_stuck'), 0);
  t.equal(sample(families, 'tc_http_request_duration_seconds_count', { method: 'POST', route: '/v1/transactions', status: '201' }), SALES + CANCELS + QUOTES);
  t.equal(sample(families, 'tc_http_request_duration_seconds_count', { method: 'POST', route: '/v1/transactions/:txnNo/payments', status: '200' }), SALES);
  t.equal(sample(families, 'tc_downstream_call_duration_seconds_count', { system: 'order', outcome: 'ok' }) >= SALES * 2 + CANCELS * 2, true, 'order system: create and mark paid / cancel');
  t.equal(sample(families, 'tc_circuit_breaker_state', { system: 'order' }), 0, 'breaker closed');
  t.equal(families.find((f) => f.name === 'tc_downstream_call_duration_seconds')?.type, 'HISTOGRAM');
  const counts = families.filter((f) => f.name === 'tc_downstream_call_duration_seconds_count').flatMap((f) => f.metrics);
  t.ok(counts.length > 5, 'a series per system called');
  t.ok(
    counts.every((c) => sample(families, 'tc_downstream_call_duration_seconds_bucket', { ...c.labels, le: '+Inf' }) === Number(c.value)),
    "every series' +Inf bucket equals its count",
  );
});

t.test('/metrics shows a dead task, needsAttention, a stuck transaction and an open circuit', async (t) => {
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock, config: { breaker: { afterFailures: 2, halfOpenAfterMs: 60 * 60_000 }, paymentTtlMs: 60 * 60_000, queryAfterMs: 60 * 60_000 } });
  h.tc.sims!.faults.settlement.configure({ '*': { outage: true } });
  await sale(h, 'stored_value', 'pay');
  // The settlement circuit opens after 2 faults; a deferred run costs no attempt, so attempts need the circuit to let calls through.
  for (let i = 0; i < 12; i++) {
    await h.tc.tasks.runDue();
    clock.advance(60 * 60_000);
  }
  const { families: open } = await scrape(h);
  t.equal(sample(open, 'tc_circuit_breaker_state', { system: 'settlement' }), 2, 'settlement circuit open');
  t.ok(sample(open, 'tc_task_attempts_total', { system: 'settlement', outcome: 'retry' }) >= 1, 'failed attempts counted');
  t.ok(sample(open, 'tc_task_attempts_total', { system: 'settlement', outcome: 'deferred' }) >= 1, 'runs refused by the open circuit counted apart');

  const dead = await startHarness(t, { clock, config: { breaker: { afterFailures: 1000, halfOpenAfterMs: 10 }, paymentTtlMs: 60 * 60_000, queryAfterMs: 60 * 60_000 } });
  dead.tc.sims!.faults.settlement.configure({ '*': { outage: true } });
  await sale(dead, 'stored_value', 'pay');
  for (let i = 0; i < 10; i++) {
    await dead.tc.tasks.runDue();
    clock.advance(60 * 60_000);
  }
  await sale(dead, 'wechat', 'pay');
  clock.advance(25 * 60_000);
  await dead.tc.host.settle();
  const { families } = await scrape(dead);
  t.equal(sample(families, 'tc_tasks_dead_total', { system: 'settlement' }), 1);
  t.equal(sample(families, 'tc_task_attempts_total', { system: 'settlement', outcome: 'retry' }), 7, '8 attempts: 7 retried, the last one dead');
  t.equal(sample(families, 'tc_transactions_needs_attention'), 1);
  t.equal(sample(families, 'tc_transactions_stuck'), 1, 'the wechat payment idle for 25 minutes');
  t.equal(sample(families, 'tc_transactions', { state: 'paying' }), 1);
});


t.test('/metrics follows the archiver: its backlog and oldest final age, what it archived and let go, its batches and a failed one (issue 18)', async (t) => {
  const QUIET_MS = 2_000;
  const clock = new ManualClock(NOON);
  const h = await startHarness(t, { clock, config: { archive: archiverConfig(QUIET_MS) } });
  // Its own timer (wall time) stops: the test takes each turn.
  await h.tc.archiver.stop();
  for (let i = 0; i < 2; i++) await untilArchivable(h, await sale(h, 'stored_value', 'pay'));

  let { families } = await scrape(h);
  t.equal(sample(families, 'tc_archive_backlog'), 0, 'final, but not quiet long enough yet');
  t.equal(sample(families, 'tc_archive_transactions_archived_total'), 0);
  clock.advance(QUIET_MS + 1_000);
  ({ families } = await scrape(h));
  t.equal(sample(families, 'tc_archive_backlog'), 2, 'two past their quiet period, still in the hot store');
  t.ok(sample(families, 'tc_archive_oldest_final_age_seconds') >= (QUIET_MS + 1_000) / 1000, 'the oldest has been final longer than the quiet period');

  t.equal(await h.tc.archiver.run(), 2);
  ({ families } = await scrape(h));
  t.equal(sample(families, 'tc_archive_transactions_archived_total'), 2);
  t.equal(sample(families, 'tc_archive_transactions_removed_total'), 2);
  t.equal(sample(families, 'tc_archive_batch_duration_seconds_count', { outcome: 'ok' }), 1, 'one batch');
  t.equal(sample(families, 'tc_archive_batch_duration_seconds_bucket', { outcome: 'ok', le: '+Inf' }), 1);
  t.equal(sample(families, 'tc_archive_backlog'), 0, 'worked off');
  t.equal(sample(families, 'tc_archive_oldest_final_age_seconds'), 0, 'nothing final left in the hot store');
  t.equal(sample(families, 'tc_archive_failures_total'), 0);

  // The archive goes down: the batch fails, the sale stays in the hot store and in the backlog.
  await untilArchivable(h, await sale(h, 'stored_value', 'pay'));
  clock.advance(QUIET_MS + 1_000);
  const archive = h.tc.archive;
  const put = archive.put.bind(archive);
  archive.put = () => Promise.reject(new Error('archive unreachable'));
  await t.rejects(h.tc.archiver.run(), /archive unreachable/);
  archive.put = put;
  ({ families } = await scrape(h));
  t.equal(sample(families, 'tc_archive_failures_total'), 1);
  t.equal(sample(families, 'tc_archive_batch_duration_seconds_count', { outcome: 'failed' }), 1);
  t.equal(sample(families, 'tc_archive_transactions_archived_total'), 2, 'nothing more archived');
  t.equal(sample(families, 'tc_archive_backlog'), 1, 'the sale waits for the next turn');
  clock.advance(1_000);
  t.equal(await h.tc.archiver.run(), 1, 'the next turn archives it');
  ({ families } = await scrape(h));
  t.same([sample(families, 'tc_archive_transactions_archived_total'), sample(families, 'tc_archive_backlog')], [3, 0]);
});
