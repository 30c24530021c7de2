import Fastify, { type FastifyBaseLogger } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { TradeCenter } from '../runtime/trade-center.ts';
import { simAdminRoutes } from '../systems/sim/admin-routes.ts';
import { installErrorHandler } from './errors.ts';
import { inspectorRoutes } from './inspector/inspector-routes.ts';
import { adminRoutes } from './routes/admin.ts';
import { callbackRoutes } from './routes/callbacks.ts';
import { eventRoutes } from './routes/events.ts';
import { healthRoutes } from './routes/health.ts';
import { transactionRoutes } from './routes/transactions.ts';

/** Builds the fastify app around a running Trade Center. */
export async function buildApp(tc: TradeCenter) {
  const app = Fastify({
    // pino 10's Logger and fastify's bundled logger type differ only in fields fastify does not use.
    loggerInstance: tc.log as FastifyBaseLogger,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.decorateRequest('apiKey', null);
  installErrorHandler(app);
  await app.register(healthRoutes, { tc });
  await app.register(transactionRoutes, { tc });
  await app.register(callbackRoutes, { tc });
  await app.register(adminRoutes, { tc });
  await app.register(eventRoutes, { tc });
  await app.register(inspectorRoutes, { tc });
  if (tc.sims) await app.register(simAdminRoutes, { prefix: '/sim', sims: tc.sims });
  return app;
}
