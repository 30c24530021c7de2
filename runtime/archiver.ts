import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { Subject } from 'rxjs';
import type { ArchiveEntry, FinalTransaction, Journal, OrderArchive, QuoteRecords, SnapshotStore, TaskStore } from '../storage/types.ts';
import type { Clock } from './clock.ts';
import { orderRowOf } from './order-row.ts';
import { SerialPass } from './serial-pass.ts';
import { ConfigError } from './systems-config.ts';

/** When final transactions leave the hot store, and in what batches. */
export interface ArchiverConfig {
  /** The quiet period: a transaction final for this long is archived (`TRADE_ARCHIVE_AFTER`), ms. */
  afterMs: number;
  /** How often the archiver looks, ms (one process a period across those sharing the storage). */
  everyMs: number;
  /** Transactions per archive transaction. */
  batch: number;
  /** At most this many transactions in one turn, so a backlog is worked off over a few turns. */
  maxPerTurn: number;
}

/** DOMAIN.md "Archive": one hour of quiet by default. */
export const DEFAULT_ARCHIVE_AFTER_MS = 3_600_000;

/** The archiver's settings for a quiet period: it looks twice a quiet period (between 0.5 s and a minute). */
export function archiverConfig(afterMs: number): ArchiverConfig {
  return { afterMs, everyMs: Math.min(60_000, Math.max(500, Math.floor(afterMs / 2))), batch: 200, maxPerTurn: 5_000 };
}

/**
 * Reads `TRADE_ARCHIVE_AFTER`, a duration such as `2s`, `10m`, `1h` (also `500ms`, `1d`), as ms,
 * or undefined when it is not set. Throws a {@link ConfigError} naming the key when it is bad.
 */
