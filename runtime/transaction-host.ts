import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Subject } from 'rxjs';
import { createActor, getInitialSnapshot, waitFor, type ActorRefFrom, type AnyActorRef, type InspectionEvent, type SnapshotFrom } from 'xstate';
import { StillWorkingError, TradeError, type Refusal } from '../domain/errors.ts';
import { latePaymentMachine } from '../machines/late-payment.machine.ts';
import { paymentLegMachine } from '../machines/payment-leg.machine.ts';
import { refundLegMachine } from '../machines/refund-leg.machine.ts';
import { refundMachine } from '../machines/refund.machine.ts';
import { transactionMachine } from '../machines/transaction.machine.ts';
import { restoreSnapshot, stampVersions, type SnapshotRestore } from '../machines/snapshot-versions.ts';
import type { TaskSpec } from '../machines/task-spec.ts';
import { AT_REST_STATES, type TxnCommand, type TxnInput } from '../machines/types.ts';
import type { Systems } from '../systems/index.ts';
import type { JournalEntry, OrderArchive, QuoteRecords, SaveQuote, SnapshotStore, TransactionRecord } from '../storage/types.ts';
import { bindCalls, type CallOptions } from './bind-calls.ts';
import type { After, Clock } from './clock.ts';
import type { Leases } from './lease.ts';
import { PollingScheduler, type Scheduler } from './scheduler.ts';
import { SerialPass } from './serial-pass.ts';
import type { Downstream } from './downstream.ts';
import { storedView, UnreadableSnapshot } from './stored-snapshot.ts';
import { osEventsOf } from './os-events.ts';
import { hotRecord, recordOfQuote } from './transaction-reads.ts';
import { buildView, needsAttention, topState, type TransactionView } from './view.ts';
import { isFinal } from './finality.ts';

type TxnActor = ActorRefFrom<typeof transactionMachine>;
type TxnSnapshot = SnapshotFrom<typeof transactionMachine>;

export interface HostOptions extends CallOptions {
  /** Longest a command waits for the machine's reply before giving up on the HTTP side. */
  commandTimeoutMs: number;
  /** Idle actors are dropped from memory after this long (their state is in the store). */
  evictAfterMs: number;
  /** How often due timers are looked for. */
  timerPollMs: number;
  /** A core step retried this many times raises an alert (log + counter), and again each time after. */
  alertAfterAttempts: number;
  /**
   * Fires due durable timers by polling the store (the embedded default's scheduler). False in an
   * API process of a role split (`trade serve --role api`): the worker fires them. Default true.
   */
  firesTimers?: boolean;
  /** Measures `commandTimeoutMs` (real timers without it; the simulation's virtual time). */
  after?: After;
  /** Ids of commands awaiting their reply (stored in the snapshot); seeded in the simulation so a run replays. */
  requestId?: () => string;
  /** Rebinds the provided machine (the simulation's checker tests swap in broken implementations, which may call the ports). */
  adjustMachine?: (machine: ProvidedMachine, systems: Systems) => ProvidedMachine;
}

/** The transaction machine with the runtime's implementations bound. */
export type ProvidedMachine = ReturnType<typeof transactionMachine.provide>;

/** A journal entry as published on the event bus. */
export interface TransitionEvent extends JournalEntry {
  txnNo: string;
}

interface Live {
  txnNo: string;
  actor: TxnActor;
  /** Version of the last stored snapshot (or quote record). */
  version: number;
  /**
   * The transaction is stored as a quote record, not yet as a snapshot (issue 21): saves in
   * `quoted` write the record; the first other save creates the snapshot, continuing its version.
   */
  quoted: boolean;
  createdAt: number;
  journal: JournalEntry[];
  /** Serialises writes so versions are written in order. */
  persisting: Promise<void>;
  persistError: Error | null;
  flushQueued: boolean;
  /** Writes chained on `persisting` and not yet done: an actor with one in flight is not idle. */
  saving: number;
  lastValues: Map<string, unknown>;
  lastUsed: number;
  /** Retry counts already alerted on, by step. */
  alerted: Map<string, number>;
  /** Durable timers as last stored, and how many tasks the scheduler was told of. */
  timers: Record<string, number>;
  tasksScheduled: number;
  /**
   * Specs of tasks the machine asked for since the last stored save (issue 21: not in the
   * snapshot): the next save writes them as task rows, and they are forgotten once it is stored.
   */
  askedTasks: TaskSpec[];
  /** Since when the transaction is final, as last stored (null: not final). */
  finalAt: number | null;
}

/**
 * How long a quoted-only transaction's quote record is kept past its quote's expiry (issue 21):
 * an order within it is refused QUOTE_EXPIRED as before, one after it finds no transaction (404).
 */
export const QUOTE_KEPT_AFTER_EXPIRY_MS = 24 * 3_600_000;

/** The store holds a newer version than this process's copy: reload and apply again. */
class StaleCopy extends Error {}

