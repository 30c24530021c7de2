import type { Logger } from 'pino';
import type { IdleTransaction, SentinelIndex } from '../storage/types.ts';
import type { Clock } from './clock.ts';
import { SerialPass } from './serial-pass.ts';

/** When the sentinel calls a transaction stuck, and what it does about it. */
export interface SentinelConfig {
  /** How often the periodic scan runs, ms. */
  scanMs: number;
  /**
   * Idle time after which a transaction in a state is looked at, ms, by top-level state;
   * `default` for the rest. Idle = no write since.
   */
  idleMs: { default: number } & Partial<Record<string, number>>;
  /** A timer this long past due that nobody fired means its wake-up was lost. */
  graceMs: number;
  /** Nudges of one unchanged transaction before it is flagged `needsAttention`. */
  maxNudges: number;
}

/** The runtime the sentinel drives: the host's nudge (rehydrate, re-run, fire due timers). */
export interface Nudgeable {
  nudge(txnNo: string): Promise<unknown>;
}

/** What one scan did. */
export interface ScanResult {
  /** Idle transactions looked at. */
  examined: number;
  nudged: number;
  /** Flagged stuck by this scan: nudged `maxNudges` times without moving. */
  flagged: number;
}

/**
 * The sentinel (DESIGN.md "Sentinel, retries, manual work"). At start the host rehydrates what has
 * running work or a due timer; this scan then keeps looking, every `scanMs`, for transactions
 * idle past their state's deadline that should have moved: a call still marked running, or a
 * timer past due by `graceMs` that nobody fired (a lost wake-up, a process that died). It nudges
 * each, counts the nudges per stored version, and after `maxNudges` without progress flags the
 * transaction for a person. A transaction waiting, within its deadlines, for a customer or a
 * callback is not stuck and is left alone.
 */
export class Sentinel {
  /** Totals of this process, for metrics. */
  readonly counters = { scans: 0, nudges: 0, flagged: 0 };
  private timer: NodeJS.Timeout | null = null;
  private lastStuck = 0;
  /** Nudges still under way: a transaction busy for good (a hung call) must not stall the scan. */
  private readonly inFlight = new Set<string>();
  private readonly passes = new SerialPass(async () => (await this.scanOnce()).nudged);

  constructor(
    private readonly store: SentinelIndex,
    private readonly host: Nudgeable,
    private readonly clock: Clock,
    private readonly config: SentinelConfig,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.scan().catch((err: unknown) => this.log.error({ err }, 'sentinel scan failed')), this.config.scanMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.passes.idle();
  }

  /** One scan now (scans never overlap); returns how many transactions it nudged. */
  scan(): Promise<number> {
    return this.passes.run();
  }

  /** Transactions flagged stuck and not moved since, as of the last scan (metrics gauge). */
  stuckCount(): number {
    return this.lastStuck;
  }

  private async scanOnce(): Promise<ScanResult> {
    const now = this.clock.now();
    // One process a period scans: the others sharing the storage would only repeat it.
    if (!(await this.store.claimScan(this.config.scanMs))) {
      this.lastStuck = await this.store.stuckCount();
      return { examined: 0, nudged: 0, flagged: 0 };
    }
    await this.store.repairIndexes(now);
    const shortest = Math.min(...Object.values(this.config.idleMs).filter((v): v is number => v !== undefined));
    const idle = await this.store.idleTransactions(now - shortest, 1000);
    const result: ScanResult = { examined: idle.length, nudged: 0, flagged: 0 };
    for (const txn of idle) {
      if (txn.stuck || !this.shouldHaveMoved(txn, now)) continue;
      const nudges = await this.store.recordNudge(txn.txnNo, txn.version);
      if (nudges === 0) continue; // it moved since the scan read it
      if (nudges > this.config.maxNudges) {
        if (await this.store.markStuck(txn.txnNo, txn.version)) {
          result.flagged++;
          this.log.error({ alert: 'transaction-stuck', txnNo: txn.txnNo, state: txn.state, nudges: nudges - 1 }, 'transaction does not move after nudges: needs attention');
        }
        continue;
      }
      if (this.inFlight.has(txn.txnNo)) continue; // counted: the last nudge has not got through
      result.nudged++;
      this.log.warn({ txnNo: txn.txnNo, state: txn.state, idleMs: now - txn.updatedAt, nudge: nudges }, 'nudging an idle transaction');
      this.inFlight.add(txn.txnNo);
      void this.host
        .nudge(txn.txnNo)
        .catch((err: unknown) => this.log.error({ err, txnNo: txn.txnNo }, 'nudge failed'))
        .finally(() => this.inFlight.delete(txn.txnNo));
    }
    this.counters.scans++;
    this.counters.nudges += result.nudged;
    this.counters.flagged += result.flagged;
    this.lastStuck = await this.store.stuckCount();
    return result;
  }

  private shouldHaveMoved(txn: IdleTransaction, now: number): boolean {
    const deadline = this.config.idleMs[txn.state] ?? this.config.idleMs.default;
    if (txn.updatedAt > now - deadline) return false;
    return txn.working || Object.values(txn.timers).some((due) => due <= now - this.config.graceMs);
  }
}
