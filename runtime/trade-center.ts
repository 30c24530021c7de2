import { pino, type Logger } from 'pino';
import { IdGenerator } from '../domain/ids.ts';
import type { SystemName } from '../systems/contract.ts';
import type { Systems } from '../systems/index.ts';
import { createSimulators, type Dataset, type Simulators } from '../systems/sim/index.ts';
import { createHttpSystems } from '../systems/http/index.ts';
import { RedisCallbackNonces } from '../storage/redis/callback-nonces.ts';
import { SqliteCallbackNonces } from '../storage/sqlite/callback-nonces.ts';
import { openSqliteStorage, type SqliteStorage } from '../storage/sqlite/storage.ts';
import { DEFAULT_IDEMPOTENCY_RETENTION_MS, type CallbackNonces, type OrderArchive, type RoutingStore, type Storage } from '../storage/types.ts';
import { Archiver, archiverConfig, DEFAULT_ARCHIVE_AFTER_MS, failpointKill, type ArchiveFailpoint, type ArchiverConfig } from './archiver.ts';
import type { ApiKey } from '../domain/api-key.ts';
import { DEMO_KEY_ENTRY, KeyRing } from './api-keys.ts';
import { createScaleOutBackend, type RedisStorageConfig, type ScaleOutBackend } from './bullmq-backend.ts';
import { systemClock, type After, type Clock, type Sleep } from './clock.ts';
import { Downstream } from './downstream.ts';
import { IdempotencyLeases } from './idempotency-leases.ts';
import { IdempotencyPurge, type IdempotencyConfig } from './idempotency-purge.ts';
import { SqliteLeases, type Leases } from './lease.ts';
import { QuoteService } from './quote-service.ts';
import { PollingScheduler, type Scheduler } from './scheduler.ts';
import { Sentinel, type SentinelConfig } from './sentinel.ts';
import type { SystemsConfig } from './systems-config.ts';
import { taskHandlers } from './task-handlers.ts';
import { TaskRunner } from './task-runner.ts';
import { TransactionHost, type ProvidedMachine } from './transaction-host.ts';
import { TransactionReads } from './transaction-reads.ts';
import { OrderQueries } from './order-queries.ts';
import { DEFAULT_ROUTING, RoutingService, type RoutingConfig } from './routing.ts';
import { DEFAULT_OS_SYNC, OsSync, type OsSyncConfig } from './os-sync.ts';
import { RedisRoutingStore } from '../storage/redis/routing-store.ts';
import { SqliteRoutingStore } from '../storage/sqlite/routing-store.ts';
import { RetentionPurge, type RetentionConfig } from './retention-purge.ts';
import { DEFAULT_SHADOW_RETENTION, ShadowQuoteService } from './shadow-quotes.ts';
import { configuredFee, gatewayOrigin, httpBillDownload, inProcessBillDownload, type BillDownload } from './gateway-bills.ts';
import { ParsedBills } from './parsed-bills.ts';
import { PlatformSide } from './recon-platform.ts';
import { Reconciler } from './reconciler.ts';
import { BullmqReconSchedule, ReconJobs, SqliteReconSchedule } from './recon-jobs.ts';

/**
 * What one process runs (`trade serve --role`, DESIGN.md "Two deployments"): `all` everything
 * (the embedded default, `npm start`); `api` the public API and the callbacks; `worker` the
 * post-payment tasks, the durable timers, the sentinel and the idempotency purge, with no public
 * API. An API process stores the tasks and timers a transaction asks for; a worker runs them.
 */
export type ProcessRole = 'all' | 'api' | 'worker';

/** How often a process of a role split on one SQLite file looks for the other's commits, ms. */
const SQLITE_WATCH_OTHERS_MS = 10;