/** Scale-out parts of the host; absent on the embedded default. */
export interface HostScaleOut {
  /** Wakes up timers and tasks (BullMQ); the default polls the store. */
  scheduler?: Scheduler;
  /** Per-transaction leases across processes (DESIGN.md rule 1). */
  leases?: Leases;
}

/** What the host reads of the order archive: where a transaction no longer in the hot store is found. */
export type ArchiveReads = Pick<OrderArchive, 'get' | 'findTxnNoByOrderNo'>;

/**
 * The actor host (DESIGN.md "Runtime rules"): one writer per transaction, persist after every
 * transition and before acknowledging, load on demand, evict when idle, and at start bring back
 * every transaction with running work or a due timer.
 */
export class TransactionHost {
  /** Alerts raised: a core step past the watershed failing `alertAfterAttempts` times or more. */
  alerts = 0;
  /** Every transition of every transaction as it happens, before it is stored (metrics). */
  readonly transitions = new Subject<TransitionEvent>();
  private readonly live = new Map<string, Live>();
  private readonly loading = new Map<string, Promise<Live | null>>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly firedTimers = new Set<string>();
  /** Notifications waiting their turn, by transaction; later ones join them (see `notify`). */
  private readonly notifyBatches = new Map<string, { builds: ((at: number) => TxnCommand)[]; result: Promise<TransactionView | null> }>();
  private readonly machine: ProvidedMachine;
  private poller: NodeJS.Timeout | null = null;
  private readonly timerPasses = new SerialPass(() => this.timerPass());
  private stopped = false;
  private readonly scheduler: Scheduler;
  private readonly leases: Leases | null;
  /** Commands and events applied again after another process's write fenced this copy off. */
  reapplied = 0;
  /** Archived transactions this process put back into the hot store (a refund, a late callback). */
  rehydrated = 0;
  /** Writes of a transaction this process made: snapshot saves, and quote-record saves (issue 21: saves per sale). */
  readonly saves = { snapshots: 0, quotes: 0 };

  constructor(
    private readonly store: SnapshotStore,
    private readonly quotes: QuoteRecords,
    systems: Systems,
    downstream: Downstream,
    private readonly clock: Clock,
    private readonly options: HostOptions,
    private readonly log: Logger,
    scaleOut: HostScaleOut = {},
    private readonly archive: ArchiveReads | null = null,
  ) {
    this.scheduler = scaleOut.scheduler ?? new PollingScheduler();
    this.leases = scaleOut.leases ?? null;
    const bound = bindCalls(systems, downstream, clock, (txnNo) => this.barrier(txnNo), options, log);
    const { createOrder, cancelOrder, markOrderPaid, lockHold, confirmHold, releaseHold, refundPayment, queryRefund, creditCard, debitCard, restorePoints, restoreCoupons, ...legCalls } =
      bound;
    const provided = transactionMachine.provide({
      actors: {
        createOrder,
        cancelOrder,
        markOrderPaid,
        lockHold,
        confirmHold,
        releaseHold,
        creditCard,
        refundLeg: refundLegMachine.provide({ actors: { creditCard, refundPayment, queryRefund } }),
        paymentLeg: paymentLegMachine.provide({ actors: legCalls }),
        refund: refundMachine.provide({
          actors: { debitCard, creditCard, restorePoints, restoreCoupons, refundLeg: refundLegMachine.provide({ actors: { creditCard, refundPayment, queryRefund } }) },
        }),
        latePayment: latePaymentMachine.provide({ actors: { queryPayment: legCalls.queryPayment } }),
      },
    });
    this.machine = options.adjustMachine ? options.adjustMachine(provided, systems) : provided;
  }

