import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { isDownstreamUnavailable } from '../systems/contract.ts';
import type { OsPort } from '../systems/os/port.ts';
import type { OsCursor, OsEvent, OsGroupChange, OsOutbox } from '../storage/types.ts';
import type { Clock } from './clock.ts';
import type { Downstream } from './downstream.ts';
import { parseDuration } from './archiver.ts';
import { SerialPass } from './serial-pass.ts';
import { ConfigError } from './systems-config.ts';

/** How the delivery loop runs. */
export interface OsSyncConfig {
  /** How often a pass looks at the stations, ms. */
  pollMs: number;
  /** Events read per station per read. */
  batch: number;
  /** Backoff of a station whose delivery failed: base, doubling per failure, up to max, ms. */
  baseBackoffMs: number;
  maxBackoffMs: number;
  /**
   * How long delivered events stay in the outbox, ms (`TRADE_OS_KEEP_DELIVERED`): the resync
   * window. Older delivered ones are let go each pass (Redis and SQLite alike).
   */
  keepDeliveredMs: number;
  /**
   * How long a station's delivery lease runs, ms, renewed before each batch: a process that died
   * holding it keeps the others off that station this long at most.
   */
  leaseMs: number;
}

/** Seven days of delivered events: a resync reaches back a week. */
export const DEFAULT_OS_KEEP_DELIVERED_MS = 7 * 86_400_000;

export const DEFAULT_OS_SYNC: OsSyncConfig = { pollMs: 1_000, batch: 100, baseBackoffMs: 1_000, maxBackoffMs: 5 * 60_000, keepDeliveredMs: DEFAULT_OS_KEEP_DELIVERED_MS, leaseMs: 30_000 };

/**
 * Reads `TRADE_OS_KEEP_DELIVERED` (a duration such as `1d`, `7d`, `12h`), ms, or undefined when it
 * is not set. Throws a {@link ConfigError} naming the key when it is bad.
 */
export function osKeepDeliveredFromEnv(env: Record<string, string | undefined>): number | undefined {
  const raw = env.TRADE_OS_KEEP_DELIVERED;
  if (raw === undefined) return undefined;
  const ms = parseDuration(raw);
  if (ms === null) throw new ConfigError([`TRADE_OS_KEEP_DELIVERED: not a duration such as 12h or 7d: ${JSON.stringify(raw)}`]);
  return ms;
}

/** Events a pass lets go of per station at most (a backlog of old ones goes over a few passes). */
const TRIM_PER_PASS = 5_000;

/** A station's cursor as the admin API shows it: the stored cursor, its group's switch, and this process's backoff. */
export interface OsStationStatus extends OsCursor {
  group: string | null;
  /** The group reads the online orders: nothing is delivered to this station any more. */
  readsOnline: boolean;
  failures: number;
  lastError: string | null;
  /** Epoch ms before which this process does not try the station again, or null. */
  retryAt: number | null;
}

interface Backoff {
  failures: number;
  until: number;
  lastError: string;
}

/**
 * Delivers each station's OS order events in station order (issue 20, "OS order sync"): a pass
 * reads every station's cursor, sends the events after it one by one, and moves the cursor
 * (compare-and-set) past what the OS took, once per batch. Exactly once at the OS: each call is keyed
 * `txnNo:os-event:<eventSeq>` and OS is idempotent by (orderNo, eventSeq), so a re-send after a
 * crash, a lost answer, a second worker or a resync changes nothing there. A station whose
 * delivery fails (OS down, a refusal) waits, doubling its wait on the injected clock; the others
 * go on. Stations of a group switched to reading the online orders are skipped: their events are
 * still recorded, not delivered. Runs on the worker role (or the one process); where several run
 * it (workers, processes on one SQLite file), a station is delivered under its lease
 * ({@link OsOutbox.leaseStation}): one process at a time sends its events, in order, and the
 * others pass it by until the lease is let go or lapses. The cursor's compare-and-set stays the
 * fence for a holder paused past its lease.
 */
export class OsSync {
  private readonly backoff = new Map<string, Backoff>();
  /** Refusals per event this process saw: a refusal is an answer stored under its key, so the next try asks under a new one. */
  private readonly refusals = new Map<string, number>();
  private readonly passes = new SerialPass(() => this.pass());
  private timer: NodeJS.Timeout | null = null;
  /** This process, as the owner of station leases. */
  private readonly owner = randomUUID();
  /** Stations passed by because another process held their lease (metrics, tests). */
  leaseBusy = 0;

  constructor(
    private readonly outbox: OsOutbox,
    private readonly os: OsPort,
    private readonly downstream: Downstream,
    private readonly groupOf: (stationId: string) => Promise<string | null>,
    private readonly clock: Clock,
    private readonly config: OsSyncConfig,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.runDue().catch((err: unknown) => this.log.error({ err }, 'OS sync pass failed')), this.config.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.passes.idle();
  }

  /** One pass over every station (a caller during a pass gets the next one); returns the events delivered. */
  runDue(): Promise<number> {
    return this.passes.run();
  }

  /** Every station's cursor, switch and backoff. */
  async status(): Promise<OsStationStatus[]> {
    const online = new Set(await this.outbox.readsOnlineGroups());
    return Promise.all((await this.outbox.cursors()).map(async (c) => {
      const group = await this.groupOf(c.stationId).catch(() => null);
      const b = this.backoff.get(c.stationId);
      return { ...c, group, readsOnline: group !== null && online.has(group), failures: b?.failures ?? 0, lastError: b?.lastError ?? null, retryAt: b?.until ?? null };
    }));
  }