export interface TradeCenterConfig {
  /** What this process runs; see {@link ProcessRole}. */
  role: ProcessRole;
  /** In-process simulators (`sim`) or HTTP connectors (`http`); see runtime/systems-config.ts. */
  systems: SystemsConfig;
  /** The platform's SQLite file. */
  dbPath: string;
  /** The simulators' own SQLite file (they outlive the platform's crash). */
  simDbPath: string;
  dataset: Dataset;
  /** Base URL the payment gateway calls back to; set again once the server listens. */
  callbackBaseUrl: string;
  /** Shared secret of callback signatures. */
  callbackSecret: string;
  callbackWindowSeconds: number;
  /** Delay of the simulated gateway's callbacks. */
  callbackDelayMs: number;
  paymentTtlMs: number;
  /** Callback silence after which a pending async leg queries the gateway. */
  queryAfterMs: number;
  /** Refund allocation across money legs: proportional (default) or a priority order of methods. */
  refundPolicy: { kind: 'proportional' } | { kind: 'priority'; order: string[] };
  quoteTtlMs: number;
  /** How long user and fuel-catalog reads may be served from cache. */
  cacheTtlMs: number;
  /** DOMAIN.md "Coupons": at most this many coupons in one order. */
  maxCouponsPerOrder: number;
  /**
   * DOMAIN.md "Deduction modes": the scene decides the default, the order call may override.
   * Scenes not listed deduct in `pre` mode.
   */
  deductionModeByScene: Record<string, 'pre' | 'post'>;
  /** Deadline of a downstream call, ms; `systemTimeoutsMs` overrides it per system. */
  callTimeoutMs: number;
  systemTimeoutsMs: Partial<Record<SystemName, number>>;
  /** Service tiers of the systems a quote can do without (DOMAIN.md table): `non-core` degrades, `core` fails. */
  tiers: Partial<Record<SystemName, 'core' | 'non-core'>>;
  /** Circuit breakers: open after this many transport faults in a row, try again after `halfOpenAfterMs`. */
  breaker: { afterFailures: number; halfOpenAfterMs: number };
  /** How often the host looks for due timers, ms. */
  timerPollMs: number;
  /**
   * Post-payment task runner: poll interval and backoff; `runOnArrival` (embedded default) runs
   * new tasks as soon as their save is stored instead of at the next poll (a test on a manual
   * clock turns it off to run them when it says).
   */
  tasks: { pollMs: number; baseBackoffMs: number; maxBackoffMs: number; runOnArrival?: boolean };
  /** The configured keys (a keys file); see {@link TradeCenterConfig.demoMode} for the demo key. */
  apiKeys: ApiKey[];
  /**
   * Demo mode (demo dataset, in-process simulators): the public demo key `tc_demo_key` is
   * accepted beside `apiKeys`, and the simulators' admin routes are served under `/sim`.
   */
  demoMode: boolean;
  logLevel: string;
  /** Embedded SQLite (`dbPath`), or Redis with BullMQ for many processes (`TRADE_STORAGE=redis`). */
  storage?: { kind: 'sqlite' } | RedisStorageConfig;
  /** The sentinel's scan for stuck transactions. */
  sentinel?: SentinelConfig;
  /** Retention of Idempotency-Key records (`TRADE_IDEMPOTENCY_RETENTION_HOURS`) and the purge's period. */
  idempotency: IdempotencyConfig;
  /** How long shadow quotes are kept (`TRADE_SHADOW_KEEP`, default 90 days) and how often older ones are purged. */
  shadowRetention: RetentionConfig;
  /** The quiet period after which final transactions are archived (`TRADE_ARCHIVE_AFTER`), and the archiver's pace. */
  archive: ArchiverConfig;
  /** Crash tests only (`TRADE_ARCHIVE_FAILPOINT`): the archiver kills its process at this point. */
  archiveFailpoint?: ArchiveFailpoint;
  /** Rollout routing (DOMAIN.md "Rollout"): the routing file read at start, and how often other processes' changes are picked up. */
  routing: RoutingConfig;
  /** The OS order sync's delivery loop (issue 20): poll, batch and backoff. */
  osSync: OsSyncConfig;
  /** Reconciliation (issue 19): the daily run and where the bills come from. */
  recon: ReconConfig;
}

/** How the channels' daily bills are reconciled (DOMAIN.md "Reconciliation"). */
export interface ReconConfig {
  /** Whether this deployment runs each channel's previous day by itself (off in tests and the simulation, which run days when they say). */
  daily: boolean;
  /** The China-time hour (0-23) at which each channel's previous day is run (`TRADE_RECON_HOUR`). */
  hour: number;
  /** A run that found the bill not ready (or failed) is tried again this much later, ms. */
  retryMs: number;
  /**
   * On HTTP connectors: the origin serving the bills (`TRADE_RECON_BILLS_URL`); the payment
   * gateway's origin when absent. `TRADE_SIM_ADMIN_TOKEN` goes with `/sim/bills` requests.
   */
  billsOrigin?: string;
  adminToken?: string;
}

