import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Subscription } from 'rxjs';
import { shiftDay } from '../domain/reconciliation/bill-format.ts';
import { actorKind } from './actor-kind.ts';
import { latestDueDay, RECON_CHANNELS } from './reconciler.ts';
import type { BreakerState } from './downstream.ts';
import type { TradeCenter } from './trade-center.ts';

/**
 * Idle this long on the way to rest counts as stuck: longer than the payment TTL (15 min) and
 * the longest retry backoff (10 min), so such a transaction missed a deadline it should have met.
 */
export const STUCK_AFTER_IDLE_MS = 20 * 60_000;

/** Open discrepancies are counted over this many of the latest days due (older ones are a finance backlog, not an alarm). */
export const RECON_OPEN_DAYS = 7;

const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/**
 * The Prometheus metrics of one Trade Center, in its own registry (several run in one test
 * process, and a library must not write to the global one). Counters follow the event buses
 * (transitions, downstream calls, task runs); gauges about stored transactions are read from
 * the store at scrape time, so they are right after a restart and across processes.
 */
export class TradeMetrics {
  readonly registry = new Registry();
  readonly transitions: Counter<'machine' | 'event'>;
  readonly taskAttempts: Counter<'system' | 'outcome'>;
  readonly deadTasks: Counter<'system'>;
  readonly downstreamSeconds: Histogram<'system' | 'outcome'>;
  readonly httpSeconds: Histogram<'method' | 'route' | 'status'>;
  readonly discrepanciesFound: Counter<'channel' | 'kind'>;
  readonly archivedTransactions: Counter;
  readonly archiveRemoved: Counter;
  readonly archiveBatchSeconds: Histogram<'outcome'>;
  readonly archiveFailures: Counter;
  private readonly subscriptions: Subscription[] = [];

