import type { Logger } from 'pino';
import type { IdempotencyRecords } from '../storage/types.ts';
import type { Clock } from './clock.ts';
import { ConfigError } from './systems-config.ts';
import { SerialPass } from './serial-pass.ts';

/** How long Idempotency-Key records are kept, and how often the older ones are deleted. */
export interface IdempotencyConfig {
  /**
   * API.md: "Keys are kept at least 24 h". A record younger than this is never deleted; once
   * older, the key is free again (`TRADE_IDEMPOTENCY_RETENTION_HOURS`), ms.
   */
  retentionMs: number;
  /** How often the purge runs, ms. A record may so outlive the retention by up to this much. */
  purgeEveryMs: number;
  /**
   * A running claim's lease, ms, renewed every third of it while its request runs: a retry takes
   * over a claim whose lease has run out (its process died), so a crash leaves a key "in
   * progress" for about this long, not for ever.
   */
  leaseMs: number;
}

/**
 * Reads `TRADE_IDEMPOTENCY_RETENTION_HOURS` (a positive number, fractions allowed) as ms, or
 * undefined when it is not set. Throws a {@link ConfigError} naming the key when it is bad.
 */
export function idempotencyRetentionFromEnv(env: Record<string, string | undefined>): number | undefined {
  const raw = env.TRADE_IDEMPOTENCY_RETENTION_HOURS;
  if (raw === undefined) return undefined;
  const hours = raw.trim() === '' ? Number.NaN : Number(raw);
  const ms = Math.round(hours * 3_600_000);
  // Redis takes the retention as a key's TTL in whole ms: at least 1, at most a safe integer.
  if (!Number.isFinite(hours) || hours <= 0 || ms < 1 || !Number.isSafeInteger(ms)) {
    throw new ConfigError([`TRADE_IDEMPOTENCY_RETENTION_HOURS: not a positive number of hours: ${JSON.stringify(raw)}`]);
  }
  return ms;
}

/**
 * Deletes the idempotency records older than the retention, every `purgeEveryMs`, in bounded
 * batches so that other writes get their turn in between. Time is the runtime's clock, so a test
 * on a manual clock moves past the retention and calls {@link run}. On Redis each key expires by
 * itself and a pass finds nothing to do.
 */
export class IdempotencyPurge {
  private timer: NodeJS.Timeout | null = null;
  private readonly passes = new SerialPass(() => this.purgeOnce());

  constructor(
    private readonly store: IdempotencyRecords,
    private readonly clock: Clock,
    private readonly config: IdempotencyConfig,
    private readonly log: Logger,
    private readonly batch = 1_000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.run().catch((err: unknown) => this.log.error({ err }, 'idempotency purge failed')), this.config.purgeEveryMs);
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
    // One cutoff for the whole pass: records claimed meanwhile are younger, so the loop ends.
    const olderThan = this.clock.now() - this.config.retentionMs;
    let purged = 0;
    for (;;) {
      const n = await this.store.purgeIdempotency(olderThan, this.batch);
      purged += n;
      if (n < this.batch) break;
    }
    if (purged > 0) this.log.info({ purged, olderThan: new Date(olderThan).toISOString() }, 'purged expired idempotency records');
    return purged;
  }
}
