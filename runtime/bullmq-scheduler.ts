import { DelayedError, Queue, UnrecoverableError, Worker, type Job, type JobsOptions, type JobType } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import { connectRedis } from '../storage/redis/handle.ts';
import type { Logger } from 'pino';
import type { SnapshotStore, TaskStore } from '../storage/types.ts';
import { systemClock, type Clock } from './clock.ts';
import type { ScheduledWork, Scheduler } from './scheduler.ts';

/** Options of {@link BullmqScheduler}. */
export interface BullmqSchedulerOptions {
  url: string;
  /** A Redis Cluster (`url` names one node). */
  cluster?: boolean;
  /** BullMQ key prefix; hash-tagged (`{tc-bull}`) so each queue's keys share a Cluster slot. */
  prefix?: string;
  /** Timer and task jobs run at once per process. */
  concurrency?: number;
  log: Logger;
  /** The runtime's clock, which due times are on (a delayed job waits `dueAt - now`); the system clock by default. */
  clock?: Clock;
}

interface TimerJob {
  txnNo: string;
  name: string;
  dueAt: number;
}

interface TaskJob {
  txnNo: string;
  task: string;
}

/** A dead task as BullMQ keeps it: a failed job (admin API). */
export interface DeadJob {
  txnNo: string;
  task: string;
  attemptsMade: number;
  failedReason: string;
  failedAt: string | null;
}

/** BullMQ refuses `:` in custom ids (but for its own 3-part form); names hold it (`query:leg-1`). */
const part = (s: string) => encodeURIComponent(s).replaceAll('%', '~');

/**
 * A job whose worker died (kill -9 of a worker process) is found stalled and run again: its lock
 * lapses after `lockDuration` (renewed every half of it while the job runs, which a task's call
 * deadline keeps far shorter) and the stalled-job check runs every `stalledInterval`, so within
 * about 15 s rather than BullMQ's default minute. Stalling is never a reason to give up on a job:
 * every task and timer is keyed, a re-run is safe.
 */
const RECOVERY = { lockDuration: 10_000, stalledInterval: 5_000, maxStalledCount: 1_000_000 };

/** Effectively for ever: core tasks never go dead (DESIGN.md rule 6). */
const CORE_ATTEMPTS = 1_000_000;

/**
 * BullMQ's event stream of each queue (`<prefix>:<queue>:events`), kept to this many entries
 * (`MAXLEN ~`; BullMQ's default is 10,000, some 1.1 MB a queue once full). Nothing here reads it
 * (no QueueEvents listener): it is only there for an operator's ad hoc look at recent job events.
 */
export const BULLMQ_EVENTS = { events: { maxLen: 1_000 } };

/**
 * Scale-out timers and tasks (DESIGN.md "Two deployments"): each durable timer is a delayed job
 * whose id is `txnNo|name|dueAt` (so arming twice is one job, and a moved timer is another job,
 * the old one removed); each post-payment task is a job `txnNo|task` with the task's attempts
 * and the runner's backoff. A task out of attempts is a failed job: dead, listed for the admin,
 * until a manual retry. Any process's workers take any job.
 */
export class BullmqScheduler implements Scheduler {
  readonly polls = false;
  /** Tasks completed, retried and gone dead by this process's workers (metrics). */
  readonly counters = { timersFired: 0, tasksDone: 0, tasksRetried: 0, tasksDead: 0 };
  readonly timers: Queue<TimerJob>;
  readonly tasks: Queue<TaskJob>;
  private readonly connection: Redis | Cluster;
  private workers: Worker[] = [];
  private readonly clock: Clock;

  constructor(private readonly options: BullmqSchedulerOptions) {
    this.connection = connectRedis(options.url, options.cluster ?? false);
    this.clock = options.clock ?? systemClock;
    const prefix = options.prefix ?? '{tc-bull}';
    this.timers = new Queue<TimerJob>('timers', { connection: this.connection, prefix, streams: BULLMQ_EVENTS });
    this.tasks = new Queue<TaskJob>('tasks', { connection: this.connection, prefix, streams: BULLMQ_EVENTS });
  }

  static timerJobId(txnNo: string, name: string, dueAt: number): string {
    return `t-${part(txnNo)}-${part(name)}-${dueAt}`;
  }

