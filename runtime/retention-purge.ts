import type { Logger } from 'pino';
import type { Clock } from './clock.ts';
import { SerialPass } from './serial-pass.ts';

/** How long records of one kind are kept, and how often the older ones are deleted. */
export interface RetentionConfig {
  /** A record younger than this is never deleted, ms. */
  retentionMs: number;
  /** How often the purge runs, ms. A record may so outlive the retention by up to this much. */
  purgeEveryMs: number;
}

/**
 * Deletes a store's records older than the retention, every `purgeEveryMs`, in bounded batches so
 * that other writes get their turn in between. `purgeBatch(olderThanMs, limit)` deletes at most
 * `limit` records older than the cutoff and returns how many. Time is the runtime's clock, so a
 * test on a manual clock moves past the retention and calls {@link run}.
 */
export class RetentionPurge {
  private timer: NodeJS.Timeout | null = null;
  private readonly passes = new SerialPass(() => this.purgeOnce());

  constructor(
    /** What is purged, for the log: `idempotency records`, `shadow quotes`. */
    private readonly what: string,
    private readonly purgeBatch: (olderThanMs: number, limit: number) => Promise<number>,
    private readonly clock: Clock,
    private readonly config: RetentionConfig,
    private readonly log: Logger,
    private readonly batch = 1_000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.run().catch((err: unknown) => this.log.error({ err }, `purge of ${this.what} failed`)), this.config.purgeEveryMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.passes.idle();
  }

  /** One purge now (passes never overlap); returns how many records it deleted. */
  run(): Promise<number> {
    return this.passes.run();
  }

  private async purgeOnce(): Promise<number> {
    // One cutoff for the whole pass: records written meanwhile are younger, so the loop ends.
    const olderThan = this.clock.now() - this.config.retentionMs;
    let purged = 0;
    for (;;) {
      const n = await this.purgeBatch(olderThan, this.batch);
      purged += n;
      if (n < this.batch) break;
    }
    if (purged > 0) this.log.info({ purged, olderThan: new Date(olderThan).toISOString() }, `purged expired ${this.what}`);
    return purged;
  }
}