  /** Re-delivers a station's events recorded since `fromMs` (the OS's idempotency makes it harmless); returns the cursor's new place. */
  async resync(stationId: string, fromMs: number): Promise<number> {
    const to = await this.outbox.rewind(stationId, fromMs);
    this.backoff.delete(stationId);
    this.log.info({ stationId, from: new Date(fromMs).toISOString(), deliveredSeq: to }, 'OS resync: station cursor put back');
    return to;
  }

  /** Switches a group's OS to reading the online orders (or back), journalled. */
  async switchGroup(group: string, readsOnline: boolean, by: string): Promise<OsGroupChange> {
    const change = await this.outbox.setGroup(group, readsOnline, by, this.clock.now());
    this.log.info({ group, readsOnline, by, seq: change.seq }, 'OS group switch changed');
    return change;
  }

  groupChanges(limit: number): Promise<OsGroupChange[]> {
    return this.outbox.groupChanges(limit);
  }

  private async pass(): Promise<number> {
    await this.outbox.repair(this.config.batch);
    const online = new Set(await this.outbox.readsOnlineGroups());
    let delivered = 0;
    const keepFrom = this.clock.now() - this.config.keepDeliveredMs;
    for (const cursor of await this.outbox.cursors()) {
      // What OS took longer ago than the resync window goes, whatever the station's switch.
      if (cursor.deliveredSeq > 0) await this.outbox.trim(cursor.stationId, keepFrom, TRIM_PER_PASS);
      if (cursor.pending <= 0) continue;
      const b = this.backoff.get(cursor.stationId);
      if (b && b.until > this.clock.now()) continue;
      if (online.size > 0) {
        let group: string | null;
        try {
          group = await this.groupOf(cursor.stationId);
        } catch (err) {
          // Without its group the switch cannot be honoured: the station waits for the next pass.
          this.log.warn({ stationId: cursor.stationId, err }, 'OS sync: station group unknown, station skipped');
          continue;
        }
        if (group !== null && online.has(group)) continue;
      }
      delivered += await this.deliverLeased(cursor.stationId);
    }
    return delivered;
  }

  /** Delivers the station's pending events under its lease; 0 when another process holds it. */
  private async deliverLeased(stationId: string): Promise<number> {
    if (!(await this.lease(stationId))) {
      this.leaseBusy++;
      return 0;
    }
    try {
      // Read under the lease: a holder before may have moved the cursor since the pass read it.
      return await this.deliverStation(stationId, (await this.outbox.cursor(stationId)).deliveredSeq);
    } finally {
      await this.outbox.releaseStation(stationId, this.owner).catch((err: unknown) => this.log.warn({ err, stationId }, 'OS sync: letting go of a station lease failed: it lapses'));
    }
  }

  private lease(stationId: string): Promise<boolean> {
    const now = this.clock.now();
    return this.outbox.leaseStation(stationId, this.owner, now, now + this.config.leaseMs);
  }

  private async deliverStation(stationId: string, from: number): Promise<number> {
    let at = from;
    let delivered = 0;
    for (let batch = 0; ; batch++) {
      // Renewed before each batch after the first: lost (it lapsed, another took it), this process stops.
      if (batch > 0 && !(await this.lease(stationId))) return delivered;
      const events = await this.outbox.events(stationId, at, this.config.batch);
      if (events.length === 0) break;
      // The cursor moves once per batch (or up to the last event taken before a failure): a crash
      // in between sends those events again, which OS answers as before and keeps once.
      let taken = at;
      let failure: string | null = null;
      for (const e of events) {
        failure = await this.deliver(e);
        if (failure !== null) break;
        taken = e.stationSeq;
      }
      if (taken > at) {
        // Moved by someone else meanwhile (a resync, another worker): the next pass starts from where it is.
        if (!(await this.outbox.advance(stationId, at, taken, this.clock.now()))) return delivered;
        delivered += taken - at;
        at = taken;
      }
      if (failure !== null) {
        this.fail(stationId, failure);
        return delivered;
      }
    }
    this.backoff.delete(stationId);
    return delivered;
  }

  /** Null when the OS has the event; else why not. */
  private async deliver(e: OsEvent): Promise<string | null> {
    const refused = this.refusals.get(e.eventId) ?? 0;
    const step = refused > 0 ? `os-event:${e.eventSeq}:r${refused}` : `os-event:${e.eventSeq}`;
    try {
      const result = await this.downstream.call('os', () =>
        this.os.deliverEvent({ txnNo: e.txnNo, step }, { txnNo: e.txnNo, orderNo: e.orderNo, stationId: e.stationId, kind: e.kind, eventSeq: e.eventSeq, stationSeq: e.stationSeq, at: e.at, payload: e.payload }));
      if (result.ok) {
        this.refusals.delete(e.eventId);
        return null;
      }
      this.refusals.set(e.eventId, refused + 1);
      this.log.error({ stationId: e.stationId, eventId: e.eventId, code: result.code }, 'OS refused an order event');
      return `${result.code}: ${result.message}`;
    } catch (err) {
      if (!isDownstreamUnavailable(err)) throw err;
      return err.message;
    }
  }

  private fail(stationId: string, error: string): void {
    const failures = (this.backoff.get(stationId)?.failures ?? 0) + 1;
    const wait = Math.min(this.config.baseBackoffMs * 2 ** (failures - 1), this.config.maxBackoffMs);
    this.backoff.set(stationId, { failures, until: this.clock.now() + wait, lastError: error });
  }
}
