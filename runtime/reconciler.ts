import { Subject } from 'rxjs';
import { chinaDayBounds, chinaDayOf, shiftDay } from '../domain/reconciliation/bill-format.ts';
import type { BillChannel, BillRow } from '../domain/reconciliation/bill-row.ts';
import { DISCREPANCY_KINDS, EMPTY_CARRY, matchDay, platformCounts, type CarryOver, type Discrepancy, type DiscrepancyKind, type MatchResult } from '../domain/reconciliation/match.ts';
import type { ReconciliationRecords, StoredDiscrepancy } from '../storage/types.ts';
import type { PlatformSide } from './recon-platform.ts';

/**
 * Where a channel day's bill rows come from: the channel's bill file through its parser, or (until
 * those are plugged in, and in tests) the gateway simulator's own records. Rows are streamed.
 */
export interface BillSource {
  rows(channel: BillChannel, day: string): AsyncIterable<BillRow>;
}

/** What {@link reconcileDay} needs besides the channel and the day. */
export interface ReconcileOptions {
  bills: BillSource;
  platform: PlatformSide;
  /** What the previous day's run carried over. */
  carryIn: CarryOver;
  /** The fee the configured rate gives for a row; absent: fees are not checked. */
  expectedFee?: (row: BillRow) => number | null;
}

/** Matches one channel day: the bill streamed against our side of the day (hot store and archive), streamed in time order. */
export async function reconcileDay(channel: BillChannel, day: string, opts: ReconcileOptions): Promise<MatchResult> {
  return matchDay(opts.bills.rows(channel, day), {
    channel,
    day,
    platform: opts.platform.dayRows(channel, day),
    carryIn: opts.carryIn,
    lookup: (row) => opts.platform.lookup(row),
    dayRow: (row) => opts.platform.dayRow(row, day),
    ...(opts.expectedFee ? { expectedFee: opts.expectedFee } : {}),
  });
}

/** What the reconciler acts through: the transactions' own actors (the host's nudge re-queries a leg). */
export interface ReconcilerHost {
  nudge(txnNo: string): Promise<unknown>;
  settle(): Promise<void>;
}

/** Kinds the reconciler asks the transaction about by itself; every other kind waits for a person. */
const QUERIED: readonly DiscrepancyKind[] = ['platform_short_status', 'platform_over_status', 'platform_missing'];

/** One run's outcome: the match and what the records and actions made of it. */
export interface ReconcilerRun {
  result: MatchResult;
  /** Discrepancies first found by this run (a re-run of the same day adds none it found before). */
  added: string[];
  /**
   * Those closed as fixed by this run: first found and fixed by its query, or found by an earlier
   * run, open, and now matched (the earlier query's answer landed after that run's verdict).
   */
  autoFixed: string[];
}

/** The previous China-time day of `day`. */
function dayBefore(day: string): string {
  return shiftDay(day, -1);
}

/** The channels that publish a daily bill (DOMAIN.md "Reconciliation"). */
export const RECON_CHANNELS: readonly BillChannel[] = ['wechat', 'alipay', 'unionpay', 'senseless'];

/** When the daily run of `day` is due: `hour` o'clock China time on the day after it. */
export function reconDueAt(day: string, hour: number): number {
  return chinaDayBounds(shiftDay(day, 1)).startMs + hour * 3_600_000;
}

/** The latest day whose daily run is due at `now`: yesterday once today's hour has come, else the day before. */
export function latestDueDay(now: number, hour: number): string {
  const yesterday = shiftDay(chinaDayOf(now), -1);
  return now >= reconDueAt(yesterday, hour) ? yesterday : shiftDay(yesterday, -1);
}

/** What one run reported, for metrics: the kinds it found first. */
export interface ReconcilerRunEvent {
  channel: BillChannel;
  day: string;
  added: DiscrepancyKind[];
  autoFixed: number;
}

/** A discrepancy's record id: the same kind of the same reference on the same day is the same one. */
export function discrepancyId(d: Pick<Discrepancy, 'channel' | 'kind' | 'ref'>, day: string): string {
  return `${d.channel}:${day}:${d.kind}:${d.ref}`;
}

/**
 * Runs a channel day end to end (issue 19): matches it, records the run and what it found, and
 * acts on each discrepancy first found now, exactly once: a leg the channel says paid is asked
 * about through its transaction's own actor (the nudge re-queries it, and the answer finishes
 * through the normal callback path); whatever is left stays open for a person.
 */
export class Reconciler {
  /** Every completed run (the metrics count what runs found). */
  readonly runs = new Subject<ReconcilerRunEvent>();

  constructor(
    private readonly opts: Omit<ReconcileOptions, 'carryIn'> & { records: ReconciliationRecords; host: ReconcilerHost; now: () => number },
  ) {}

