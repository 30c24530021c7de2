import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { TradeError } from '../domain/errors.ts';
import { ALL_LIVE, needsGroup, parseRoutingTable, routeOf, withChanges, type RouteMode, type RoutingChange, type RoutingRule, type RoutingTable } from '../domain/routing.ts';
import { isDownstreamUnavailable } from '../systems/contract.ts';
import type { Systems } from '../systems/index.ts';
import type { RoutingStore } from '../storage/types.ts';
import type { Clock } from './clock.ts';
import type { Downstream } from './downstream.ts';
import { ConfigError } from './systems-config.ts';
import { TtlCache } from './ttl-cache.ts';

/** The routing table a process starts from, and how often it looks for changes other processes made. */
export interface RoutingConfig {
  /**
   * The routing file read at start (`TRADE_ROUTING_FILE`, `trade serve --routing`): it becomes the
   * table (a journalled change by `file:<path>`) unless the stored table already equals it.
   * Null: the stored table stays, and with none stored every sale is live.
   */
  file: { path: string; table: RoutingTable } | null;
  /** How often the stored table is read again, ms (another process may have changed it). */
  refreshMs: number;
}

export const DEFAULT_ROUTING: RoutingConfig = { file: null, refreshMs: 1_000 };

/** Reads and checks a routing file; a bad file stops the start with every problem named. */
export function readRoutingFile(path: string): { path: string; table: RoutingTable } {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError([`routing file ${path}: ${(err as Error).message}`]);
  }
  const parsed = parseRoutingTable(json);
  if (!parsed.ok) throw new ConfigError(parsed.problems.map((p) => `routing file ${path}: ${p}`));
  return { path, table: parsed.table };
}

/** Where a sale is taken, and the station group that decided it. */
export interface Route {
  mode: RouteMode;
  group: string | null;
}

/** Attempts of a change that loses its compare-and-set to another process's change. */
const CHANGE_ATTEMPTS = 5;

/**
 * The routing table as the process uses it (DOMAIN.md "Rollout"): held in memory so a sale's
 * check costs no storage read, written through the {@link RoutingStore} (journalled), and read
 * again every `refreshMs` so a change made through another process reaches this one. A station's
 * group comes from the fuel catalog (cached like the quote's station reads), and only when some
 * rule names a group: with the default table a sale asks nothing more than before routing existed.
 */
export class RoutingService {
  private table: RoutingTable = ALL_LIVE;
  private seq = 0;
  private readonly groups: TtlCache<string | null>;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: RoutingStore,
    private readonly systems: Systems,
    private readonly downstream: Downstream,
    private readonly clock: Clock,
    private readonly config: RoutingConfig,
    cacheTtlMs: number,
    private readonly log: Logger,
  ) {
    this.groups = new TtlCache(clock, cacheTtlMs);
  }

  /** Reads the stored table, applies the routing file when it differs, and starts looking for changes. */
  async start(): Promise<void> {
    await this.refresh();
    const file = this.config.file;
    if (file && JSON.stringify(file.table) !== JSON.stringify(this.table)) {
      await this.change(`file:${file.path}`, () => file.table);
      this.log.info({ file: file.path, seq: this.seq }, 'routing table set from the routing file');
    }
    this.timer = setInterval(() => void this.refresh().catch((err: unknown) => this.log.warn({ err }, 'routing refresh failed')), this.config.refreshMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The table this process routes by, and the number of the change that made it (0: never changed). */
  current(): { table: RoutingTable; seq: number } {
    return { table: this.table, seq: this.seq };
  }

  /** Where a sale of `scene` at `stationId` is taken. */
  async route(scene: string, stationId: string): Promise<Route> {
    const table = this.table;
    const group = needsGroup(table) ? await this.groupOf(stationId) : null;
    return { mode: routeOf(table, scene, group), group };
  }

  /**
   * Refuses a sale this platform does not take (`legacy`, and `shadow`, where the old system
   * takes the sale and the platform only quotes beside it): 409 NOT_ROUTED.
   */
  async assertLive(scene: string, stationId: string): Promise<void> {
    const route = await this.route(scene, stationId);
    if (route.mode !== 'live') {
      throw new TradeError('NOT_ROUTED', `${scene} at station ${stationId} is taken by the old system (${route.mode})`, { scene, stationId, group: route.group, mode: route.mode });
    }
  }

  /** Sets the given (scene, group) pairs (and the default), journalled as one change by `by`. */
  async set(by: string, rules: RoutingRule[], defaultMode?: RouteMode): Promise<RoutingChange | null> {
    return this.change(by, (current) => withChanges(current, rules, defaultMode));
  }

  /** Replaces the whole table, journalled as one change by `by`. */
  async replace(by: string, table: RoutingTable): Promise<RoutingChange | null> {
    return this.change(by, () => withChanges({ default: table.default, rules: [] }, table.rules));
  }

  /** The latest `limit` changes, newest first. */
  history(limit: number): Promise<RoutingChange[]> {
    return this.store.history(limit);
  }

  /** Null when the change would change nothing: no journal entry for a no-op. */
  private async change(by: string, next: (current: RoutingTable) => RoutingTable): Promise<RoutingChange | null> {
    for (let attempt = 0; attempt < CHANGE_ATTEMPTS; attempt++) {
      const before = this.table;
      const after = next(before);
      if (JSON.stringify(after) === JSON.stringify(before)) return null;
      const result = await this.store.change(this.seq, { at: this.clock.now(), by, before, after });
      if (result.ok) {
        this.adopt(after, result.change.seq);
        return result.change;
      }
      // Another process changed the table first: apply this change to its table, not over it.
      await this.refresh();
    }
    throw new Error(`routing change by ${by} lost ${CHANGE_ATTEMPTS} races with other changes`);
  }

  private async refresh(): Promise<void> {
    const stored = await this.store.current();
    if (stored && stored.seq !== this.seq) this.adopt(stored.table, stored.seq);
  }

  private adopt(table: RoutingTable, seq: number): void {
    this.table = table;
    this.seq = seq;
  }

  /** The station group of a station (null: none), from the fuel catalog, cached. */
  groupOf(stationId: string): Promise<string | null> {
    return this.groups.get(stationId, async () => {
      try {
        const station = await this.downstream.call('fuelCatalog', () => this.systems.fuelCatalog.getStation(stationId));
        // An unknown station is in no group: the quote refuses it with its own answer.
        return station?.group ?? null;
      } catch (err) {
        if (isDownstreamUnavailable(err)) throw new TradeError('CORE_SYSTEM_UNAVAILABLE', 'fuelCatalog is unavailable', { system: 'fuelCatalog' });
        throw err;
      }
    });
  }
}