  static taskJobId(txnNo: string, task: string): string {
    return `k-${part(txnNo)}-${part(task)}`;
  }

  async saved(txnNo: string, before: Record<string, number>, after: Record<string, number>, newTasks: string[]): Promise<void> {
    const work: Promise<unknown>[] = [];
    for (const [name, dueAt] of Object.entries(before)) {
      if (after[name] !== dueAt) work.push(this.timers.remove(BullmqScheduler.timerJobId(txnNo, name, dueAt)));
    }
    for (const [name, dueAt] of Object.entries(after)) {
      if (before[name] !== dueAt) work.push(this.armTimer(txnNo, name, dueAt));
    }
    // A paid sale asks for nine tasks at once: one round trip adds them all.
    if (newTasks.length) work.push(this.tasks.addBulk(newTasks.map((task) => ({ name: 'task', data: { txnNo, task }, opts: this.taskJobOptions(txnNo, task, 0) }))));
    await Promise.all(work);
  }

  /** Adds the wake-up of one timer (a no-op when its job exists). */
  armTimer(txnNo: string, name: string, dueAt: number): Promise<unknown> {
    return this.timers.add('timer', { txnNo, name, dueAt }, {
      jobId: BullmqScheduler.timerJobId(txnNo, name, dueAt),
      delay: Math.max(0, dueAt - this.clock.now()),
      removeOnComplete: true,
      removeOnFail: 1000,
      attempts: 5,
      backoff: { type: 'exponential', delay: 500 },
    });
  }

  async enqueueTask(txnNo: string, task: string, delayMs: number): Promise<void> {
    await this.tasks.add('task', { txnNo, task }, this.taskJobOptions(txnNo, task, delayMs));
  }

  /** A task's job: one per `txnNo:task` (adding it again is a no-op while it exists). */
  private taskJobOptions(txnNo: string, task: string, delayMs: number): JobsOptions {
    return {
      jobId: BullmqScheduler.taskJobId(txnNo, task),
      delay: delayMs,
      // The store's task record decides when a non-core task is dead; the job follows it.
      attempts: CORE_ATTEMPTS,
      backoff: { type: 'runner' },
      removeOnComplete: true,
      removeOnFail: false,
    };
  }

  /**
   * Arms a job for every timer and pending task the store lists (a no-op for those that have
   * one): a process that died between storing a snapshot and arming its wake-ups left none.
   */
  async reconcile(snapshots: Pick<SnapshotStore, 'dueTimers'>, taskStore: Pick<TaskStore, 'dueTasks'>, limit = 10_000): Promise<number> {
    const [timers, tasks] = await Promise.all([snapshots.dueTimers(Number.MAX_SAFE_INTEGER, limit), taskStore.dueTasks(Number.MAX_SAFE_INTEGER, limit)]);
    await Promise.all([
      ...timers.map((t) => this.armTimer(t.txnNo, t.name, t.dueAt)),
      ...tasks.map((t) => this.enqueueTask(t.txnNo, t.task, Math.max(0, (t.nextRunAt ?? 0) - this.clock.now()))),
    ]);
    return timers.length + tasks.length;
  }