  constructor(private readonly tc: TradeCenter) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'tc_' });
    this.transitions = new Counter({ name: 'tc_transitions_total', help: 'Statechart transitions, by machine (actor kind) and event', labelNames: ['machine', 'event'], registers });
    this.taskAttempts = new Counter({
      name: 'tc_task_attempts_total',
      help: 'Post-payment task runs by system and outcome (done, retry, dead; deferred = circuit open, no attempt spent)',
      labelNames: ['system', 'outcome'],
      registers,
    });
    this.deadTasks = new Counter({ name: 'tc_tasks_dead_total', help: 'Tasks that ran out of attempts and wait for a manual retry', labelNames: ['system'], registers });
    this.downstreamSeconds = new Histogram({
      name: 'tc_downstream_call_duration_seconds',
      help: 'Downstream call latency by system and outcome (ok includes refusals; fault = transport fault or timeout)',
      labelNames: ['system', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.httpSeconds = new Histogram({
      name: 'tc_http_request_duration_seconds',
      help: 'HTTP request latency by method, route template and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    new Gauge({
      name: 'tc_circuit_breaker_state',
      help: 'Circuit breaker per downstream system: 0 closed, 1 half-open, 2 open',
      labelNames: ['system'],
      registers,
      collect() {
        this.reset();
        for (const [system, state] of Object.entries(tc.downstream.breakerStates())) this.set({ system }, BREAKER_VALUE[state]);
      },
    });
    const admin = tc.storage.admin;
    const clock = tc.clock;
    // One store read per scrape, shared by the three gauges that need it.
    const stats = onePerScrape(() => admin.stats(clock.now() - STUCK_AFTER_IDLE_MS));
    new Gauge({
      name: 'tc_transactions',
      help: 'Stored transactions by state (the top-level statechart state)',
      labelNames: ['state'],
      registers,
      async collect() {
        const s = await stats();
        this.reset();
        for (const [state, n] of Object.entries(s.byState)) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'tc_transactions_needs_attention',
      help: 'Transactions waiting for a person (a dead task, a refund leg out of attempts)',
      registers,
      async collect() {
        const s = await stats();
        this.set(s.needsAttention);
      },
    });
    new Gauge({
      name: 'tc_transactions_stuck',
      help: `Transactions not at rest (and not merely quoted) untouched for ${STUCK_AFTER_IDLE_MS / 60_000} minutes`,
      registers,
      async collect() {
        const s = await stats();
        this.set(s.idle);
      },
    });
    new Gauge({
      name: 'tc_sentinel_flagged',
      help: 'Transactions the sentinel nudged its maximum number of times without progress: flagged needsAttention (as of its last scan)',
      registers,
      collect() {
        this.set(tc.sentinel.stuckCount());
      },
    });
    new Gauge({
      name: 'tc_sentinel_nudges',
      help: 'Idle transactions this process has nudged since it started',
      registers,
      collect() {
        this.set(tc.sentinel.counters.nudges);
      },
    });
    new Gauge({
      name: 'tc_live_actors',
      help: 'Transaction actors held in memory by this process',
      registers,
      collect() {
        this.set(tc.host.liveCount);
      },
    });
    new Gauge({
      name: 'tc_alerts',
      help: 'Alerts raised by this process: core steps and core tasks that keep failing',
      registers,
      collect() {
        this.set(tc.host.alerts + tc.tasks.alerts);
      },
    });
    this.discrepanciesFound = new Counter({
      name: 'tc_reconciliation_discrepancies_found_total',
      help: "Discrepancies this process's reconciliation runs found first, by channel and kind (a re-run of a day finds none again)",
      labelNames: ['channel', 'kind'],
      registers,
    });
    const recon = tc.storage.reconciliation;
    new Gauge({
      name: 'tc_reconciliation_open_discrepancies',
      help: `Discrepancies waiting for a fix or a person, by channel and kind, over the latest ${RECON_OPEN_DAYS} days due`,
      labelNames: ['channel', 'kind'],
      registers,
      async collect() {
        const last = latestDueDay(clock.now(), tc.config.recon.hour);
        const days = Array.from({ length: RECON_OPEN_DAYS }, (_, i) => shiftDay(last, -i));
        const found = await Promise.all(RECON_CHANNELS.flatMap((channel) => days.map((day) => recon.discrepancies(channel, day))));
        this.reset();
        for (const d of found.flat()) if (d.status === 'open') this.inc({ channel: d.channel, kind: d.kind });
      },
    });
    new Gauge({
      name: 'tc_reconciliation_bill_missing',
      help: "1 while a channel's bill of the previous China day is past its hour (TRADE_RECON_HOUR) and not reconciled: not published yet, or its run failed; alert on it",
      labelNames: ['channel'],
      registers,
      async collect() {
        const day = latestDueDay(clock.now(), tc.config.recon.hour);
        const runs = await Promise.all(RECON_CHANNELS.map((channel) => recon.run(channel, day)));
        this.reset();
        RECON_CHANNELS.forEach((channel, i) => this.set({ channel }, runs[i] ? 0 : 1));
      },
    });
    this.archivedTransactions = new Counter({ name: 'tc_archive_transactions_archived_total', help: "Final transactions this process's archiver wrote to the order archive (new, or a newer version)", registers });
    this.archiveRemoved = new Counter({ name: 'tc_archive_transactions_removed_total', help: "Archived transactions this process's archiver let go from the hot store", registers });
    this.archiveBatchSeconds = new Histogram({
      name: 'tc_archive_batch_duration_seconds',
      help: 'One archive batch: the archive write and the hot-store removals, by outcome (failed: the next turn tries again)',
      labelNames: ['outcome'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.archiveFailures = new Counter({ name: 'tc_archive_failures_total', help: 'Archive batches that failed (archive or hot store unreachable); alert on a rate', registers });
    const archiveAfterMs = tc.config.archive.afterMs;
    // One store read per scrape, shared by the two gauges that need it.
    const finalBacklog = onePerScrape(() => admin.finalBacklog(clock.now() - archiveAfterMs));
    new Gauge({
      name: 'tc_archive_backlog',
      help: 'Final transactions still in the hot store past their quiet period (TRADE_ARCHIVE_AFTER): tasks not done yet, or the archiver behind or failing',
      registers,
      async collect() {
        this.set((await finalBacklog()).count);
      },
    });
    new Gauge({
      name: 'tc_archive_oldest_final_age_seconds',
      help: 'How long the oldest final transaction in the hot store has been final (0: none); above the quiet period it waits for the archiver',
      registers,
      async collect() {
        const oldest = (await finalBacklog()).oldestFinalAt;
        this.set(oldest === null ? 0 : Math.max(0, (clock.now() - oldest) / 1000));
      },
    });
    this.subscriptions.push(
      tc.archiver.batches.subscribe((b) => {
        this.archiveBatchSeconds.observe({ outcome: b.outcome }, b.seconds);
        this.archivedTransactions.inc(b.archived);
        this.archiveRemoved.inc(b.removed);
        if (b.outcome === 'failed') this.archiveFailures.inc();
      }),
      tc.reconciler.runs.subscribe((r) => {
        for (const kind of r.added) this.discrepanciesFound.inc({ channel: r.channel, kind });
      }),
      tc.host.transitions.subscribe((t) => this.transitions.inc({ machine: actorKind(t.actor), event: t.event })),
      tc.downstream.calls.subscribe((c) => this.downstreamSeconds.observe({ system: c.system, outcome: c.outcome }, c.seconds)),
      tc.tasks.attempts.subscribe((a) => {
        this.taskAttempts.inc({ system: a.system, outcome: a.outcome });
        if (a.outcome === 'dead') this.deadTasks.inc({ system: a.system });
      }),
    );
  }

  /** The exposition text and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** Stops following the event buses. */
  close(): void {
    for (const s of this.subscriptions) s.unsubscribe();
    this.registry.clear();
  }
}

/**
 * A read shared by the gauges of one scrape: the gauges collecting together get the one promise,
 * and the next scrape reads again.
 */
function onePerScrape<T>(read: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | null = null;
  return () => {
    pending ??= read().finally(() => queueMicrotask(() => (pending = null)));
    return pending;
  };
}