  async run(channel: BillChannel, day: string): Promise<ReconcilerRun> {
    const previous = await this.opts.records.run(channel, dayBefore(day));
    const carryIn = (previous?.carry as CarryOver | undefined) ?? EMPTY_CARRY;
    const result = await reconcileDay(channel, day, { ...this.opts, carryIn });
    const foundAt = this.opts.now();
    const found = result.discrepancies.map((d) => ({
      id: discrepancyId(d, day), channel, day, kind: d.kind, ref: d.ref, txnNo: d.txnNo,
      evidence: { bill: d.bill, platform: d.platform, ...(d.expectedFeeFen !== undefined ? { expectedFeeFen: d.expectedFeeFen } : {}) }, foundAt,
    }));
    const totals = { ...result.totals, discrepancies: result.discrepancies.length };
    const added = await this.opts.records.saveRun({ channel, day, ranAt: foundAt, totals, carry: { ...result.carry } }, found);
    const autoFixed: string[] = [];
    for (const d of result.discrepancies) {
      const id = discrepancyId(d, day);
      // Acted on only when first found: a re-run of the day nudges nothing twice.
      if (!added.includes(id) || !QUERIED.includes(d.kind) || d.txnNo === null || d.bill === null) continue;
      if (!(await this.opts.platform.listing(d.txnNo))) continue;
      await this.opts.host.nudge(d.txnNo);
      await this.opts.host.settle();
      const now = await this.opts.platform.lookup(d.bill);
      const agrees = now !== null && platformCounts(now) === (d.bill.status === 'succeeded') && now.amountFen === d.bill.amountFen;
      if (agrees) {
        await this.opts.records.settle(id, 'auto-fixed', { by: 'reconciler', note: `recon:${channel}:${day}:${d.ref} queried: the transaction now agrees with the channel`, at: this.opts.now() });
        autoFixed.push(id);
      }
    }
    // The query of a first run may land after its verdict (the answer comes back through the
    // transaction's own callback path, not within the nudge): a later run that finds the reference
    // matched closes it then, acting on nothing.
    const stillFound = new Set(result.discrepancies.map((d) => d.ref));
    for (const d of await this.opts.records.discrepancies(channel, day)) {
      if (d.status !== 'open' || added.includes(d.id) || !QUERIED.includes(d.kind as DiscrepancyKind) || stillFound.has(d.ref)) continue;
      const settled = await this.opts.records.settle(d.id, 'auto-fixed', { by: 'reconciler', note: `recon:${channel}:${day}:${d.ref} re-run: the transaction now agrees with the channel`, at: this.opts.now() });
      if (settled?.status === 'auto-fixed') autoFixed.push(d.id);
    }
    const addedKinds = result.discrepancies.filter((d) => added.includes(discrepancyId(d, day))).map((d) => d.kind);
    this.runs.next({ channel, day, added: addedKinds, autoFixed: autoFixed.length });
    if (autoFixed.length) {
      // A fixed leg is counted now, on a later day than the channel's: the next day's run takes it as matched here.
      const fixedRefs = result.discrepancies.filter((d) => autoFixed.includes(discrepancyId(d, day))).map((d) => d.ref);
      const carry: CarryOver = { ...result.carry, matchedAhead: [...new Set([...result.carry.matchedAhead, ...fixedRefs])] };
      await this.opts.records.saveRun({ channel, day, ranAt: foundAt, totals, carry: { ...carry } }, []);
      return { result: { ...result, carry }, added, autoFixed };
    }
    return { result, added, autoFixed };
  }

  /**
   * A person's decision on a discrepancy, kept with who and why. Refused as a value when there is
   * no such one, or when it was already fixed or decided (a decision is made once).
   */
  async resolve(id: string, accept: 'channel' | 'platform', note: string, by: string): Promise<ResolveOutcome> {
    const before = await this.opts.records.get(id);
    if (!before) return { ok: false, code: 'not-found' };
    if (before.status !== 'open') return { ok: false, code: 'closed', discrepancy: before };
    const resolution = { by, accept, note, at: this.opts.now() };
    const after = await this.opts.records.settle(id, 'resolved', resolution);
    // Another decision may have landed between the read and the settle: only ours is a success.
    const ours = after?.status === 'resolved' && after.resolution?.by === by && after.resolution.at === resolution.at && after.resolution.note === note && after.resolution.accept === accept;
    return ours ? { ok: true, discrepancy: after } : { ok: false, code: 'closed', discrepancy: after ?? before };
  }

  /** A channel day as recorded: the last run's totals of both sides and every discrepancy found, by kind. */
  async day(channel: BillChannel, day: string): Promise<ReconciliationDay> {
    const [run, discrepancies] = await Promise.all([this.opts.records.run(channel, day), this.opts.records.discrepancies(channel, day)]);
    const byKind = Object.fromEntries(DISCREPANCY_KINDS.map((k) => [k, 0])) as Record<DiscrepancyKind, number>;
    for (const d of discrepancies) byKind[d.kind as DiscrepancyKind] += 1;
    return {
      channel,
      day,
      ranAt: run?.ranAt ?? null,
      totals: run ? { ...run.totals } : null,
      clean: run ? run.totals.discrepancies === 0 : null,
      open: discrepancies.filter((d) => d.status === 'open').length,
      byKind,
      discrepancies,
    };
  }
}

/** What {@link Reconciler.resolve} did: recorded the decision, or refused it. */
export type ResolveOutcome =
  | { ok: true; discrepancy: StoredDiscrepancy }
  | { ok: false; code: 'not-found' }
  | { ok: false; code: 'closed'; discrepancy: StoredDiscrepancy };

/** A channel day as its records stand (the admin route, `trade recon show`, the inspector). */
export interface ReconciliationDay {
  channel: BillChannel;
  day: string;
  /** When the day last ran (epoch ms); null: never. */
  ranAt: number | null;
  /** The last run's totals (MatchTotals in fen, plus its number of discrepancies); null: never ran. */
  totals: Record<string, number> | null;
  /** The last run found every row of both sides matched; null: never ran. */
  clean: boolean | null;
  /** Discrepancies still waiting for a fix or a person. */
  open: number;
  /** Every discrepancy ever found on the day, by kind, whatever its status. */
  byKind: Record<DiscrepancyKind, number>;
  discrepancies: StoredDiscrepancy[];
}
