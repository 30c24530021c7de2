import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { isDownstreamUnavailable, type CallKey, type SystemName } from '../contract.ts';
import { REFUSAL_STATUS, WIRE_HEADERS } from '../http/connector.ts';
import { HTTP_OPERATIONS, SYSTEM_NAMES, type ReadArgs } from '../http/operations.ts';
import { simAdminRoutes } from './admin-routes.ts';
import { simBillRoutes, wechatBillRoutes } from '../payment-gateway/bills/routes.ts';
import { FollowClock } from './follow-clock.ts';
import { createSimulators, IdempotencyConflictError, type Dataset, type Simulators } from './index.ts';
import type { Clock } from './store.ts';

/** Options of {@link buildSimServer}. */
export interface SimServerOptions {
  /** The simulators' durable store. */
  dbPath: string;
  dataset: Dataset;
  /** Where the payment gateway calls back (the platform's base URL) and the secret it signs with. */
  callback: { baseUrl: string; secret: string; delayMs?: number };
  /** `real` (default) or `follow`: the caller's `x-tc-now` (see {@link FollowClock}). */
  clock?: 'real' | 'follow';
  /** Wipe the store and load the dataset again. */
  reset?: boolean;
  faultSeed?: number;
  logLevel?: string;
  /**
   * When set, every `/sim` admin route needs `Authorization: Bearer <adminToken>`
   * (`TRADE_SIM_ADMIN_TOKEN`): they play the customer and turn the world's knobs.
   */
  adminToken?: string;
}

/** A `trade sim` server: the simulators, their port routes and their admin routes. */
export interface SimServer {
  app: FastifyInstance;
  sims: Simulators;
  clock: Clock;
  /** TCP connections accepted since start: pooling works when this stays near the pool size. */
  connectionsOpened(): number;
  /** Listens and starts callback delivery; answers the base URL. */
  listen(port: number, host: string): Promise<string>;
  close(): Promise<void>;
}

type Operation = (...args: unknown[]) => Promise<unknown>;

/** Equal-length digests, so that comparing tokens takes the same time however they differ. */
function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** A method of a simulator by name; the operations table is checked against the ports at compile time. */
function operation(sims: Simulators, system: SystemName, name: string): Operation {
  const target = sims.systems[system] as unknown as Record<string, Operation>;
  const fn = target[name];
  if (typeof fn !== 'function') throw new Error(`simulator ${system} has no operation ${name}`);
  return fn.bind(target);
}

function readArgs(names: ReadArgs, body: Record<string, unknown>): unknown[] {
  return names === 'request' ? [body] : names.map((n) => body[n]);
}

function fail(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).send({ ok: false, code, message });
}

/**
 * Serves every simulator over the wire protocol of docs/callee-contract.md, one path prefix per
 * system (`POST /coupon/lock`, `POST /fuel-catalog/getNozzle`, …), on its durable store, with the
 * `/sim` admin routes beside them. Injected faults answer 503 (or hang, `hang`), a reused key
 * with another body 409, a malformed request 400. The gateway calls back to the configured
 * platform URL over HTTP, signed.
 */
export async function buildSimServer(opts: SimServerOptions): Promise<SimServer> {
  const follow = opts.clock === 'follow' ? new FollowClock() : null;
  const clock: Clock = follow ?? { now: () => Date.now() };
  const sims = createSimulators({
    dbPath: opts.dbPath,
    dataset: opts.dataset,
    clock,
    callback: opts.callback,
    ...(opts.reset ? { reset: true } : {}),
    ...(opts.faultSeed !== undefined ? { faultSeed: opts.faultSeed } : {}),
  });
  // A hanging call (the `hang` fault) must not hold the server open at shutdown.
  const app = Fastify({ logger: { level: opts.logLevel ?? 'warn' }, forceCloseConnections: true });
  let connections = 0;
  app.server.on('connection', () => connections++);
  if (follow) app.addHook('onRequest', async (request) => follow.follow(request.headers[WIRE_HEADERS.now]));

  await app.register(async (admin) => {
    if (opts.adminToken !== undefined) {
      const expected = digest(opts.adminToken);
      admin.addHook('onRequest', async (request, reply) => {
        const presented = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1]?.trim();
        if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
          return reply.code(401).send({ error: { code: 'UNAUTHORIZED', message: 'the /sim admin routes need Authorization: Bearer <TRADE_SIM_ADMIN_TOKEN>' } });
        }
      });
    }
    await admin.register(simAdminRoutes, { sims });
    await admin.register(simBillRoutes, { bills: sims.bills });
    admin.get('/stats', async () => ({ connectionsOpened: connections }));
  }, { prefix: '/sim' });

  await app.register(wechatBillRoutes, { bills: sims.bills });

  await app.register(async (ports) => {
    ports.setErrorHandler((err: FastifyError, _request, reply) => {
      if (isDownstreamUnavailable(err)) return fail(reply, 503, 'UNAVAILABLE', err.message);
      if (err instanceof IdempotencyConflictError) return fail(reply, 409, 'IDEMPOTENCY_CONFLICT', err.message);
      if (err instanceof RangeError || err.validation || (err.statusCode ?? 500) < 500) return fail(reply, 400, 'INVALID_REQUEST', err.message);
      ports.log.error(err);
      return fail(reply, 500, 'INTERNAL', 'Internal error.');
    });
    const body = { type: 'object' } as const;
    for (const system of SYSTEM_NAMES) {
      const { prefix, reads, mutations } = HTTP_OPERATIONS[system];
      for (const [name, args] of Object.entries(reads) as [string, ReadArgs][]) {
        const run = operation(sims, system, name);
        ports.post<{ Body: Record<string, unknown> }>(`/${prefix}/${name}`, { schema: { body } }, async (request) => run(...readArgs(args, request.body)));
      }
      for (const name of mutations) {
        const run = operation(sims, system, name);
        ports.post<{ Body: Record<string, unknown> }>(`/${prefix}/${name}`, { schema: { body } }, async (request, reply) => {
          const txnNo = request.headers[WIRE_HEADERS.txnNo];
          const step = request.headers[WIRE_HEADERS.step];
          if (typeof txnNo !== 'string' || !txnNo || typeof step !== 'string' || !step) {
            return fail(reply, 400, 'INVALID_REQUEST', `a mutating call needs the ${WIRE_HEADERS.txnNo} and ${WIRE_HEADERS.step} headers`);
          }
          const key: CallKey = { txnNo, step };
          const outcome = (await run(key, request.body)) as { ok: boolean };
          return reply.code(outcome.ok ? 200 : REFUSAL_STATUS).send(outcome);
        });
      }
    }
  });

  return {
    app,
    sims,
    clock,
    connectionsOpened: () => connections,
    async listen(port, host) {
      const address = await app.listen({ port, host });
      sims.start();
      return address.replace('[::1]', 'localhost');
    },
    async close() {
      await app.close();
      await sims.close();
    },
  };
}
