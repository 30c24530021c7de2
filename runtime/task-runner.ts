import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { Subject } from 'rxjs';
import { retiredTaskKind } from '../machines/post-payment-tasks.ts';
import type { Outcome, SystemName } from '../systems/contract.ts';
import type { TaskRecord, TaskStore } from '../storage/types.ts';
import type { Clock } from './clock.ts';
import { PollingScheduler, type Scheduler, type TaskRun } from './scheduler.ts';
import { SerialPass } from './serial-pass.ts';
import type { Downstream } from './downstream.ts';
import type { TransactionHost } from './transaction-host.ts';

/** Tasks a pass claims and runs at once, and batches at most per pass (tasks due again at once, say with no backoff, wait for the next pass). */
const TASK_BATCH = 200;
const BATCHES_PER_PASS = 50;

/** Runs one kind of task against the downstream systems; the key is `txnNo:task`. */
export type TaskHandler = (task: TaskRecord) => Promise<Outcome<Record<string, unknown>>>;

/** One run of a task as the metrics see it: `deferred` (circuit open) cost no attempt. */
export interface TaskAttempt {
  txnNo: string;
  task: string;
  system: string;
  outcome: 'done' | 'retry' | 'dead' | 'deferred';
}

export interface TaskRunnerOptions {
  pollMs: number;
  /** First backoff; doubles per attempt up to `maxBackoffMs`, with jitter. */
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** A core task failing this many times raises an alert (log + counter). */
  alertAfter: number;
  /**
   * Runs tasks in this process. False in an API process of a role split (`trade serve --role
   * api`): the worker runs them, and a manual retry here revives the task and waits for the
   * worker's run. Default true.
   */
  runsTasks?: boolean;
  /** How long a manual retry in an API process waits for the worker's run, ms. */
  settleWithinMs?: number;
}

/**
 * The task runner (DESIGN.md "Sentinel, retries, manual work"): post-payment tasks are records
 * keyed `txnNo:task`, written with the snapshot that asked for them. Due tasks are claimed, run
 * with a per-task timeout, and retried with exponential backoff and jitter; a non-core task out of
 * attempts is dead and waits for a manual retry; a core task keeps retrying and raises an alert.
 * Outcomes go back to the transaction as TASK_DONE / TASK_DEAD events. Embedded, the runner polls
 * the store for due tasks; with a scheduler that does not poll (BullMQ), its jobs call {@link run}.
 */
export class TaskRunner {
  /** Alerts raised (core tasks failing past `alertAfter`), for metrics and tests. */
  alerts = 0;
  /** Every run of a task and how it ended (metrics). */
  readonly attempts = new Subject<TaskAttempt>();
  private poller: NodeJS.Timeout | null = null;
  private readonly passes = new SerialPass(() => this.pass());

  constructor(
    private readonly store: TaskStore,
    private readonly host: TransactionHost,
    private readonly handlers: Record<string, TaskHandler>,
    private readonly downstream: Downstream,
    private readonly clock: Clock,
    private readonly options: TaskRunnerOptions,
    private readonly log: Logger,
    private readonly scheduler: Scheduler = new PollingScheduler(),
  ) {}

  private get runsTasks(): boolean {
    return this.options.runsTasks !== false;
  }

  async start(): Promise<void> {
    // Many processes share the scheduler's jobs: a job left by a dead process is its to re-run.
    if (!this.scheduler.polls || !this.runsTasks) return;
    const requeued = await this.store.requeueRunningTasks(this.clock.now());
    if (requeued) this.log.info({ requeued }, 'tasks interrupted by a crash are pending again');
    this.poller = setInterval(() => void this.runDue().catch((err: unknown) => this.log.error({ err }, 'task pass failed')), this.options.pollMs);
    this.poller.unref();
  }

  async stop(): Promise<void> {
    if (this.poller) clearInterval(this.poller);
    await this.passes.idle();
  }

  /**
   * Runs every due task once; passes never overlap, and a call always gets a pass that starts
   * after it. Returns how many ran. With a scheduler of its own (BullMQ) its jobs run the tasks: 0.
   */
  runDue(): Promise<number> {
    return this.scheduler.polls && this.runsTasks ? this.passes.run() : Promise.resolve(0);
  }

  /** Runs due tasks a batch at a time until a batch comes back short (a backlog drains in one pass). */
  private async pass(): Promise<number> {
    let ran = 0;
    for (let batch = 0; batch < BATCHES_PER_PASS; batch++) {
      const due = await this.store.dueTasks(this.clock.now(), TASK_BATCH);
      await Promise.all(due.map((task) => this.runOne(task)));
      ran += due.length;
      if (due.length < TASK_BATCH) break;
    }
    return ran;
  }

  /** Manual retry of a dead task (admin API, `trade retry`): runs it now. */
  async retry(txnNo: string, task: string): Promise<TaskRecord | null> {
    const versionBefore = this.runsTasks ? 0 : ((await this.host.view(txnNo))?.version ?? 0);
    const revived = await this.store.reviveTask(txnNo, task, this.clock.now());
    if (!revived) return null;
    await this.scheduler.revived(txnNo, task);
    if (!this.runsTasks) {
      // The worker runs it (it polls the store, or takes the job): answer with what its run did.
      if (!this.scheduler.polls) await this.scheduler.enqueueTask(txnNo, task, 0);
      return this.ranElsewhere(txnNo, task, versionBefore);
    }
    if (this.scheduler.polls) await this.runDue();
    else {
      const run = await this.run(txnNo, task);
      if (run.next === 'retry' || run.next === 'wait') await this.scheduler.enqueueTask(txnNo, task, run.delayMs);
    }
    return this.store.task(txnNo, task);
  }