/** Bills are usually ready in the small hours; 10:00 China time leaves the channels room to be late. */
export const DEFAULT_RECON: ReconConfig = { daily: true, hour: 10, retryMs: 30 * 60_000 };

/**
 * A pending payment waits up to its TTL for the customer: only a timer past due or a call that
 * never came back makes a transaction stuck.
 */
const DEFAULT_SENTINEL: SentinelConfig = { scanMs: 30_000, idleMs: { default: 60_000 }, graceMs: 30_000, maxNudges: 3 };

/** Embedded defaults: what `npm start` runs with. */
export const DEFAULT_CONFIG: Omit<TradeCenterConfig, 'dataset'> = {
  role: 'all',
  systems: { mode: 'sim' },
  dbPath: 'data/trade.db',
  simDbPath: 'data/sim.db',
  callbackBaseUrl: 'http://127.0.0.1:3000',
  callbackSecret: 'demo-callback-secret',
  callbackWindowSeconds: 300,
  callbackDelayMs: 300,
  paymentTtlMs: 15 * 60_000,
  queryAfterMs: 30_000,
  refundPolicy: { kind: 'proportional' },
  quoteTtlMs: 10 * 60_000,
  cacheTtlMs: 30_000,
  maxCouponsPerOrder: 1,
  // The customer may drive off without paying: nothing is locked until the money arrives.
  deductionModeByScene: { one_click_refuel: 'post', senseless: 'post' },
  callTimeoutMs: 5_000,
  systemTimeoutsMs: { push: 2_000, notify: 2_000 },
  breaker: { afterFailures: 5, halfOpenAfterMs: 10_000 },
  tiers: { promotion: 'non-core', coupon: 'non-core', points: 'non-core', level: 'non-core' },
  timerPollMs: 500,
  tasks: { pollMs: 500, baseBackoffMs: 2_000, maxBackoffMs: 10 * 60_000, runOnArrival: true },
  apiKeys: [],
  demoMode: true,
  logLevel: 'info',
  storage: { kind: 'sqlite' },
  sentinel: DEFAULT_SENTINEL,
  idempotency: { retentionMs: DEFAULT_IDEMPOTENCY_RETENTION_MS, purgeEveryMs: 10 * 60_000, leaseMs: 5_000 },
  shadowRetention: DEFAULT_SHADOW_RETENTION,
  archive: archiverConfig(DEFAULT_ARCHIVE_AFTER_MS),
  routing: DEFAULT_ROUTING,
  osSync: DEFAULT_OS_SYNC,
  recon: DEFAULT_RECON,
};