export function archiveAfterFromEnv(env: Record<string, string | undefined>): number | undefined {
  const raw = env.TRADE_ARCHIVE_AFTER;
  if (raw === undefined) return undefined;
  const ms = parseDuration(raw);
  if (ms === null) throw new ConfigError([`TRADE_ARCHIVE_AFTER: not a duration such as 2s, 10m or 1h: ${JSON.stringify(raw)}`]);
  return ms;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `2s`, `10m`, `1.5h`, `500ms`, `1d` → ms; null when it is none of those or not positive. */
export function parseDuration(raw: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(raw);
  if (!m) return null;
  const ms = Math.round(Number(m[1]) * UNIT_MS[m[2]!]!);
  return ms >= 1 && Number.isSafeInteger(ms) ? ms : null;
}

/** Named points at which `TRADE_ARCHIVE_FAILPOINT` makes the archiver kill its own process (crash tests). */
export type ArchiveFailpoint = (typeof ARCHIVE_FAILPOINTS)[number];

const ARCHIVE_FAILPOINTS = ['before-archive-commit', 'after-archive-write'] as const;

/** Reads `TRADE_ARCHIVE_FAILPOINT` (crash tests only), or undefined when it is not set. */
export function archiveFailpointFromEnv(env: Record<string, string | undefined>): ArchiveFailpoint | undefined {
  const raw = env.TRADE_ARCHIVE_FAILPOINT;
  if (raw === undefined || raw === '') return undefined;
  const point = ARCHIVE_FAILPOINTS.find((p) => p === raw);
  if (!point) throw new ConfigError([`TRADE_ARCHIVE_FAILPOINT: one of ${ARCHIVE_FAILPOINTS.join(', ')}, not ${JSON.stringify(raw)}`]);
  return point;
}

/** The host's part: letting an archived transaction go, in its turn (see TransactionHost.retire). */
export interface Retiring {
  retire(txnNo: string, version: number): Promise<boolean>;
}

/** What one turn did. */
export interface ArchiveTurn {
  /** Transactions written to the archive (new or a newer version). */
  archived: number;
  /** Transactions that left the hot store. */
  removed: number;
  /** Final transactions kept: a task not done yet, or they moved on before they could go. */
  kept: number;
}

/** One archive transaction of a turn, as the metrics follow it ({@link Archiver.batches}). */
export interface ArchiveBatch {
  /** Transactions in the batch. */
  entries: number;
  /** Of them, written to the archive (new or a newer version). */
  archived: number;
  /** Of them, gone from the hot store after it (0 when it failed). */
  removed: number;
  /** Wall time of the archive write and the removals, s. */
  seconds: number;
  /** `failed`: the archive write or a removal threw (nothing is lost: the next turn tries again). */
  outcome: 'ok' | 'failed';
}

/**
 * The archiver (DOMAIN.md "Archive"): every `everyMs` one process takes the turn and moves the
 * transactions final for longer than the quiet period from the hot store to the order archive:
 * their final record, journal, tasks and flat row go into the archive in one archive transaction,
 * and only then each leaves the hot store by compare-and-set on its version. Crash-safe by that
 * order: killed before the archive commits, nothing changed; killed after it, the next turn finds
 * the transactions still in the hot store and archives them again, which the archive leaves alone
 * (same version), and removes them. A transaction that moved on in between (a refund, a nudge)
 * stays and is archived again once final. Time is the runtime's clock: the simulation drives
 * {@link run} on virtual time.
 */
export class Archiver {
  /** Totals of this process, for metrics and tests. */
  readonly counters = { turns: 0, archived: 0, removed: 0, kept: 0, quotesSwept: 0, failures: 0 };
  /** Every archive batch, done or failed (metrics). */
  readonly batches = new Subject<ArchiveBatch>();
  private timer: NodeJS.Timeout | null = null;
  private readonly passes = new SerialPass(async () => (await this.turn()).removed);

  constructor(
    private readonly stores: { snapshots: SnapshotStore; quotes: QuoteRecords; journal: Journal; tasks: TaskStore },
    private readonly archive: OrderArchive,
    private readonly host: Retiring,
    private readonly clock: Clock,
    private readonly config: ArchiverConfig,
    private readonly log: Logger,
    /** Called at each named point of a batch: the crash tests kill the process there (see {@link failpointKill}). */
    private readonly atPoint: ((point: ArchiveFailpoint) => void) | null = null,
  ) {}

  start(): void {
    if (!this.archive.enabled) {
      this.log.warn('no order archive (TRADE_ARCHIVE_URL unset on Redis): final transactions stay in the hot store');
      return;
    }
    this.timer = setInterval(() => void this.run().catch((err: unknown) => this.log.error({ err }, 'archive turn failed')), this.config.everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.passes.idle();
  }

  /** One turn now (turns never overlap); returns how many transactions left the hot store. */
  run(): Promise<number> {
    return this.passes.run();
  }

  private async turn(): Promise<ArchiveTurn> {
    const result: ArchiveTurn = { archived: 0, removed: 0, kept: 0 };
    if (!this.archive.enabled || !(await this.stores.snapshots.claimArchiveScan(this.config.everyMs))) return result;
    await this.sweepQuotes();
    const cutoff = this.clock.now() - this.config.afterMs;
    let after: FinalTransaction | null = null;
    let seen = 0;
    while (seen < this.config.maxPerTurn) {
      const batch = await this.stores.snapshots.finalTransactions(cutoff, Math.min(this.config.batch, this.config.maxPerTurn - seen), after);
      if (!batch.length) break;
      seen += batch.length;
      after = batch.at(-1)!;
      const entries = (await Promise.all(batch.map((c) => this.entryOf(c)))).filter((e): e is ArchiveEntry => e !== null);
      result.kept += batch.length - entries.length;
      if (entries.length) await this.archiveBatch(entries, result);
      if (batch.length < this.config.batch) break;
    }
    this.counters.turns++;
    this.counters.archived += result.archived;
    this.counters.removed += result.removed;
    this.counters.kept += result.kept;
    if (result.removed || result.archived) this.log.info(result, 'archived final transactions');
    return result;
  }

  /**
   * Quote records kept past their time, never ordered (issue 21), go in the same turn, in bounded
   * batches (a backend whose records expire by themselves sweeps none).
   */
  private async sweepQuotes(): Promise<void> {
    const now = this.clock.now();
    let swept = 0;
    for (;;) {
      const n = await this.stores.quotes.sweep(now, this.config.batch);
      swept += n;
      if (n < this.config.batch || swept >= this.config.maxPerTurn) break;
    }
    this.counters.quotesSwept += swept;
    if (swept) this.log.info({ swept }, 'swept quote records never ordered');
  }

  private async archiveBatch(entries: ArchiveEntry[], result: ArchiveTurn): Promise<void> {
    const started = performance.now();
    const batch: ArchiveBatch = { entries: entries.length, archived: 0, removed: 0, seconds: 0, outcome: 'ok' };
    try {
      const put = this.archive.put(entries);
      this.atPoint?.('before-archive-commit');
      const written = await put;
      batch.archived = written.written;
      result.archived += written.written;
      this.atPoint?.('after-archive-write');
      for (const e of entries) {
        if (await this.host.retire(e.record.txnNo, e.record.version)) {
          batch.removed++;
          result.removed++;
        } else result.kept++;
      }
    } catch (err) {
      batch.outcome = 'failed';
      this.counters.failures++;
      throw err;
    } finally {
      batch.seconds = (performance.now() - started) / 1000;
      this.batches.next(batch);
    }
  }

  /** What to archive of a candidate, or null when it must stay (moved on, a task not done). */
  private async entryOf(candidate: FinalTransaction): Promise<ArchiveEntry | null> {
    const record = await this.stores.snapshots.load(candidate.txnNo);
    if (!record || record.version !== candidate.version || record.finalAt === null) return null;
    const tasks = await this.stores.tasks.tasksOf(candidate.txnNo);
    // A task still to run (or dead, waiting for a person) is work of the transaction: not final yet.
    if (tasks.some((t) => t.status !== 'done')) return null;
    const journal = await this.stores.journal.entries(candidate.txnNo);
    const row = orderRowOf(record, journal);
    return row ? { row, record, journal, tasks } : null;
  }
}

/** The crash tests' SIGKILL at `failpoint` (`TRADE_ARCHIVE_FAILPOINT`): the archive write is issued, not yet committed, or written and not yet followed by the removals. */
export function failpointKill(failpoint: ArchiveFailpoint, log: Logger): (point: ArchiveFailpoint) => void {
  return (point) => {
    if (point !== failpoint) return;
    log.warn({ failpoint: point }, 'archive failpoint: killing this process');
    process.kill(process.pid, 'SIGKILL');
  };
}