  /** Rehydrates transactions with work in flight or timers due, then starts the timer poller. */
  async start(): Promise<number> {
    const txnNos = await this.store.needingWork(this.clock.now(), 10_000);
    for (const txnNo of txnNos) await this.exclusive(txnNo, () => this.load(txnNo)).catch((err: unknown) => this.unlessUnreadable(err));
    if (txnNos.length) this.log.info({ count: txnNos.length }, 'rehydrated transactions with pending work');
    // A scheduler of its own (BullMQ) fires due timers from their jobs, re-armed at its start.
    const polls = this.scheduler.polls && this.options.firesTimers !== false;
    if (polls) await this.fireDueTimers();
    this.poller = setInterval(() => {
      if (polls) void this.fireDueTimers().catch((err: unknown) => this.log.error({ err }, 'timer pass failed'));
      this.evictIdle();
    }, this.options.timerPollMs);
    this.poller.unref();
    return txnNos.length;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poller) clearInterval(this.poller);
    await Promise.allSettled([...this.queues.values()]);
    for (const live of this.live.values()) {
      await live.persisting.catch(() => undefined);
      live.actor.stop();
    }
    this.live.clear();
  }

  /**
   * Starts a transaction in `quoted` and stores it before returning (version 1): as a quote record,
   * without an actor (issue 21). The journal has the same entry the actor's start would have made;
   * the actor is created when the transaction is next driven (an order, a re-quote, a cancel),
   * restored from the record.
   */
  async create(input: TxnInput): Promise<TransactionView> {
    return this.exclusive(input.txnNo, async () => {
      const now = this.clock.now();
      const initial = getInitialSnapshot(this.machine, input);
      const entry = this.startEntry(input, initial.value, now);
      this.saves.quotes++;
      const result = await this.quotes.save(quoteRecordOf(input.txnNo, initial.context, this.machine.getPersistedSnapshot(initial), initial.value, Date.parse(input.createdAt), now), 0, [entry]);
      if (!result.ok) throw new TradeError('INTERNAL', 'the transaction could not be stored');
      return buildView(initial.context, initial.value, result.version, now);
    });
  }

  /**
   * Starts a transaction in `quoted` and sends it its first command in the same turn, stored
   * together (issue 21: a checkout's quote and order are one save, not a quote record and then a
   * snapshot). Nothing is stored before the command's first save, which comes before any
   * downstream call the command makes (the persist barrier) and before the answer: a crash before
   * it leaves no transaction and nothing done outside. The start's journal entry is the one
   * {@link create} writes. A transaction already stored under this number is not touched: the
   * save's compare-and-set at version 0 refuses, and so does this call (INTERNAL).
   */
  async createAndCommand(input: TxnInput, build: (at: number, requestId: string) => TxnCommand, commandId?: string): Promise<{ view: TransactionView; refusal: Refusal | null }> {
    try {
      // Never null: with a command to send there is always an answer (or an error).
      return (await this.commandOnce(input.txnNo, build, commandId, input))!;
    } catch (err) {
      if (err instanceof StaleCopy) throw new TradeError('INTERNAL', 'the transaction could not be stored');
      throw err;
    }
  }

  /** The journal entry of a transaction's start, as the actor's own start would have made it. */
  private startEntry(input: TxnInput, value: TxnSnapshot['value'], at: number): JournalEntry {
    const entry: JournalEntry = { at, actor: 'transaction', event: 'xstate.init', data: { input }, from: null, to: value };
    this.transitions.next({ txnNo: input.txnNo, ...entry });
    return entry;
  }

  /** A new transaction's actor in `quoted`, nothing of it stored yet (version 0), its start journaled for the first save. */
  private spawnNew(input: TxnInput): Live {
    if (this.live.has(input.txnNo)) throw new TradeError('INTERNAL', `transaction ${input.txnNo} exists already`);
    const initial = getInitialSnapshot(this.machine, input);
    const live = this.spawn(input.txnNo, 0, Date.parse(input.createdAt), this.machine.getPersistedSnapshot(initial), null, true);
    live.journal.push(this.startEntry(input, initial.value, this.clock.now()));
    this.queueFlush(live);
    return live;
  }

  /**
   * Sends a command and waits for the machine's answer to it, stored before it is returned.
   * An event the current state cannot take is refused with INVALID_STATE and changes nothing.
   * `commandId` names the command the same way on every run of one keyed request, so that a run
   * taking an Idempotency-Key over from a process that died finds what the first run did: when
   * the machine stored its reply to that id, that reply is the answer; when it is still working
   * on it, it is waited for; else the command is sent (under that id).
   */
  async command(txnNo: string, build: (at: number, requestId: string) => TxnCommand, commandId?: string): Promise<{ view: TransactionView; refusal: Refusal | null }> {
    // Never null: with a command to send there is always an answer (or an error).
    return (await this.reapplying(() => this.commandOnce(txnNo, build, commandId)))!;
  }

  /**
   * The machine's answer to command `commandId` (see {@link command}), waited for while it works
   * on it; null when it has no answer to give: the command never arrived, or a later one's reply
   * replaced its own. Sends nothing.
   */
  async answerTo(txnNo: string, commandId: string): Promise<{ view: TransactionView; refusal: Refusal | null } | null> {
    return this.reapplying(() => this.commandOnce(txnNo, null, commandId));
  }

  /**
   * Another process wrote the transaction after this copy was loaded (lease lost, or work that
   * finished outside it): the copy was dropped; load the stored one and apply the event again.
   */
  private async reapplying<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (err) {
        if (!(err instanceof StaleCopy) || attempt >= 3) throw err instanceof StaleCopy ? new TradeError('INTERNAL', 'the transaction could not be stored') : err;
        this.reapplied++;
        this.log.info({ err: err.message }, 'applying again on the stored copy');
      }
    }
  }

  private commandOnce(txnNo: string, build: ((at: number, requestId: string) => TxnCommand) | null, commandId?: string, create?: TxnInput): Promise<{ view: TransactionView; refusal: Refusal | null } | null> {
    return this.exclusive(txnNo, async () => {
      const live = create ? this.spawnNew(create) : await this.load(txnNo);
      if (!live) throw new TradeError('NOT_FOUND', `no transaction ${txnNo}`);
      const requestId = commandId ?? this.options.requestId?.() ?? randomUUID();
      const snapshot = live.actor.getSnapshot();
      const stored = snapshot.context.reply;
      if (commandId !== undefined && stored?.requestId === commandId) return { view: this.viewOf(live), refusal: stored.ok ? null : stored.refusal };
      if (commandId === undefined || snapshot.context.pendingRequestId !== commandId) {
        if (!build) return null;
        const event = build(this.clock.now(), requestId);
        if (snapshot.status !== 'active' || !snapshot.can(event)) {
          throw new TradeError('INVALID_STATE', `a ${topState(snapshot.value)} transaction cannot take ${event.type}`, { state: topState(snapshot.value) });
        }
        live.actor.send(event);
      }
      const answered = await this.replyTo(live, requestId);
      await this.flushed(live);
      if (!answered) throw new StillWorkingError(txnNo);
      const reply = live.actor.getSnapshot().context.reply;
      return { view: this.viewOf(live), refusal: reply && reply.requestId === requestId && !reply.ok ? reply.refusal : null };
    });
  }

  /** The machine's answer to `requestId`, or null once `commandTimeoutMs` passed (on the injected deadline when there is one). */
  private replyTo(live: Live, requestId: string): Promise<unknown> {
    const answered = waitFor(live.actor, (s) => s.context.reply?.requestId === requestId || s.status !== 'active', {
      timeout: this.options.after ? Infinity : this.options.commandTimeoutMs,
    }).catch(() => null);
    const after = this.options.after;
    if (!after) return answered;
    let cancel = () => {};
    const deadline = new Promise<null>((resolve) => (cancel = after(this.options.commandTimeoutMs, () => resolve(null))));
    return Promise.race([answered, deadline]).finally(cancel);
  }

  /**
   * Delivers an event that needs no answer (callback, timer, task outcome) and waits until it is
   * stored. Events for one transaction that arrive while an earlier one still waits its turn join
   * it: they are applied in arrival order in one turn and stored in one write (nine post-payment
   * tasks finishing together cost one snapshot, not nine). Any other work queued for the
   * transaction closes the batch, so nothing overtakes a command that came in between.
   */
  async notify(txnNo: string, build: (at: number) => TxnCommand): Promise<TransactionView | null> {
    const open = this.notifyBatches.get(txnNo);
    if (open) {
      open.builds.push(build);
      return open.result;
    }
    const builds = [build];
    const result = this.reapplying(() =>
      this.exclusive(txnNo, async () => {
        // Its turn has come: later events start a batch of their own.
        if (this.notifyBatches.get(txnNo)?.builds === builds) this.notifyBatches.delete(txnNo);
        const live = await this.load(txnNo);
        if (!live) return null;
        for (const next of builds) if (live.actor.getSnapshot().status === 'active') live.actor.send(next(this.clock.now()));
        await this.flushed(live);
        return this.viewOf(live);
      }),
    );
    // Set after `exclusive`, which closes any batch: this one stays open until its turn starts.
    this.notifyBatches.set(txnNo, { builds, result });
    return result;
  }

  /**
   * Journals something that reached a transaction and changed nothing (a duplicate callback), so
   * an audit sees it arrive: stored like a transition whose state before and after are the same.
   * False when there is no such transaction.
   */
  async note(txnNo: string, event: string, data: Record<string, unknown>): Promise<boolean> {
    return this.reapplying(() =>
      this.exclusive(txnNo, async () => {
        const live = await this.load(txnNo);
        if (!live) return false;
        const value = live.actor.getSnapshot().value;
        live.journal.push({ at: this.clock.now(), actor: 'transaction', event, data, from: value, to: value });
        this.queueFlush(live);
        await this.flushed(live);
        return true;
      }),
    );
  }

  /**
   * Fires one durable timer (a scheduler's wake-up) if the transaction still has it armed for
   * `dueAt`: a wake-up of a timer since moved or dropped, or delivered twice, changes nothing.
   */
  async fireTimer(txnNo: string, name: string, dueAt: number): Promise<boolean> {
    return this.reapplying(() =>
      this.exclusive(txnNo, async () => {
        const live = await this.load(txnNo);
        if (!live || live.actor.getSnapshot().status !== 'active' || treeTimers(live.actor)[name] !== dueAt) return false;
        live.actor.send({ type: 'TIMER', name, at: this.clock.now() });
        await this.flushed(live);
        return true;
      }),
    );
  }

  /**
   * The transaction view, from memory when the actor is live, else straight from the store, else
   * from the archive (read there, not rehydrated: only a change brings it back).
   */
  async view(txnNo: string): Promise<TransactionView | null> {
    // Scale-out, another process may have moved the transaction on: the store is the truth.
    const live = this.leases ? undefined : this.live.get(txnNo);
    if (live) return this.viewOf(live);
    const record = await this.record(txnNo);
    return record ? storedView(record) : null;
  }

  async viewByOrderNo(orderNo: string): Promise<TransactionView | null> {
    const txnNo = await this.txnNoByOrderNo(orderNo);
    return txnNo ? this.view(txnNo) : null;
  }

  /** The stored record: the hot store's, else the archived one (hot first: a rehydrated transaction's archive row is older). */
  async record(txnNo: string): Promise<TransactionRecord | null> {
    return (await this.hotRecord(txnNo)) ?? (this.archive ? ((await this.archive.get(txnNo))?.record ?? null) : null);
  }

  /** The hot store's record: the snapshot's, else the quote record's (issue 21). */
  private hotRecord(txnNo: string): Promise<TransactionRecord | null> {
    return hotRecord({ snapshots: this.store, quotes: this.quotes }, txnNo);
  }

  /** The transaction of an order number, in the hot store or the archive. */
  async txnNoByOrderNo(orderNo: string): Promise<string | null> {
    return (await this.store.findTxnNoByOrderNo(orderNo)) ?? (this.archive ? await this.archive.findTxnNoByOrderNo(orderNo) : null);
  }

  /**
   * Lets an archived transaction go from the hot store if it is still at `version` and nothing of it
   * runs in this process, in its turn (under its lease in scale-out): a command that came in since
   * keeps it (archived again once final). True when it went.
   */
  retire(txnNo: string, version: number): Promise<boolean> {
    return this.exclusive(txnNo, async () => {
      const live = this.live.get(txnNo);
      if (live && (live.version !== version || !settled(live) || isWorking(live.actor))) return false;
      const removed = await this.store.removeArchived(txnNo, version);
      if (live && removed) this.drop(live);
      return removed;
    });
  }

  /**
   * Fires every due timer once; returns how many were delivered. Passes never overlap, and a
   * call always gets a pass that starts after it (so it sees a clock just moved forward).
   */
  fireDueTimers(): Promise<number> {
    return this.timerPasses.run();
  }

  private async timerPass(): Promise<number> {
    const due = await this.store.dueTimers(this.clock.now(), 500);
    // Remember only timers still listed as due: one whose row is gone or re-armed is forgotten.
    const listed = new Set(due.map((t) => `${t.txnNo}:${t.name}:${t.dueAt}`));
    for (const id of this.firedTimers) if (!listed.has(id)) this.firedTimers.delete(id);
    let fired = 0;
    for (const timer of due) {
      const id = `${timer.txnNo}:${timer.name}:${timer.dueAt}`;
      if (this.firedTimers.has(id) || this.stopped) continue;
      this.firedTimers.add(id);
      // One transaction this version cannot read must not hold up everybody else's timers.
      const delivered = await this.notify(timer.txnNo, (at) => ({ type: 'TIMER', name: timer.name, at })).then(
        () => true,
        (err: unknown) => this.unlessUnreadable(err),
      );
      if (!delivered) continue;
      fired++;
    }
    return fired;
  }

  /**
   * Re-drives one transaction (admin nudge): drops its actor so it is rehydrated from the store
   * (calls that were running are re-run, with their keys), fires its due timers now, then tells
   * the machine (NUDGE): what waits for a person starts again, closed legs are asked about again.
   */
  async nudge(txnNo: string): Promise<TransactionView | null> {
    // The machines' own deadlines, not only the timer rows: a lost row must not strand the transaction.
    let machineTimers: Record<string, number> = {};
    await this.exclusive(txnNo, async () => {
      const live = this.live.get(txnNo);
      if (live && !isWorking(live.actor)) {
        await this.flushed(live);
        live.actor.stop();
        this.live.delete(txnNo);
      }
      const loaded = await this.load(txnNo);
      if (loaded) machineTimers = treeTimers(loaded.actor);
    });
    const record = await this.hotRecord(txnNo);
    if (!record) return null;
    const timers = { ...machineTimers, ...record.timers };
    for (const name of Object.keys(timers).filter((n) => (timers[n] ?? Infinity) <= this.clock.now())) {
      this.log.info({ txnNo, timer: name }, 'nudge fires a due timer');
      await this.notify(txnNo, (at) => ({ type: 'TIMER', name, at }));
    }
    await this.notify(txnNo, (at) => ({ type: 'NUDGE', at }));
    return this.view(txnNo);
  }

  /** Number of actors in memory (for tests of eviction and for metrics). */
  get liveCount(): number {
    return this.live.size;
  }

  /** Waits until every live transaction has stored its latest snapshot. */
  async settle(): Promise<void> {
    await Promise.all([...this.live.values()].map((l) => this.flushed(l)));
  }

  // ── internals ─────────────────────────────────────────────────────────────────────────────

  /**
   * Runs `work` after every earlier piece of work on the same transaction (one writer); scale-out,
   * also under the transaction's lease, with a copy in memory older than the store's dropped first.
   */
  private exclusive<T>(txnNo: string, work: () => Promise<T>): Promise<T> {
    // Work queued now closes an open notification batch: no later event may join one ahead of it.
    this.notifyBatches.delete(txnNo);
    const previous = this.queues.get(txnNo) ?? Promise.resolve();
    const leases = this.leases;
    const leased = leases ? () => this.underLease(leases, txnNo, work) : work;
    const next: Promise<T> = previous.then(leased, leased);
    const settled = next.catch(() => undefined);
    this.queues.set(txnNo, settled);
    void settled.then(() => {
      if (this.queues.get(txnNo) === settled) this.queues.delete(txnNo);
    });
    return next;
  }

  private async underLease<T>(leases: Leases, txnNo: string, work: () => Promise<T>): Promise<T> {
    const lease = await leases.acquire(txnNo);
    try {
      const live = this.live.get(txnNo);
      if (live) {
        await live.persisting;
        if (lease.storedVersion !== null && lease.storedVersion > live.version) this.drop(live);
      }
      return await work();
    } finally {
      await lease.release();
    }
  }

  private drop(live: Live): void {
    live.actor.stop();
    if (this.live.get(live.txnNo) === live) this.live.delete(live.txnNo);
  }

  private async load(txnNo: string): Promise<Live | null> {
    const existing = this.live.get(txnNo);
    if (existing) {
      existing.lastUsed = this.clock.now();
      return existing;
    }
    let pending = this.loading.get(txnNo);
    if (!pending) {
      pending = this.loadRecord(txnNo).then((found) => (found ? this.restore(found.record, found.quoted) : null));
      this.loading.set(txnNo, pending);
      // A refused load (an unreadable snapshot) rejects its callers, not an unhandled copy of it.
      void pending.finally(() => this.loading.delete(txnNo)).catch(() => undefined);
    }
    return pending;
  }

  /**
   * A stored transaction back into its actor, its snapshot first brought to this code's machine
   * versions (DESIGN.md rule 10). One this code cannot read (written by a newer version, or a
   * migration that failed) is refused: left as stored, flagged for a person, and not spawned.
   */
  private async restore(record: TransactionRecord, quoted: boolean): Promise<Live> {
    const restored = restoreSnapshot(record.snapshot);
    if (restored.ok) return this.spawn(record.txnNo, record.version, record.createdAt, restored.snapshot, record.finalAt, quoted);
    await this.flagUnreadable(record, restored);
    throw new UnreadableSnapshot(record.txnNo, restored);
  }

  /**
   * Flags an unreadable transaction `needsAttention` through the save record (a field the host
   * derives, DESIGN.md rule 9): the snapshot, its state, timers and tasks are written back as they
   * were stored, with a journal entry saying why. Once flagged it is not written again; a newer
   * version that loads it derives the flag from its own context on its next save.
   */
  private async flagUnreadable(record: TransactionRecord, refused: Extract<SnapshotRestore, { ok: false }>): Promise<void> {
    if (record.needsAttention) return;
    const { version, ...stored } = record;
    const at = this.clock.now();
    const reason = new UnreadableSnapshot(record.txnNo, refused).message;
    const journal: JournalEntry[] = [{ at, actor: 'transaction', event: 'SNAPSHOT_REFUSED', data: { reason, versions: refused.versions }, from: record.stateValue, to: record.stateValue }];
    const result = await this.store.save({ ...stored, needsAttention: true, tasks: [], osEvents: [] }, version, journal);
    this.log.error({ alert: 'snapshot-refused', txnNo: record.txnNo, reason }, 'a stored transaction cannot be read by this version: left untouched, flagged');
    // Lost to another writer: that one could read it, or flags it itself.
    if (!result.ok) this.log.warn({ txnNo: record.txnNo }, 'flagging the unreadable transaction lost to another write');
  }

  /** Swallows (false) an unreadable transaction's refusal, already flagged and logged; rethrows anything else. */
  private unlessUnreadable(err: unknown): false {
    if (err instanceof UnreadableSnapshot) return false;
    throw err;
  }

  /**
   * The record to run a transaction from: the hot store's, else its archived one put back into the
   * hot store (DOMAIN.md "Archive": a refund rehydrates it; it is archived again once final). Runs
   * in the transaction's turn, under its lease in scale-out; the put-back is a create by
   * compare-and-set, so of two processes racing one puts it back and both run the same copy.
   */
  private async loadRecord(txnNo: string): Promise<{ record: TransactionRecord; quoted: boolean } | null> {
    const hot = await this.store.load(txnNo);
    if (hot) return { record: hot, quoted: false };
    // A quoted-only transaction (issue 21): restored from its quote record, stored as one until it moves on.
    const quote = await this.quotes.load(txnNo);
    if (quote) return { record: recordOfQuote(quote), quoted: true };
    const again = await this.store.load(txnNo);
    if (again || !this.archive) return again && { record: again, quoted: false };
    const entry = await this.archive.get(txnNo);
    if (!entry) return null;
    if (await this.store.reinstate(entry.record, entry.journal, entry.tasks)) {
      this.rehydrated++;
      this.log.info({ txnNo, version: entry.record.version }, 'rehydrated an archived transaction');
    }
    const reinstated = await this.store.load(txnNo);
    return reinstated && { record: reinstated, quoted: false };
  }

  private spawn(txnNo: string, version: number, createdAt: number, snapshot: unknown, finalAt: number | null, quoted: boolean): Live {
    const live: Live = {
      txnNo,
      actor: undefined as unknown as TxnActor,
      version,
      quoted,
      createdAt,
      journal: [],
      persisting: Promise.resolve(),
      persistError: null,
      flushQueued: false,
      saving: 0,
      lastValues: new Map(),
      lastUsed: this.clock.now(),
      alerted: new Map(),
      timers: {},
      tasksScheduled: 0,
      askedTasks: [],
      finalAt,
    };
    const inspect = (ev: InspectionEvent) => this.onInspect(live, ev);
    // The input is ignored when a snapshot is restored; the stored context stands in for it.
    live.actor = createActor(this.machine, { snapshot: snapshot as TxnSnapshot, input: (snapshot as TxnSnapshot).context, inspect });
    // Emitted during the transition that asks for them, before its snapshot is queued for saving.
    live.actor.on('tasksAsked', (ev) => void live.askedTasks.push(...ev.tasks));
    // Registered before start: calls re-run on restore pass the barrier through this entry.
    this.live.set(txnNo, live);
    live.actor.start();
    live.timers = treeTimers(live.actor);
    return live;
  }

  private onInspect(live: Live, ev: InspectionEvent): void {
    if (ev.type !== '@xstate.snapshot') return;
    const snap = ev.snapshot as { value?: unknown };
    if (!('value' in snap)) return; // promise actors: their result shows up as the parent's event
    const actorId = ev.actorRef === live.actor ? 'transaction' : (ev.actorRef as AnyActorRef).id;
    const key = ev.actorRef.sessionId;
    const { type, ...data } = ev.event as { type: string } & Record<string, unknown>;
    // Stopping an actor (eviction, shutdown) is about this process, not the transaction: storing
    // that snapshot would restore a stopped actor that ignores every later event.
    if (type === 'xstate.stop') return;
    if (type === 'xstate.init' && actorId === 'transaction') {
      live.lastValues.set(key, snap.value);
      // A restore, not a transition; a new transaction's start is journaled by whoever made it (`create`, `spawnNew`).
      return;
    }
    const entry: JournalEntry = { at: this.clock.now(), actor: actorId, event: type, data, from: live.lastValues.get(key) ?? null, to: snap.value };
    live.lastValues.set(key, snap.value);
    live.journal.push(entry);
    this.transitions.next({ txnNo: live.txnNo, ...entry });
    this.queueFlush(live);
  }

  /** Coalesces the snapshots of one synchronous burst into one write, in order. */
  private queueFlush(live: Live): void {
    if (live.flushQueued) return;
    live.flushQueued = true;
    queueMicrotask(() => {
      live.flushQueued = false;
      live.saving++;
      live.persisting = live.persisting
        .then(() => this.persist(live))
        .catch((err: unknown) => {
          live.persistError = err instanceof Error ? err : new Error(String(err));
          this.log.error({ txnNo: live.txnNo, err: live.persistError }, 'persisting the snapshot failed');
        })
        .finally(() => {
          live.saving--;
        });
    });
  }

  private async persist(live: Live): Promise<void> {
    const snapshot = live.actor.getSnapshot();
    if (snapshot.status === 'stopped') return;
    const journal = live.journal.splice(0);
    const state = topState(snapshot.value);
    const working = isWorking(live.actor);
    const now = this.clock.now();
    const timers = treeTimers(live.actor);
    // Still only quoted (issue 21): the quote record is written, no snapshot.
    if (live.quoted && state === 'quoted' && !working && Object.keys(timers).length === 0 && snapshot.context.taskNames.length === 0) {
      this.saves.quotes++;
      const saved = await this.quotes.save(quoteRecordOf(live.txnNo, snapshot.context, live.actor.getPersistedSnapshot(), snapshot.value, live.createdAt, now), live.version, journal);
      if (!saved.ok) {
        this.drop(live);
        throw new StaleCopy(`version conflict on the quote of ${live.txnNo}: expected ${live.version}, store has ${saved.actualVersion}`);
      }
      live.version = saved.version;
      live.persistError = null;
      return;
    }
    // The quiet period counts from the first save that found it final, not from later notes.
    const finalAt = isFinal(snapshot.context, state, working, timers) ? (live.finalAt ?? now) : null;
    // A quote record's version is continued by the first snapshot, which replaces the record.
    const asked = live.askedTasks.slice();
    this.saves.snapshots++;
    const result = await this.store.save(
      {
        txnNo: live.txnNo,
        merchantId: snapshot.context.merchantId,
        stationId: snapshot.context.stationId,
        orderNo: snapshot.context.order?.orderNo ?? null,
        state,
        stateValue: snapshot.value,
        // Each actor of the tree carries its machine's version (DESIGN.md rule 10), inside the value every store keeps as it is.
        snapshot: stampVersions(live.actor.getPersistedSnapshot()),
        atRest: (AT_REST_STATES as readonly string[]).includes(state) && !working,
        working,
        needsAttention: needsAttention(snapshot.context),
        timers,
        finalAt,
        tasks: asked,
        osEvents: osEventsOf(snapshot.context, state),
        createdAt: live.createdAt,
        updatedAt: now,
      },
      live.version,
      journal,
    );
    if (!result.ok) {
      // Another writer got there first (fencing, DESIGN.md rule 1): this copy is stale.
      this.drop(live);
      throw new StaleCopy(`version conflict on ${live.txnNo}: expected ${live.version}, store has ${result.actualVersion}`);
    }
    live.version = result.version;
    live.quoted = false;
    live.finalAt = finalAt;
    live.askedTasks.splice(0, asked.length);
    // Wake-ups are armed before the snapshot is acknowledged; a crash in between is the sentinel's.
    const tasks = snapshot.context.taskNames;
    try {
      await this.scheduler.saved(live.txnNo, live.timers, timers, tasks.slice(live.tasksScheduled));
      live.timers = timers;
      live.tasksScheduled = tasks.length;
    } catch (err) {
      // The snapshot is stored: its answer stands. The next save arms again; the sentinel covers a lost one.
      this.log.error({ txnNo: live.txnNo, err }, 'arming timers or tasks failed');
    }
    live.persistError = null;
    this.alertOnRetries(live, snapshot.context.attempts);
  }

  /** Core steps (mark paid, cancel order, confirm or release holds) retry for ever; a person must hear about it. */
  private alertOnRetries(live: Live, attempts: Record<string, number>): void {
    for (const [step, count] of Object.entries(attempts)) {
      if (step.startsWith('query:') || count < this.options.alertAfterAttempts || (live.alerted.get(step) ?? 0) >= count) continue;
      live.alerted.set(step, count);
      this.alerts++;
      this.log.error({ alert: 'core-step-retrying', txnNo: live.txnNo, step, attempts: count }, 'a core step keeps failing');
    }
  }

  private async flushed(live: Live): Promise<void> {
    await null; // let a flush queued by the current burst attach itself first
    await live.persisting;
    if (live.persistError instanceof StaleCopy) throw live.persistError;
    if (live.persistError) throw new TradeError('INTERNAL', 'the transaction could not be stored');
  }

  private async barrier(txnNo: string): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    const live = this.live.get(txnNo);
    if (live) await this.flushed(live);
  }

  /** Drops actors idle past `evictAfterMs` with nothing running or unsaved; returns how many. */
  evictIdle(): number {
    const cutoff = this.clock.now() - this.options.evictAfterMs;
    let evicted = 0;
    for (const live of [...this.live.values()]) {
      if (live.lastUsed > cutoff || this.queues.has(live.txnNo) || isWorking(live.actor) || !settled(live)) continue;
      live.actor.stop();
      this.live.delete(live.txnNo);
      evicted++;
    }
    return evicted;
  }

  private viewOf(live: Live): TransactionView {
    const s = live.actor.getSnapshot();
    return buildView(s.context, s.value, live.version, this.clock.now());
  }
}

