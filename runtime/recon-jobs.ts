import Database from 'better-sqlite3';
import { Queue, Worker } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { shiftDay } from '../domain/reconciliation/bill-format.ts';
import type { BillChannel } from '../domain/reconciliation/bill-row.ts';
import { connectRedis } from '../storage/redis/handle.ts';
import type { ReconciliationRecords } from '../storage/types.ts';
import type { Clock } from './clock.ts';
import { BULLMQ_EVENTS } from './bullmq-scheduler.ts';
import { BillUnusableError } from './parsed-bills.ts';
import { latestDueDay, RECON_CHANNELS, reconDueAt, type Reconciler } from './reconciler.ts';
import { ConfigError } from './systems-config.ts';
import type { ReconConfig } from './trade-center.ts';

/** One armed daily run: a channel's day, when it is due, and how many tries it had. */
export interface ReconJob {
  channel: BillChannel;
  day: string;
  dueAt: number;
  attempt: number;
}

/**
 * Where the daily runs' wake-ups are kept (DESIGN.md rule 4: business timers are durable): a row
 * per channel in the SQLite file embedded, a BullMQ delayed job in scale-out. Arming the same job
 * twice is one job; a due job is handed to one process only.
 */
export interface ReconSchedule {
  /** Arms `job` unless one is armed for its channel already (start-up: whichever process comes first). */
  armFirst(job: ReconJob): Promise<void>;
  /** Arms the channel's next job, replacing what the run just took. */
  arm(job: ReconJob): Promise<void>;
  start(run: (job: ReconJob) => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The embedded schedule: table `recon_timers` of the platform's SQLite file (one row per
 * channel), polled on the host's clock. A due row is taken by deleting it (compare-and-delete on
 * its due time), so of processes sharing the file one runs it.
 */
export class SqliteReconSchedule implements ReconSchedule {
  private readonly db: Database.Database;
  private readonly stmts;
  private poll: NodeJS.Timeout | null = null;
  private run: ((job: ReconJob) => Promise<void>) | null = null;
  private passing: Promise<number> | null = null;

  constructor(path: string, private readonly clock: Clock, private readonly pollMs: number, private readonly log: Logger) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec('CREATE TABLE IF NOT EXISTS recon_timers (channel TEXT PRIMARY KEY, day TEXT NOT NULL, due_at INTEGER NOT NULL, attempt INTEGER NOT NULL)');
    this.stmts = {
      armFirst: this.db.prepare('INSERT INTO recon_timers (channel, day, due_at, attempt) VALUES (?, ?, ?, ?) ON CONFLICT (channel) DO NOTHING'),
      arm: this.db.prepare('INSERT OR REPLACE INTO recon_timers (channel, day, due_at, attempt) VALUES (?, ?, ?, ?)'),
      due: this.db.prepare<[number], { channel: BillChannel; day: string; due_at: number; attempt: number }>('SELECT * FROM recon_timers WHERE due_at <= ? ORDER BY due_at, channel'),
      take: this.db.prepare('DELETE FROM recon_timers WHERE channel = ? AND day = ? AND due_at = ?'),
      all: this.db.prepare<[], { channel: BillChannel; day: string; due_at: number; attempt: number }>('SELECT * FROM recon_timers ORDER BY channel'),
    };
  }

  async armFirst(job: ReconJob): Promise<void> {
    this.stmts.armFirst.run(job.channel, job.day, job.dueAt, job.attempt);
  }

  async arm(job: ReconJob): Promise<void> {
    this.stmts.arm.run(job.channel, job.day, job.dueAt, job.attempt);
  }

  /** The armed jobs, by channel (tests, the admin). */
  armed(): ReconJob[] {
    return this.stmts.all.all().map((r) => ({ channel: r.channel, day: r.day, dueAt: r.due_at, attempt: r.attempt }));
  }

  /** Runs every job due at the clock's now (one pass at a time); answers how many ran. */
  runDue(): Promise<number> {
    this.passing ??= this.pass().finally(() => (this.passing = null));
    return this.passing;
  }

  private async pass(): Promise<number> {
    if (!this.run) return 0;
    let ran = 0;
    for (const r of this.stmts.due.all(this.clock.now())) {
      if (this.stmts.take.run(r.channel, r.day, r.due_at).changes !== 1) continue;
      await this.run({ channel: r.channel, day: r.day, dueAt: r.due_at, attempt: r.attempt });
      ran += 1;
    }
    return ran;
  }

  async start(run: (job: ReconJob) => Promise<void>): Promise<void> {
    this.run = run;
    this.poll = setInterval(() => void this.runDue().catch((err: unknown) => this.log.error({ err }, 'reconciliation pass failed')), this.pollMs);
    this.poll.unref();
  }

  async stop(): Promise<void> {
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
    await this.passing;
    this.run = null;
    if (this.db.open) this.db.close();
  }
}

/**
 * The scale-out schedule: a BullMQ queue `recon`, one delayed job per channel day and attempt
 * (`r-<channel>-<day>-<attempt>`: arming twice is one job, kept a week after it ran), its delay
 * measured on the host's clock. Any worker process takes any job.
 */
export class BullmqReconSchedule implements ReconSchedule {
  readonly queue: Queue<ReconJob>;
  private readonly connection: Redis | Cluster;
  private worker: Worker<ReconJob> | null = null;