  /**
   * Runs now every task job whose task the store says is due at the runtime's clock (a delayed
   * job waiting out its backoff is promoted), and waits until none is waiting or running, or
   * `withinMs` has passed; returns how many jobs ran. What a test on a manual clock asks of the
   * scheduler in place of the embedded runner's pass.
   */
  async runDue(taskStore: Pick<TaskStore, 'task'>, withinMs = 30_000): Promise<number> {
    const delayed = await this.tasks.getJobs(['delayed'] as JobType[]);
    let promoted = 0;
    for (const job of delayed) {
      const task = await taskStore.task(job.data.txnNo, job.data.task);
      if (task?.status === 'pending' && (task.nextRunAt ?? 0) <= this.clock.now()) {
        await job.promote().catch(() => undefined);
        promoted++;
      }
    }
    const deadline = Date.now() + withinMs;
    let ran = promoted;
    for (;;) {
      const counts = await this.tasks.getJobCounts('waiting', 'active', 'prioritized');
      const busy = (counts.waiting ?? 0) + (counts.active ?? 0) + (counts.prioritized ?? 0);
      ran = Math.max(ran, busy);
      if (busy === 0 || Date.now() > deadline) return ran;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** A dead task's failed job makes way for a fresh one (manual retry). */
  async revived(txnNo: string, task: string): Promise<void> {
    await this.tasks.remove(BullmqScheduler.taskJobId(txnNo, task));
  }

  /** Dead tasks: failed jobs, newest first. */
  async deadJobs(limit = 100): Promise<DeadJob[]> {
    const jobs = await this.tasks.getJobs(['failed'] as JobType[], 0, limit - 1, false);
    return jobs.map((j) => ({
      txnNo: j.data.txnNo,
      task: j.data.task,
      attemptsMade: j.attemptsMade,
      failedReason: j.failedReason,
      failedAt: j.finishedOn ? new Date(j.finishedOn).toISOString() : null,
    }));
  }

  /** Jobs by state in each queue (admin API): waiting, delayed, active, failed (= dead tasks). */
  async queueCounts(): Promise<Record<'timers' | 'tasks', Record<string, number>>> {
    const states: JobType[] = ['waiting', 'delayed', 'active', 'failed'];
    const [timers, tasks] = await Promise.all([this.timers.getJobCounts(...states), this.tasks.getJobCounts(...states)]);
    return { timers, tasks };
  }

  async start(work: ScheduledWork): Promise<void> {
    const concurrency = this.options.concurrency ?? 16;
    const connection = this.connection;
    const prefix = this.options.prefix ?? '{tc-bull}';
    const timerWorker = new Worker<TimerJob>(
      'timers',
      async (job) => {
        if (await work.fireTimer(job.data.txnNo, job.data.name, job.data.dueAt)) this.counters.timersFired++;
      },
      { connection, prefix, concurrency, ...RECOVERY },
    );
    const taskWorker = new Worker<TaskJob>('tasks', (job, token) => this.runTask(work, job, token), {
      connection,
      prefix,
      concurrency,
      ...RECOVERY,
      settings: { backoffStrategy: (attemptsMade, _type, _err, job) => work.taskBackoff(String(job?.data?.txnNo), String(job?.data?.task), attemptsMade) },
    });
    for (const worker of [timerWorker, taskWorker]) {
      worker.on('error', (err) => this.options.log.error({ err }, 'bullmq worker error'));
    }
    this.workers = [timerWorker, taskWorker];
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
  }

  private async runTask(work: ScheduledWork, job: Job<TaskJob>, token: string | undefined): Promise<void> {
    const run = await work.runTask(job.data.txnNo, job.data.task);
    switch (run.next) {
      case 'done':
        this.counters.tasksDone++;
        return;
      case 'skip':
        return;
      case 'retry':
        this.counters.tasksRetried++;
        throw new Error(run.error);
      case 'wait':
        await job.moveToDelayed(Date.now() + run.delayMs, token);
        throw new DelayedError();
      case 'dead':
        this.counters.tasksDead++;
        throw new UnrecoverableError(run.error);
    }
  }

  /**
   * Graceful: running jobs finish (`worker.close()`), then the queues and the connection close.
   * Bounded: after Redis went away and came back, a worker's close can wait on its blocking
   * connection for ever; past `closeWithinMs` the workers are closed by force and the connection
   * is dropped (a job cut short is picked up again as stalled and re-run under its key: safe).
   */
  async stop(closeWithinMs = 5_000): Promise<void> {
    const graceful = async () => {
      await Promise.all(this.workers.map((w) => w.close()));
      await Promise.all([this.timers.close(), this.tasks.close()]);
      await this.connection.quit();
    };
    if (await settlesWithin(graceful(), closeWithinMs)) return;
    this.options.log.warn({ closeWithinMs }, 'BullMQ workers did not close in time: closing them by force');
    for (const w of this.workers) {
      void w.close(true).catch(() => undefined);
      void w.disconnect().catch(() => undefined);
    }
    void this.timers.disconnect().catch(() => undefined);
    void this.tasks.disconnect().catch(() => undefined);
    this.connection.disconnect();
  }
}

/** True when `work` settles (either way) within `ms`; the work goes on regardless. */
async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([work.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}
