import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { TradeMetrics } from '../runtime/metrics.ts';
import type { TradeCenter } from '../runtime/trade-center.ts';
import { simAdminRoutes } from '../systems/sim/admin-routes.ts';
import { installJsonParser } from './body-parsers.ts';
import { authenticate, authPlugin } from './auth.ts';
import { ERROR_CODES, TradeError } from '../domain/errors.ts';
import { answerFrameworkError, errorBody, installErrorHandler } from './errors.ts';
import { inspectorRoutes } from './inspector/inspector-routes.ts';
import { DEFAULT_HTTP_LIMITS, serverOptions, type HttpLimits } from './limits.ts';
import { registerOpenApi } from './openapi.ts';
import { sharedCompilers } from './schema-compilers.ts';
import { bindTxnNoFromAnswers, txnChildLogger } from './request-logging.ts';
import { adminRoutes } from './routes/admin.ts';
import { orderRoutes } from './routes/orders.ts';
import { osRoutes } from './routes/os.ts';
import { reconciliationRoutes } from './routes/reconciliation.ts';
import { routingRoutes } from './routes/routing.ts';
import { shadowRoutes } from './routes/shadow.ts';
import { callbackRoutes } from './routes/callbacks.ts';
import { eventRoutes } from './routes/events.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { healthRoutes } from './routes/health.ts';
import { transactionRoutes } from './routes/transactions.ts';

/** Builds the fastify app around a running Trade Center; `limits` bound what one client may hold. */
export async function buildApp(tc: TradeCenter, options: { limits?: HttpLimits } = {}) {
  const limits = options.limits ?? DEFAULT_HTTP_LIMITS;
  const app = Fastify({
    ...serverOptions(limits),
    frameworkErrors: answerFrameworkError,
    // pino 10's Logger and fastify's bundled logger type differ only in fields fastify does not use.
    loggerInstance: tc.log as FastifyBaseLogger,
    childLoggerFactory: txnChildLogger,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true } },
    schemaController: { compilersFactory: sharedCompilers },
  }).withTypeProvider<TypeBoxTypeProvider>();
  // Connections past the cap are closed by Node as they arrive, before any request is read.
  app.server.maxConnections = limits.maxConnections;
  installErrorHandler(app);
  installJsonParser(app);
  await app.register(authPlugin, { keys: tc.apiKeys });
  bindTxnNoFromAnswers(app);
  const metrics = new TradeMetrics(tc);
  app.addHook('onResponse', async (req, reply) => {
    metrics.httpSeconds.observe({ method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  app.addHook('onClose', async () => metrics.close());
  closeConnectionsWhenDone(app);
  await registerOpenApi(app);
  await app.register(metricsRoutes, { metrics });
  await app.register(healthRoutes, { tc });
  await app.register(transactionRoutes, { tc });
  await app.register(callbackRoutes, { tc });
  await app.register(adminRoutes, { tc });
  await app.register(orderRoutes, { tc });
  await app.register(routingRoutes, { tc });
  await app.register(osRoutes, { tc });
  await app.register(shadowRoutes, { tc });
  await app.register(reconciliationRoutes, { tc });
  await app.register(eventRoutes, { tc });
  await app.register(inspectorRoutes, { tc });
  // `/sim` plays the customer and turns the simulated world's knobs (mark a payment paid, point
  // callbacks anywhere): served beside the API only in demo mode, and only to an admin key.
  const sims = tc.config.demoMode ? tc.sims : null;
  if (sims) {
    await app.register(async (sim) => {
      // Answered here: the simulators' routes have an error handler of their own, which knows no TradeError.
      sim.addHook('onRequest', async (req, reply) => {
        try {
          authenticate(tc.apiKeys, req, 'admin');
        } catch (err) {
          if (!(err instanceof TradeError)) throw err;
          return reply.status(ERROR_CODES[err.code].status).send(errorBody(err.code, err.message));
        }
      });
      await sim.register(simAdminRoutes, { sims });
    }, { prefix: '/sim' });
  }
  return app;
}

/**
 * What a worker process (`trade serve --role worker`) listens for on its own port: liveness,
 * readiness and metrics, no public API, no callbacks.
 */
export async function buildOpsApp(tc: TradeCenter, options: { limits?: HttpLimits } = {}) {
  const limits = options.limits ?? DEFAULT_HTTP_LIMITS;
  const app = Fastify({
    ...serverOptions(limits),
    loggerInstance: tc.log as FastifyBaseLogger,
  }).withTypeProvider<TypeBoxTypeProvider>();
  const metrics = new TradeMetrics(tc);
  app.addHook('onClose', async () => metrics.close());
  closeConnectionsWhenDone(app);
  await app.register(metricsRoutes, { metrics });
  await app.register(healthRoutes, { tc });
  return app;
}

/**
 * Graceful shutdown: `close()` reaps idle keep-alive connections at once and lets requests in
 * flight finish, but a response that finishes afterwards would keep its connection alive, and the
 * server would wait for the client to drop it (a payment gateway retrying its callbacks may never
 * do so). Responses sent once closing has begun say `Connection: close`, so the server closes as
 * soon as the last of them is answered.
 */
function closeConnectionsWhenDone(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });
}