  constructor(private readonly options: { url: string; cluster?: boolean; prefix?: string; clock: Clock; log: Logger }) {
    this.connection = connectRedis(options.url, options.cluster ?? false);
    this.queue = new Queue<ReconJob>('recon', { connection: this.connection, prefix: options.prefix ?? '{tc-bull}', streams: BULLMQ_EVENTS });
  }

  static jobId(job: Pick<ReconJob, 'channel' | 'day' | 'attempt'>): string {
    return `r-${job.channel}-${job.day}-${job.attempt}`;
  }

  async armFirst(job: ReconJob): Promise<void> {
    // The job id makes a second process's arming of the same day the same job.
    await this.arm(job);
  }

  async arm(job: ReconJob): Promise<void> {
    await this.queue.add('run', job, {
      jobId: BullmqReconSchedule.jobId(job),
      delay: Math.max(0, job.dueAt - this.options.clock.now()),
      removeOnComplete: { age: 7 * 86_400 },
      removeOnFail: { age: 7 * 86_400 },
    });
  }

  async start(run: (job: ReconJob) => Promise<void>): Promise<void> {
    this.worker = new Worker<ReconJob>('recon', (job) => run(job.data), {
      connection: this.connection,
      prefix: this.options.prefix ?? '{tc-bull}',
      concurrency: 1,
      lockDuration: 60_000,
    });
    this.worker.on('error', (err) => this.options.log.error({ err }, 'bullmq recon worker error'));
    await this.worker.waitUntilReady();
  }

  async stop(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
    await this.connection.quit();
  }
}

/**
 * The daily reconciliation (issue 19): for each channel, the previous China day at the configured
 * hour. After a run the next day is armed; a bill not ready yet (or a run that failed) is tried
 * again `retryMs` later, and until then the `tc_reconciliation_bill_missing` gauge says so (it
 * reads the records: a day past its hour without a recorded run). Days missed while nothing ran
 * are caught up one after another, each run idempotent.
 */
export class ReconJobs {
  constructor(
    private readonly reconciler: Reconciler,
    private readonly records: ReconciliationRecords,
    readonly schedule: ReconSchedule,
    private readonly clock: Clock,
    private readonly config: ReconConfig,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const now = this.clock.now();
    for (const channel of RECON_CHANNELS) {
      const latest = latestDueDay(now, this.config.hour);
      const day = (await this.records.run(channel, latest)) ? shiftDay(latest, 1) : latest;
      await this.schedule.armFirst({ channel, day, dueAt: reconDueAt(day, this.config.hour), attempt: 0 });
    }
    await this.schedule.start((job) => this.runJob(job));
  }

  /** One due job: run its day, then arm the next day, or the same day again later. */
  async runJob(job: ReconJob): Promise<void> {
    try {
      const run = await this.reconciler.run(job.channel, job.day);
      this.log.info({ channel: job.channel, day: job.day, added: run.added.length, autoFixed: run.autoFixed.length }, 'reconciled a channel day');
      const next = shiftDay(job.day, 1);
      await this.schedule.arm({ channel: job.channel, day: next, dueAt: reconDueAt(next, this.config.hour), attempt: 0 });
    } catch (err) {
      const notReady = err instanceof BillUnusableError && err.reason === 'not-ready';
      this.log[notReady ? 'warn' : 'error']({ err, channel: job.channel, day: job.day, attempt: job.attempt }, notReady ? 'bill not ready: trying again later' : 'reconciliation run failed: trying again later');
      await this.schedule.arm({ ...job, dueAt: this.clock.now() + this.config.retryMs, attempt: job.attempt + 1 });
    }
  }

  stop(): Promise<void> {
    return this.schedule.stop();
  }
}

/**
 * The reconciliation's settings from the environment: `TRADE_RECON_HOUR` (0-23, China time),
 * `TRADE_RECON_RETRY_MINUTES`, `TRADE_RECON_DAILY=0` (no daily job in this deployment),
 * `TRADE_RECON_BILLS_URL` and `TRADE_SIM_ADMIN_TOKEN`. Throws a {@link ConfigError} naming every bad key.
 */
export function reconConfigFromEnv(env: Record<string, string | undefined>, defaults: ReconConfig): ReconConfig {
  const problems: string[] = [];
  const int = (key: string, min: number, max: number): number | undefined => {
    const raw = env[key];
    if (raw === undefined) return undefined;
    const n = raw.trim() === '' ? Number.NaN : Number(raw);
    if (!Number.isSafeInteger(n) || n < min || n > max) problems.push(`${key}: not an integer from ${min} to ${max}: ${JSON.stringify(raw)}`);
    return n;
  };
  const hour = int('TRADE_RECON_HOUR', 0, 23);
  const retryMinutes = int('TRADE_RECON_RETRY_MINUTES', 1, 24 * 60);
  const daily = env.TRADE_RECON_DAILY;
  if (daily !== undefined && daily !== '0' && daily !== '1') problems.push(`TRADE_RECON_DAILY: 0 or 1, not ${JSON.stringify(daily)}`);
  if (problems.length) throw new ConfigError(problems);
  return {
    ...defaults,
    ...(hour !== undefined ? { hour } : {}),
    ...(retryMinutes !== undefined ? { retryMs: retryMinutes * 60_000 } : {}),
    ...(daily !== undefined ? { daily: daily === '1' } : {}),
    ...(env.TRADE_RECON_BILLS_URL ? { billsOrigin: env.TRADE_RECON_BILLS_URL } : {}),
    ...(env.TRADE_SIM_ADMIN_TOKEN ? { adminToken: env.TRADE_SIM_ADMIN_TOKEN } : {}),
  };
}
