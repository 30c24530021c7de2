import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { buildApp, buildOpsApp } from '../http/app.ts';
import { driveRoutes } from '../http/routes/drive.ts';
import { httpLimitsFromEnv } from '../http/limits.ts';
import { DEMO_API_KEY } from '../domain/api-key.ts';
import { loadApiKeysFile } from '../runtime/api-keys.ts';
import { readRoutingFile } from '../runtime/routing.ts';
import { archiveAfterFromEnv, archiveFailpointFromEnv, archiverConfig } from '../runtime/archiver.ts';
import { archiveFromEnv, feedKeepFromEnv, feedMaxLenFromEnv } from '../runtime/bullmq-backend.ts';
import { osKeepDeliveredFromEnv } from '../runtime/os-sync.ts';
import { shadowKeepFromEnv } from '../runtime/shadow-quotes.ts';
import { idempotencyRetentionFromEnv } from '../runtime/idempotency-purge.ts';
import { reconConfigFromEnv } from '../runtime/recon-jobs.ts';
import { ConfigError, systemsSettingsFromEnv } from '../runtime/systems-config.ts';
import { createTradeCenter, DEFAULT_CONFIG, type ProcessRole, type TradeCenterConfig } from '../runtime/trade-center.ts';
import { FollowClock } from '../systems/sim/follow-clock.ts';
import { WIRE_HEADERS } from '../systems/http/connector.ts';
import { loadDataset } from '../systems/sim/index.ts';

export interface ServeOptions {
  port: number;
  host: string;
  db: string;
  simDb: string;
  data: string;
  callbackDelayMs?: number;
  paymentTtlMs?: number;
  /** HTTP limits; each over its `TRADE_HTTP_*` environment key (http/limits.ts). */
  requestTimeoutMs?: number;
  connectionTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  bodyLimitBytes?: number;
  maxConnections?: number;
  /** The keys file; else `TRADE_API_KEYS_FILE`; else demo mode (in-process simulators only). */
  keys?: string;
  /** The routing file; else `TRADE_ROUTING_FILE`; else the stored table (all live when none). */
  routing?: string;
  /** What this process runs (see {@link ProcessRole}); `all` by default. */
  role?: ProcessRole;
  /**
   * `follow`: the process's clock is the `x-tc-now` its callers last sent, and `/_drive` serves a
   * test what it does to an in-process Trade Center (http/routes/drive.ts); `TRADE_TEST_CONFIG`
   * (JSON) then overrides the configuration. For tests only, never for production.
   */
  clock?: 'real' | 'follow';
}

/** The parts of the configuration a `--clock follow` test may override through `TRADE_TEST_CONFIG`. */
type TestOverrides = Partial<Pick<TradeCenterConfig, 'breaker' | 'queryAfterMs' | 'paymentTtlMs' | 'timerPollMs' | 'tasks' | 'quoteTtlMs' | 'sentinel'>>;

function testOverrides(raw: string | undefined): TestOverrides {
  if (!raw) return {};
  const parsed = JSON.parse(raw) as Record<string, unknown>;
  const allowed = ['breaker', 'queryAfterMs', 'paymentTtlMs', 'timerPollMs', 'tasks', 'quoteTtlMs', 'sentinel'];
  const unknown = Object.keys(parsed).filter((k) => !allowed.includes(k));
  if (unknown.length) throw new ConfigError([`TRADE_TEST_CONFIG: not overridable: ${unknown.join(', ')}`]);
  return parsed as TestOverrides;
}

/**
 * `trade serve`: the API, the callbacks and the simulators in one process on the embedded
 * SQLite default, or with `TRADE_STORAGE=redis REDIS_URL=redis://…` on Redis and BullMQ, where
 * many such processes share the work. Stops cleanly on SIGINT/SIGTERM (every acknowledged change
 * is already stored; running jobs finish first).
 */