/**
 * The quote record of a quoted-only transaction, its machines' versions stamped (rule 10), kept
 * until its current quote's expiry plus the margin.
 */
function quoteRecordOf(txnNo: string, context: TxnSnapshot['context'], persisted: unknown, stateValue: TxnSnapshot['value'], createdAt: number, now: number): SaveQuote {
  return {
    txnNo,
    merchantId: context.merchantId,
    stationId: context.stationId,
    snapshot: stampVersions(persisted),
    stateValue,
    keepUntil: Date.parse(context.quote.expiresAt) + QUOTE_KEPT_AFTER_EXPIRY_MS,
    createdAt,
    updatedAt: now,
  };
}

/**
 * The durable timers of the whole actor tree: the root's by name, a child's as `childId/name`
 * (machines/durable-timers.ts), so a child waiting for a refund callback survives a restart too.
 */
function treeTimers(actor: AnyActorRef, prefix = ''): Record<string, number> {
  const snapshot = actor.getSnapshot() as { context?: { timers?: Record<string, number> }; children?: Record<string, AnyActorRef | undefined> };
  const own = Object.entries(snapshot.context?.timers ?? {}).map(([name, due]) => [`${prefix}${name}`, due] as const);
  const nested = Object.entries(snapshot.children ?? {}).flatMap(([id, child]) => (child ? Object.entries(treeTimers(child, `${prefix}${id}/`)) : []));
  return Object.fromEntries([...own, ...nested]);
}

/**
 * Nothing of the actor waits to be stored: no flush queued, no journal entry or task spec unwritten, no write in
 * flight (a write outside any command, after a background step, has spliced the journal already and
 * dropping the actor then would let the next command load the version before it).
 */
function settled(live: Live): boolean {
  return !live.flushQueued && live.journal.length === 0 && live.saving === 0 && live.askedTasks.length === 0;
}

/** True when the transaction or any of its child machines is in a state tagged `working`. */
function isWorking(actor: AnyActorRef): boolean {
  const snapshot = actor.getSnapshot() as { hasTag?: (t: string) => boolean; children?: Record<string, AnyActorRef | undefined> };
  if (snapshot.hasTag?.('working')) return true;
  return Object.values(snapshot.children ?? {}).some((child) => child !== undefined && isWorking(child));
}