/** Everything a running Trade Center consists of; built once, closed once. */
export interface TradeCenter {
  config: TradeCenterConfig;
  clock: Clock;
  ids: IdGenerator;
  log: Logger;
  /** Every storage concept of this deployment (SQLite file or Redis), one bundle. */
  storage: Storage;
  /**
   * The order archive final transactions move to: the bundle's `storage.archive`. A disabled one
   * (`enabled` false: Redis without `TRADE_ARCHIVE_URL`) holds nothing and takes nothing.
   */
  archive: OrderArchive;
  /** Moves quiet final transactions from the hot store to the archive (does nothing while the archive is disabled). */
  archiver: Archiver;
  /** A transaction's record, journal and tasks wherever it lives: hot store, else archive. */
  reads: TransactionReads;
  /** `GET /admin/orders` and its summary: hot store and archive together. */
  orders: OrderQueries;
  /** Nonces of the signed callbacks seen inside the signature window, beside the storage. */
  callbackNonces: CallbackNonces;
  systems: Systems;
  /** Present when the downstream systems are the in-process simulators. */
  sims: Simulators | null;
  host: TransactionHost;
  tasks: TaskRunner;
  /** Wakes up timers and tasks: store polling (SQLite) or BullMQ (Redis). */
  scheduler: Scheduler;
  /** Present on the Redis backend: its store, BullMQ scheduler and leases. */
  scaleOut: ScaleOutBackend | null;
  sentinel: Sentinel;
  /** Deletes Idempotency-Key records past their retention (SQLite; Redis expires them itself). */
  idempotencyPurge: IdempotencyPurge;
  /** Deletes shadow quotes older than `shadowRetention` (a worker's job, as the idempotency purge). */
  shadowPurge: RetentionPurge;
  /** The Idempotency-Key claims this process runs, and their leases. */
  idempotencyLeases: IdempotencyLeases;
  downstream: Downstream;
  quotes: QuoteService;
  /** Where a sale is taken (legacy, shadow, live), by scene and station group; changed at run time, journalled. */
  routing: RoutingService;
  /** The OS order sync: each station's order events delivered in order, cursors, resync, group switch. */
  osSync: OsSync;
  /** Shadow quotes (issue 20): the platform's quote beside the old system's, recorded, and the report over them. */
  shadow: ShadowQuoteService;
  /** Reconciles a channel day's bill against our payments and refunds, records and acts on what it finds. */
  reconciler: Reconciler;
  /** The daily run of each channel's previous day (worker role): SQLite timer rows or a BullMQ queue. */
  reconJobs: ReconJobs;
  /** The keys requests are checked against: `apiKeys`, plus the demo key in demo mode. */
  apiKeys: KeyRing;
  /** The deduction mode of an order: the one asked for, else the scene's default. */
  deductionMode(scene: string, asked: 'pre' | 'post' | undefined): 'pre' | 'post';
  /** Rehydrates pending work and starts timers and callback delivery. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface TradeCenterDeps {
  clock?: Clock;
  log?: Logger;
  /**
   * The deterministic simulation's seams (simulation/): simulators that outlive this instance
   * (a crash reopens the platform, not the downstream world; `close` leaves them open), the
   * ports as this instance sees them (fenced off once it has "crashed"), storage opened by the
   * caller, numbers from a fixed node id, virtual sleeps and deadlines, seeded request ids, and a machine with
   * implementations swapped in.
   */
  sims?: Simulators;
  systems?: (systems: Systems) => Systems;
  storage?: Storage;
  ids?: IdGenerator;
  sleep?: Sleep;
  after?: After;
  requestId?: () => string;
  adjustMachine?: (machine: ProvidedMachine, systems: Systems) => ProvidedMachine;
  /** The simulation's crash between the archive write and the removals (see Archiver). */
  archivePoint?: (point: ArchiveFailpoint) => void;
  /** Where the reconciliation downloads bills from; the simulators' bills, or the gateway's HTTP routes, otherwise. */
  billDownload?: BillDownload;
  /**
   * The simulation on Redis: the storage's leases, callback nonces and routing table, opened by
   * the caller on the same connection as `storage` (the scale-out backend opens its own otherwise).
   */
  leases?: Leases;
  callbackNonces?: CallbackNonces;
  routingStore?: RoutingStore;
}