export async function serve(options: ServeOptions): Promise<void> {
  // Validated before anything opens: a bad key stops the start with its name.
  const downstream = systemsSettingsFromEnv(process.env);
  const idempotencyRetentionMs = idempotencyRetentionFromEnv(process.env);
  const feedMaxLen = feedMaxLenFromEnv(process.env);
  const feedKeepMs = feedKeepFromEnv(process.env);
  const archiveAfterMs = archiveAfterFromEnv(process.env);
  const archiveFailpoint = archiveFailpointFromEnv(process.env);
  const osKeepDeliveredMs = osKeepDeliveredFromEnv(process.env);
  const shadowKeepMs = shadowKeepFromEnv(process.env);
  const { requestTimeoutMs, connectionTimeoutMs, keepAliveTimeoutMs, bodyLimitBytes, maxConnections } = options;
  const limits = httpLimitsFromEnv(process.env, {
    ...(requestTimeoutMs !== undefined ? { requestTimeoutMs } : {}),
    ...(connectionTimeoutMs !== undefined ? { connectionTimeoutMs } : {}),
    ...(keepAliveTimeoutMs !== undefined ? { keepAliveTimeoutMs } : {}),
    ...(bodyLimitBytes !== undefined ? { bodyLimitBytes } : {}),
    ...(maxConnections !== undefined ? { maxConnections } : {}),
  });
  const keysFile = options.keys ?? process.env.TRADE_API_KEYS_FILE;
  // The demo key is public: it may only ever open the demo world, never real downstream systems.
  if (!keysFile && downstream.systems.mode === 'http') {
    throw new ConfigError(['TRADE_SYSTEMS=http needs API keys: set TRADE_API_KEYS_FILE (or trade serve --keys FILE); the demo key exists only with the in-process simulators']);
  }
  const role = options.role ?? 'all';
  // Commander checks the flag's choices, not a default taken from TRADE_ROLE.
  if (!['all', 'api', 'worker'].includes(role)) throw new ConfigError([`TRADE_ROLE: not all, api or worker: ${JSON.stringify(role)}`]);
  // Every process of a split must reach the same downstream world: in-process simulators are one process's own.
  if (role !== 'all' && downstream.systems.mode !== 'http') {
    throw new ConfigError([`--role ${role} needs downstream systems every process reaches: TRADE_SYSTEMS=http (the real systems, or one \`trade sim\` with TRADE_SIM_URL); the in-process simulators belong to one process`]);
  }
  // The caller sets the time and drives the runtime: only ever on loopback, for a test.
  if (options.clock === 'follow' && !['127.0.0.1', '::1', 'localhost'].includes(options.host)) {
    throw new ConfigError([`--clock follow is for tests on loopback only, not on ${options.host}`]);
  }
  const follow = options.clock === 'follow' ? new FollowClock() : null;
  const overrides = follow ? testOverrides(process.env.TRADE_TEST_CONFIG) : {};
  const apiKeys = keysFile ? loadApiKeysFile(keysFile) : [];
  const demoMode = !keysFile;
  const routingFile = options.routing ?? process.env.TRADE_ROUTING_FILE;
  for (const file of [options.db, options.simDb]) mkdirSync(dirname(resolve(file)), { recursive: true });
  const config: TradeCenterConfig = {
    ...DEFAULT_CONFIG,
    role,
    dataset: loadDataset(options.data),
    systems: downstream.systems,
    systemTimeoutsMs: { ...DEFAULT_CONFIG.systemTimeoutsMs, ...downstream.systemTimeoutsMs },
    tiers: { ...DEFAULT_CONFIG.tiers, ...downstream.tiers },
    dbPath: options.db,
    simDbPath: options.simDb,
    callbackBaseUrl: `http://127.0.0.1:${options.port}`,
    callbackSecret: process.env.TRADE_CALLBACK_SECRET ?? DEFAULT_CONFIG.callbackSecret,
    logLevel: process.env.LOG_LEVEL ?? DEFAULT_CONFIG.logLevel,
    apiKeys,
    demoMode,
    routing: { ...DEFAULT_CONFIG.routing, file: routingFile ? readRoutingFile(routingFile) : null },
    recon: reconConfigFromEnv(process.env, DEFAULT_CONFIG.recon),
    idempotency: { ...DEFAULT_CONFIG.idempotency, ...(idempotencyRetentionMs !== undefined ? { retentionMs: idempotencyRetentionMs } : {}) },
    ...(shadowKeepMs !== undefined ? { shadowRetention: { ...DEFAULT_CONFIG.shadowRetention, retentionMs: shadowKeepMs } } : {}),
    archive: archiveAfterMs !== undefined ? archiverConfig(archiveAfterMs) : DEFAULT_CONFIG.archive,
    ...(archiveFailpoint ? { archiveFailpoint } : {}),
    ...(osKeepDeliveredMs !== undefined ? { osSync: { ...DEFAULT_CONFIG.osSync, keepDeliveredMs: osKeepDeliveredMs } } : {}),
    ...(options.callbackDelayMs !== undefined ? { callbackDelayMs: options.callbackDelayMs } : {}),
    ...(options.paymentTtlMs !== undefined ? { paymentTtlMs: options.paymentTtlMs } : {}),
    ...(process.env.TRADE_STORAGE === 'redis'
      ? {
          storage: {
            kind: 'redis' as const,
            url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
            ...(process.env.TRADE_REDIS_PREFIX ? { prefix: process.env.TRADE_REDIS_PREFIX } : {}),
            cluster: process.env.TRADE_REDIS_CLUSTER === '1',
            ...(feedMaxLen !== undefined ? { feedMaxLen } : {}),
            ...(feedKeepMs !== undefined ? { feedKeepMs } : {}),
            ...archiveFromEnv(process.env),
          },
        }
      : {}),
    ...overrides,
  };
  const tc = createTradeCenter(config, follow ? { clock: follow } : {});
  const app = role === 'worker' ? await buildOpsApp(tc, { limits }) : await buildApp(tc, { limits });
  if (follow) {
    app.addHook('onRequest', async (req) => follow.follow(req.headers[WIRE_HEADERS.now]));
    const scaleOut = tc.scaleOut;
    await app.register(driveRoutes, { tc, runDueTasks: () => (scaleOut ? scaleOut.scheduler.runDue(tc.storage.tasks) : tc.tasks.runDue()) });
  }
  const address = await app.listen({ port: options.port, host: options.host });
  const url = address.replace('[::1]', 'localhost');
  const port = new URL(url).port;
  tc.sims?.gateway.setCallbackTarget(`http://127.0.0.1:${port}`, config.callbackSecret);
  await tc.start();
  if (role === 'worker') {
    process.stdout.write(
      `\nTrade Center worker is running (storage: ${config.storage?.kind === 'redis' ? config.storage.url : config.dbPath}): post-payment tasks, durable timers, the sentinel. ${url}/healthz, /readyz and /metrics; no public API.\n`,
    );
  } else {
    printBanner();
  }
  function printBanner(): void {
    const keyLines = demoMode
      ? [
          `Demo mode (demo dataset, in-process simulators): API key ${DEMO_API_KEY} has every scope for every merchant, and ${url}/sim drives the simulated world (admin scope).`,
          'It is public: configure real keys with TRADE_API_KEYS_FILE or --keys FILE (trade keys new) for anything else.',
        ]
      : [`API keys: ${apiKeys.length} from ${keysFile} (systems: ${[...new Set(apiKeys.map((k) => k.system))].join(', ')}); no demo key, no /sim.`];
    const key = demoMode ? DEMO_API_KEY : '$TRADE_KEY';
    process.stdout.write(
      [
        '',
        `Trade Center is listening on ${url}  (storage: ${config.storage?.kind === 'redis' ? config.storage.url : config.dbPath}, ${config.systems.mode === 'http' ? `downstream systems over HTTP, e.g. order at ${config.systems.urls.order}` : `simulators: ${config.simDbPath}`})`,
        ...keyLines,
        'Try a quote:',
        `  curl -s -X POST ${url}/v1/transactions -H "Authorization: Bearer ${key}" -H 'Content-Type: application/json' \\`,
        `    -d '{"scene":"merchant_pos","merchantId":"M1","stationId":"S1","userId":"U1","items":[{"type":"fuel","nozzleNo":1,"amount":30000}],"paymentMethods":["stored_value","wechat"]}'`,
        `Inspector: ${url}/inspect (asks for an admin key)  ·  API docs: ${url}/docs  ·  metrics: ${url}/metrics`,
        'The README walks through a whole sale.',
        ...(role === 'api' ? ['Role api: post-payment tasks, timers and the sentinel run in a `trade serve --role worker` on the same storage.'] : []),
        '',
      ].join('\n'),
    );
  }
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    tc.log.info({ signal }, 'shutting down');
    await app.close();
    await tc.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}
