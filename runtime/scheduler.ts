/**
 * What the runtime hands a scheduler: the two kinds of work it wakes up (DESIGN.md rule 4,
 * "Sentinel, retries"). Both are safe to call twice: a timer no longer armed at `dueAt` is not
 * fired, a task already done is not run again.
 */
export interface ScheduledWork {
  /** Fires a durable timer if the transaction still has it armed for `dueAt`; true when sent. */
  fireTimer(txnNo: string, name: string, dueAt: number): Promise<boolean>;
  /** Runs a post-payment task once; tells what should happen next. */
  runTask(txnNo: string, task: string): Promise<TaskRun>;
  /** The wait before a task's next attempt, after `attempts` failed ones (the runner's backoff). */
  taskBackoff(txnNo: string, task: string, attempts: number): number;
}

/** The outcome of one run of a task, as the scheduler needs it. */
export type TaskRun =
  | { next: 'done' }
  /** It failed and will be tried again after `delayMs` (an attempt spent). */
  | { next: 'retry'; delayMs: number; error: string }
  /** The callee was not even reached (circuit open): again after `delayMs`, no attempt spent. */
  | { next: 'wait'; delayMs: number }
  /** Out of attempts: waits for a manual retry. */
  | { next: 'dead'; error: string }
  /** Nothing to run: no such task, or already done or dead. */
  | { next: 'skip' };

/**
 * The seam between the runtime and what wakes it up: durable timers and post-payment tasks.
 * Embedded, the host and the task runner poll the SQLite store ({@link PollingScheduler});
 * scale-out, BullMQ delayed jobs and job attempts do it across processes (bullmq-scheduler.ts).
 */
export interface Scheduler {
  /** True when the host and the task runner find due work by polling the store themselves. */
  readonly polls: boolean;
  /**
   * Called after a snapshot is stored and before it is acknowledged: arms the wake-ups of
   * timers new or moved, drops those of timers gone, enqueues the tasks first asked for now.
   */
  saved(txnNo: string, before: Record<string, number>, after: Record<string, number>, newTasks: string[]): Promise<void>;
  /** A task to run again after `delayMs` (a manual retry that failed again, say). */
  enqueueTask(txnNo: string, task: string, delayMs: number): Promise<void>;
  /** A dead task was revived by a manual retry: forget it as dead. */
  revived(txnNo: string, task: string): Promise<void>;
  start(work: ScheduledWork): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Embedded default: the store is polled for due timers and tasks; nothing to arm. A save that asks
 * for tasks can start a pass at once ({@link onNewTasks}): post-payment work then keeps up with the
 * sales, where a poll every half second ran at most one batch of tasks per poll.
 */
export class PollingScheduler implements Scheduler {
  readonly polls = true;
  private newTasks: (() => void) | null = null;

  /** Called after each save that asked for tasks (the task runner's pass). */
  onNewTasks(listener: () => void): void {
    this.newTasks = listener;
  }

  async saved(_txnNo: string, _before: Record<string, number>, _after: Record<string, number>, newTasks: string[]): Promise<void> {
    if (newTasks.length) this.newTasks?.();
  }
  async enqueueTask(): Promise<void> {}
  async revived(): Promise<void> {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}