  /**
   * Runs one task now, whatever its schedule, unless it is done or dead (a scheduler's job; a
   * job re-run after its process died finds the task `running` and runs it again, safely keyed).
   */
  async run(txnNo: string, name: string): Promise<TaskRun> {
    const started = await this.store.startTask(txnNo, name, this.clock.now());
    if (!started || started.task.status === 'done' || started.task.status === 'dead') return { next: 'skip' };
    return this.execute(started.task);
  }

  /**
   * The task once a run by another process has ended, or as it stands at the deadline: pending
   * again after a failure, or done or dead and its outcome told to the transaction (stored past
   * `versionBefore`), as a run in this process would have answered.
   */
  private async ranElsewhere(txnNo: string, name: string, versionBefore: number): Promise<TaskRecord | null> {
    const deadline = Date.now() + (this.options.settleWithinMs ?? 20_000);
    for (;;) {
      const task = await this.store.task(txnNo, name);
      const ended = task?.status === 'done' || task?.status === 'dead';
      const told = ended && ((await this.host.view(txnNo))?.version ?? 0) > versionBefore;
      if (!task || told || (task.status === 'pending' && task.attempts > 0) || Date.now() > deadline) return task;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private async runOne(task: TaskRecord): Promise<void> {
    if (!(await this.store.claimTask(task.txnNo, task.task, this.clock.now()))) return;
    await this.execute(task);
  }

  private async execute(task: TaskRecord): Promise<TaskRun> {
    const handler = this.handlers[task.kind];
    let error: string | null = null;
    let refused = false;
    let result: Record<string, unknown> | undefined;
    try {
      // A retired kind calls nothing: done at once, with why, and no part of its system's health (the breaker's count).
      const retired = retiredTaskKind(task.kind);
      if (!handler && retired === null) throw new Error(`no handler for task kind ${task.kind}`);
      const outcome: Outcome<Record<string, unknown>> = handler ? await this.downstream.call(task.system as SystemName, () => handler(task)) : { ok: true, retired };
      if (!outcome.ok) {
        error = `${outcome.code}: ${outcome.message}`;
        refused = true;
      } else {
        const { ok: _ok, ...rest } = outcome;
        result = rest;
      }
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    const now = this.clock.now();
    // An open circuit means the call never left: it costs the task no attempt, only a wait.
    if (error !== null && this.downstream.state(task.system as SystemName) === 'open') {
      await this.store.finishTask(task.txnNo, task.task, { status: 'pending', attempts: task.attempts, lastError: error, nextRunAt: now + this.options.baseBackoffMs }, now);
      this.attempts.next({ txnNo: task.txnNo, task: task.task, system: task.system, outcome: 'deferred' });
      return { next: 'wait', delayMs: this.options.baseBackoffMs };
    }
    const attempts = task.attempts + 1;
    const refusals = task.refusals + (refused ? 1 : 0);
    if (error === null) {
      await this.store.finishTask(task.txnNo, task.task, { status: 'done', attempts, lastError: null, nextRunAt: null, ...(result ? { result } : {}) }, now);
      this.attempts.next({ txnNo: task.txnNo, task: task.task, system: task.system, outcome: 'done' });
      await this.host.notify(task.txnNo, (at) => ({ type: 'TASK_DONE', at, task: task.task }));
      return { next: 'done' };
    }
    if (!task.core && attempts >= task.maxAttempts) {
      this.log.warn({ txnNo: task.txnNo, task: task.task, attempts, err: error }, 'task is dead: waiting for a manual retry');
      await this.store.finishTask(task.txnNo, task.task, { status: 'dead', attempts, refusals, lastError: error, nextRunAt: null }, now);
      this.attempts.next({ txnNo: task.txnNo, task: task.task, system: task.system, outcome: 'dead' });
      await this.host.notify(task.txnNo, (at) => ({ type: 'TASK_DEAD', at, task: task.task, error }));
      return { next: 'dead', error };
    }
    if (task.core && attempts >= this.options.alertAfter) {
      this.alerts++;
      this.log.error({ alert: 'core-task-failing', txnNo: task.txnNo, task: task.task, attempts, err: error }, 'core task keeps failing');
    }
    const delayMs = this.backoff(task, attempts);
    await this.store.finishTask(task.txnNo, task.task, { status: 'pending', attempts, refusals, lastError: error, nextRunAt: now + delayMs }, now);
    this.attempts.next({ txnNo: task.txnNo, task: task.task, system: task.system, outcome: 'retry' });
    return { next: 'retry', delayMs, error };
  }

  /** Exponential backoff with jitter; the jitter is derived from the key so a replay is identical. */
  backoff(task: Pick<TaskRecord, 'txnNo' | 'task'>, attempts: number): number {
    const exp = Math.min(this.options.maxBackoffMs, this.options.baseBackoffMs * 2 ** (attempts - 1));
    const jitter = createHash('sha256').update(`${task.txnNo}:${task.task}:${attempts}`).digest().readUInt32BE(0) / 0xffffffff;
    return Math.round(exp * (0.5 + jitter / 2));
  }
}
