import type { TaskOutcome, TaskRecord, TaskStore } from '../types.ts';
import type { SqliteHandle } from './handle.ts';

interface TaskRow {
  txn_no: string;
  task: string;
  kind: string;
  system: string;
  core: number;
  max_attempts: number;
  payload: string;
  status: TaskRecord['status'];
  attempts: number;
  last_error: string | null;
  next_run_at: number | null;
  result: string | null;
  refusals: number;
  updated_at: number;
}

function toTask(r: TaskRow): TaskRecord {
  return {
    txnNo: r.txn_no,
    task: r.task,
    kind: r.kind,
    system: r.system,
    core: r.core === 1,
    maxAttempts: r.max_attempts,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    status: r.status,
    attempts: r.attempts,
    lastError: r.last_error,
    nextRunAt: r.next_run_at,
    refusals: r.refusals,
    result: r.result === null ? null : (JSON.parse(r.result) as Record<string, unknown>),
    updatedAt: r.updated_at,
  };
}

/** Post-payment tasks on SQLite: one row per `txnNo:task` (inserted by the snapshot store's save). */
export class SqliteTaskStore implements TaskStore {
  private readonly stmts;

  constructor(private readonly handle: SqliteHandle) {
    const db = handle.db;
    this.stmts = {
      dueTasks: db.prepare<[number, number], TaskRow>("SELECT * FROM tasks WHERE status = 'pending' AND next_run_at <= ? ORDER BY next_run_at LIMIT ?"),
      claimTask: db.prepare("UPDATE tasks SET status = 'running', updated_at = ? WHERE txn_no = ? AND task = ? AND status = 'pending'"),
      finishTask: db.prepare(
        'UPDATE tasks SET status = ?, attempts = ?, refusals = coalesce(?, refusals), last_error = ?, next_run_at = ?, result = ?, updated_at = ? WHERE txn_no = ? AND task = ?',
      ),
      tasksOf: db.prepare<[string], TaskRow>('SELECT * FROM tasks WHERE txn_no = ? ORDER BY rowid'),
      taskOf: db.prepare<[string, string], TaskRow>('SELECT * FROM tasks WHERE txn_no = ? AND task = ?'),
      reviveTask: db.prepare("UPDATE tasks SET status = 'pending', attempts = 0, next_run_at = ?, updated_at = ? WHERE txn_no = ? AND task = ? AND status = 'dead'"),
      requeue: db.prepare("UPDATE tasks SET status = 'pending', next_run_at = ?, updated_at = ? WHERE status = 'running'"),
    };
  }

  async dueTasks(nowMs: number, limit: number): Promise<TaskRecord[]> {
    return this.stmts.dueTasks.all(nowMs, limit).map(toTask);
  }

  async claimTask(txnNo: string, task: string, nowMs: number): Promise<boolean> {
    return this.handle.write(() => this.stmts.claimTask.run(nowMs, txnNo, task).changes === 1);
  }

  async startTask(txnNo: string, task: string, nowMs: number): Promise<{ task: TaskRecord; claimed: boolean } | null> {
    return this.handle.write(() => {
      const row = this.stmts.taskOf.get(txnNo, task);
      if (!row) return null;
      const claimed = row.status === 'pending' && this.stmts.claimTask.run(nowMs, txnNo, task).changes === 1;
      return { task: toTask(row), claimed };
    });
  }

  async finishTask(
    txnNo: string,
    task: string,
    o: TaskOutcome,
    nowMs: number,
  ): Promise<void> {
    await this.handle.write(() =>
      this.stmts.finishTask.run(o.status, o.attempts, o.refusals ?? null, o.lastError, o.nextRunAt, o.result ? JSON.stringify(o.result) : null, nowMs, txnNo, task),
    );
  }

  async tasksOf(txnNo: string): Promise<TaskRecord[]> {
    return this.stmts.tasksOf.all(txnNo).map(toTask);
  }

  async task(txnNo: string, task: string): Promise<TaskRecord | null> {
    const row = this.stmts.taskOf.get(txnNo, task);
    return row ? toTask(row) : null;
  }

  async reviveTask(txnNo: string, task: string, nowMs: number): Promise<boolean> {
    return this.handle.write(() => this.stmts.reviveTask.run(nowMs, nowMs, txnNo, task).changes === 1);
  }

  async requeueRunningTasks(nowMs: number): Promise<number> {
    return this.handle.write(() => this.stmts.requeue.run(nowMs, nowMs).changes);
  }
}