/** The composition root: storage, simulators, host and quote service wired together. */
export function createTradeCenter(config: TradeCenterConfig, deps: TradeCenterDeps = {}): TradeCenter {
  const clock = deps.clock ?? systemClock;
  const log = deps.log ?? pino({ level: config.logLevel });
  const ids = deps.ids ?? new IdGenerator(() => clock.now());
  const scaleOut = config.storage?.kind === 'redis' ? createScaleOutBackend(config.storage, log, { idempotencyRetentionMs: config.idempotency.retentionMs, clock }) : null;
  const split = config.role !== 'all';
  // Split on one SQLite file, each process watches for the other's commits (feed followers, task arrival).
  const sqlite: SqliteStorage | null = deps.storage || scaleOut ? null : openSqliteStorage(config.dbPath, split ? { watchOthersMs: SQLITE_WATCH_OTHERS_MS } : {});
  const storage: Storage = deps.storage ?? scaleOut?.storage ?? sqlite!;
  // One writer per transaction (DESIGN.md rule 1) across the processes sharing the storage: the lease.
  const leases: Leases | null = deps.leases ?? scaleOut?.leases ?? (split && sqlite ? new SqliteLeases(sqlite.handle, { ttlMs: 10_000, waitMs: 30_000 }) : null);
  const runsWork = config.role !== 'api';
  const archive: OrderArchive = storage.archive;
  const scheduler: Scheduler = scaleOut?.scheduler ?? new PollingScheduler();
  const callbackNonces: CallbackNonces = deps.callbackNonces ?? (scaleOut
    ? new RedisCallbackNonces(scaleOut.storage.handle.redis, scaleOut.storage.handle.prefix)
    : new SqliteCallbackNonces(config.dbPath));
  const remote = config.systems.mode === 'http'
    ? createHttpSystems({
        urls: config.systems.urls,
        poolSize: config.systems.poolSize,
        timeoutMs: (system) => config.systemTimeoutsMs[system] ?? config.callTimeoutMs,
        ...(config.systems.sendClock ? { sendClock: clock } : {}),
      })
    : null;
  const ownSims = !remote && !deps.sims;
  const sims = remote
    ? null
    : deps.sims ?? createSimulators({
        dbPath: config.simDbPath,
        dataset: config.dataset,
        clock,
        callback: { baseUrl: config.callbackBaseUrl, secret: config.callbackSecret, delayMs: config.callbackDelayMs },
      });
  const reached: Systems = remote?.systems ?? sims!.systems;
  const systems: Systems = deps.systems ? deps.systems(reached) : reached;
  const downstream = new Downstream({
    timeoutsMs: { ...config.systemTimeoutsMs, default: config.callTimeoutMs },
    breakAfterFailures: config.breaker.afterFailures,
    halfOpenAfterMs: config.breaker.halfOpenAfterMs,
    ...(deps.after ? { after: deps.after } : {}),
  });
  const commandTimeoutMs = config.callTimeoutMs * 4;
  const host = new TransactionHost(
    storage.snapshots,
    storage.quotes,
    systems,
    downstream,
    clock,
    {
      undoAttempts: 5,
      undoBackoffMs: 200,
      commandTimeoutMs,
      evictAfterMs: 60_000,
      timerPollMs: config.timerPollMs,
      alertAfterAttempts: 5,
      firesTimers: runsWork,
      ...(deps.sleep ? { sleep: deps.sleep } : {}),
      ...(deps.after ? { after: deps.after } : {}),
      ...(deps.requestId ? { requestId: deps.requestId } : {}),
      ...(deps.adjustMachine ? { adjustMachine: deps.adjustMachine } : {}),
    },
    log,
    leases ? { scheduler, leases } : { scheduler },
    archive,
  );
  const runner = new TaskRunner(storage.tasks, host, taskHandlers(systems, storage.tasks), downstream, clock, { pollMs: config.tasks.pollMs, baseBackoffMs: config.tasks.baseBackoffMs, maxBackoffMs: config.tasks.maxBackoffMs, alertAfter: 5, runsTasks: runsWork, settleWithinMs: commandTimeoutMs },
    log,
    scheduler,
  );
  const taskPass = () => void runner.runDue().catch((err: unknown) => log.error({ err }, 'task pass failed'));
  if (scheduler instanceof PollingScheduler && config.tasks.runOnArrival !== false && runsWork) scheduler.onNewTasks(taskPass);
  // A worker beside an API process on the file: the API's commits bring its tasks, and a manual
  // retry the API took, which waits for this run (so this wake-up does not depend on runOnArrival).
  if (split && runsWork) sqlite?.handle.onOthersCommit.add(taskPass);
  const sentinel = new Sentinel(storage.sentinel, host, clock, config.sentinel ?? DEFAULT_SENTINEL, log);
  const atPoint = config.archiveFailpoint ? failpointKill(config.archiveFailpoint, log) : (deps.archivePoint ?? null);
  const archiver = new Archiver(storage, archive, host, clock, config.archive, log, atPoint);
  const idempotencyPurge = new IdempotencyPurge(storage.idempotency, clock, config.idempotency, log);
  const shadowPurge = new RetentionPurge('shadow quotes', (olderThanMs, limit) => storage.shadowQuotes.purgeOlderThan(olderThanMs, limit), clock, config.shadowRetention, log);
  const idempotencyLeases = new IdempotencyLeases(storage.idempotency, clock, { leaseMs: config.idempotency.leaseMs, waitMs: commandTimeoutMs }, log, deps.requestId);
  const routingStore = deps.routingStore ?? (scaleOut ? new RedisRoutingStore(scaleOut.storage.handle.redis, scaleOut.storage.handle.prefix) : new SqliteRoutingStore(config.dbPath));
  const routing = new RoutingService(routingStore, systems, downstream, clock, config.routing, config.cacheTtlMs, log);
  const osSync = new OsSync(storage.osOutbox, systems.os, downstream, (stationId) => routing.groupOf(stationId), clock, config.osSync, log);
  const billDownload: BillDownload = deps.billDownload ?? (sims
    ? inProcessBillDownload(sims.bills)
    : httpBillDownload({
        origin: config.recon.billsOrigin ?? (config.systems.mode === 'http' ? gatewayOrigin(config.systems.urls.paymentGateway) : ''),
        ...(config.recon.adminToken ? { adminToken: config.recon.adminToken } : {}),
        timeoutMs: config.callTimeoutMs * 6,
      }));
  // Every automatic fix goes through the transaction's own actor: the host's nudge re-queries it.
  const reconciler = new Reconciler({
    bills: new ParsedBills(billDownload),
    platform: new PlatformSide(storage, archive),
    expectedFee: configuredFee,
    records: storage.reconciliation,
    host: { nudge: (txnNo) => host.nudge(txnNo), settle: () => host.settle() },
    now: () => clock.now(),
  });
  const reconSchedule = config.storage?.kind === 'redis'
    ? new BullmqReconSchedule({ url: config.storage.url, cluster: config.storage.cluster ?? false, prefix: `{${config.storage.prefix ?? 'tc'}-bull}`, clock, log })
    : new SqliteReconSchedule(config.dbPath, clock, config.timerPollMs, log);
  const reconJobs = new ReconJobs(reconciler, storage.reconciliation, reconSchedule, clock, config.recon, log);
  const quotes = new QuoteService(systems, downstream, clock, ids, { quoteTtlMs: config.quoteTtlMs, cacheTtlMs: config.cacheTtlMs, maxCouponsPerOrder: config.maxCouponsPerOrder, tiers: config.tiers }, log);
  return {
    config,
    clock,
    ids,
    log,
    storage,
    archive,
    archiver,
    reads: new TransactionReads(storage, archive),
    orders: new OrderQueries(storage, archive),
    callbackNonces,
    systems,
    sims,
    host,
    tasks: runner,
    scheduler,
    scaleOut,
    sentinel,
    idempotencyPurge,
    shadowPurge,
    idempotencyLeases,
    downstream,
    quotes,
    routing,
    osSync,
    shadow: new ShadowQuoteService(quotes, storage.shadowQuotes, clock),
    reconciler,
    reconJobs,
    apiKeys: new KeyRing(config.demoMode ? [...config.apiKeys, DEMO_KEY_ENTRY] : config.apiKeys),
    deductionMode: (scene, asked) => asked ?? config.deductionModeByScene[scene] ?? 'pre',
    async start() {
      if (scaleOut) {
        await scaleOut.storage.handle.checkDurability();
      }
      // An API process only enqueues: BullMQ's workers, the reconcile of lost wake-ups, the task
      // runner, the sentinel and the purge are the worker's (or the one process's).
      if (scaleOut && runsWork) {
        await scaleOut.scheduler.reconcile(storage.snapshots, storage.tasks);
        await scaleOut.scheduler.start({
          fireTimer: (txnNo, name, dueAt) => host.fireTimer(txnNo, name, dueAt),
          runTask: (txnNo, task) => runner.run(txnNo, task),
          taskBackoff: (txnNo, task, attempts) => runner.backoff({ txnNo, task }, attempts),
        });
      }
      await routing.start();
      await host.start();
      if (runsWork) {
        await runner.start();
        sentinel.start();
        archiver.start();
        idempotencyPurge.start();
        shadowPurge.start();
        osSync.start();
        if (config.recon.daily) await reconJobs.start();
      }
      if (ownSims) sims?.start();
    },
    async close() {
      await reconJobs.stop();
      await sentinel.stop();
      await osSync.stop();
      await archiver.stop();
      await idempotencyPurge.stop();
      await shadowPurge.stop();
      idempotencyLeases.stop();
      await scheduler.stop();
      await runner.stop();
      await host.stop();
      if (ownSims) await sims?.close();
      await remote?.close();
      await routing.stop();
      await routingStore.close();
      await callbackNonces.close();
      await storage.close();
    },
  };
}
