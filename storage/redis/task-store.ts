import type { TaskSpec } from '../../machines/task-spec.ts';
import type { TaskOutcome, TaskRecord, TaskStatus, TaskStore } from '../types.ts';
import { IndexWrites, SEP, type RedisHandle } from './handle.ts';

/** Post-payment tasks on Redis: a hash per task (`tc:{T}:task:<name>`), due ones in `tc:{idx}:tasks`. */
export class RedisTaskStore implements TaskStore {
  constructor(private readonly h: RedisHandle) {}

  async dueTasks(nowMs: number, limit: number): Promise<TaskRecord[]> {
    const raw = await this.h.redis.zrangebyscore(this.h.idx('tasks'), '-inf', nowMs, 'WITHSCORES', 'LIMIT', 0, limit * 2);
    const out: TaskRecord[] = [];
    for (let i = 0; i < raw.length && out.length < limit; i += 2) {
      const [txnNo, task] = raw[i]!.split(SEP) as [string, string];
      const record = await this.task(txnNo, task);
      if (record && record.status === 'pending' && record.nextRunAt !== null && record.nextRunAt <= nowMs) out.push(record);
      else await this.h.redis.tcZremIfScore(this.h.idx('tasks'), raw[i]!, Number(raw[i + 1]));
    }
    return out.sort((a, b) => (a.nextRunAt ?? 0) - (b.nextRunAt ?? 0));
  }

  /** One task of a transaction, or null. */
  async task(txnNo: string, task: string): Promise<TaskRecord | null> {
    return toTask(txnNo, task, await this.h.redis.hgetall(this.h.taskKey(txnNo, task)));
  }

  async claimTask(txnNo: string, task: string, nowMs: number): Promise<boolean> {
    const claimed = (await this.h.redis.tcTaskMove(this.h.taskKey(txnNo, task), 'pending', nowMs, 'status', 'running')) === 1;
    if (claimed) await this.listRunning(txnNo, task, nowMs);
    return claimed;
  }

  async startTask(txnNo: string, task: string, nowMs: number): Promise<{ task: TaskRecord; claimed: boolean } | null> {
    const [claimed, ...flat] = await this.h.redis.tcTaskStart(this.h.taskKey(txnNo, task), nowMs);
    if (claimed === undefined) return null;
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[String(flat[i])] = String(flat[i + 1]);
    const record = toTask(txnNo, task, fields);
    if (!record) return null;
    if (Number(claimed) === 1) await this.listRunning(txnNo, task, nowMs);
    return { task: record, claimed: Number(claimed) === 1 };
  }

  /** A claimed task's index entries: listed running (for a requeue after a crash), no longer due. */
  private async listRunning(txnNo: string, task: string, nowMs: number): Promise<void> {
    const member = `${txnNo}${SEP}${task}`;
    await new IndexWrites(this.h.redis).zadd(this.h.idx('running'), nowMs, member).zrem(this.h.idx('tasks'), member).exec();
  }

  async finishTask(
    txnNo: string,
    task: string,
    o: TaskOutcome,
    nowMs: number,
  ): Promise<void> {
    const member = `${txnNo}${SEP}${task}`;
    // Scheduled first, so a crash after it leaves an entry the reader skips, not a pending task nobody lists.
    if (o.status === 'pending' && o.nextRunAt !== null) await this.h.redis.zadd(this.h.idx('tasks'), o.nextRunAt, member);
    if (o.status === 'dead') await this.h.redis.zadd(this.h.idx('attention'), 0, txnNo);
    const fields: (string | number)[] = ['status', o.status, 'attempts', o.attempts, 'lastError', o.lastError ?? '', 'nextRunAt', o.nextRunAt ?? '', 'result', o.result ? JSON.stringify(o.result) : ''];
    if (o.refusals !== undefined) fields.push('refusals', o.refusals);
    await this.h.redis.tcTaskMove(this.h.taskKey(txnNo, task), '', nowMs, ...fields);
    // No longer due needs no write: its claim took it off `tasks` (issue 21: one command fewer a
    // task). An entry a crash left there is skipped and removed by the reader (dueTasks).
    const m = new IndexWrites(this.h.redis).zrem(this.h.idx('running'), member);
    // A task done can only take the transaction off the attention list: look further only when it
    // is on it (the list holds too much, never too little), which most finishing tasks are not.
    if (o.status === 'done') m.zscore(this.h.idx('attention'), txnNo);
    const replies = await m.exec();
    if (o.status === 'done' && replies.at(-1) !== null) await this.h.reindexAttention(txnNo);
  }

  async tasksOf(txnNo: string): Promise<TaskRecord[]> {
    const names = await this.h.redis.lrange(this.h.k(txnNo, 'tasks'), 0, -1);
    const rows = await Promise.all(names.map((n) => this.h.redis.hgetall(this.h.taskKey(txnNo, n))));
    return names.map((n, i) => toTask(txnNo, n, rows[i]!)).filter((t): t is TaskRecord => t !== null);
  }

  async reviveTask(txnNo: string, task: string, nowMs: number): Promise<boolean> {
    await this.h.redis.zadd(this.h.idx('tasks'), nowMs, `${txnNo}${SEP}${task}`);
    const revived = (await this.h.redis.tcTaskMove(this.h.taskKey(txnNo, task), 'dead', nowMs, 'status', 'pending', 'attempts', 0, 'nextRunAt', nowMs)) === 1;
    await this.h.reindexAttention(txnNo);
    return revived;
  }

  async requeueRunningTasks(nowMs: number): Promise<number> {
    const running = await this.h.redis.zrange(this.h.idx('running'), 0, -1);
    let requeued = 0;
    for (const member of running) {
      const [txnNo, task] = member.split(SEP) as [string, string];
      await this.h.redis.zadd(this.h.idx('tasks'), nowMs, member);
      if ((await this.h.redis.tcTaskMove(this.h.taskKey(txnNo, task), 'running', nowMs, 'status', 'pending', 'nextRunAt', nowMs)) === 1) requeued++;
      await this.h.redis.zrem(this.h.idx('running'), member);
    }
    return requeued;
  }
}

/** What a task record keeps of its spec: everything but the name, which is its key. */
export function specOf(t: TaskSpec): Omit<TaskSpec, 'task'> {
  return { kind: t.kind, system: t.system, core: t.core, maxAttempts: t.maxAttempts, payload: t.payload };
}

function toTask(txnNo: string, task: string, h: Record<string, string>): TaskRecord | null {
  if (!h.spec) return null;
  const spec = JSON.parse(h.spec) as Omit<TaskSpec, 'task'>;
  return {
    txnNo,
    task,
    ...spec,
    status: h.status as TaskStatus,
    attempts: Number(h.attempts ?? 0),
    lastError: h.lastError ? h.lastError : null,
    nextRunAt: h.nextRunAt ? Number(h.nextRunAt) : null,
    refusals: Number(h.refusals ?? 0),
    result: h.result ? (JSON.parse(h.result) as Record<string, unknown>) : null,
    updatedAt: Number(h.updatedAt ?? 0),
  };
}
