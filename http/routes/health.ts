import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { TradeCenter } from '../../runtime/trade-center.ts';
import { errorBody } from '../errors.ts';

/** Liveness (the process answers) and readiness (storage and the core systems answer). */
export const healthRoutes: FastifyPluginAsyncTypebox<{ tc: TradeCenter }> = async (app, { tc }) => {
  // No key: a load balancer or an orchestrator probes these without credentials.
  app.get('/healthz', { schema: { summary: 'Liveness; no key needed', security: [], response: { 200: Type.Object({ status: Type.String() }) } } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { summary: 'Readiness: storage and the core systems answer (503 otherwise); no key needed', security: [] } }, async (_req, reply) => {
    const checks: Record<string, string> = {};
    const probe = async (name: string, run: () => Promise<unknown>) => {
      try {
        await run();
        checks[name] = 'ok';
      } catch (err) {
        checks[name] = err instanceof Error ? err.message : 'failed';
      }
    };
    await Promise.all([
      probe(tc.scaleOut ? 'redis' : 'storage', () => tc.storage.ping()),
      ...(tc.storage.archive.enabled ? [probe('archive', () => tc.storage.archive.ping())] : []),
      probe('fuelCatalog', () => tc.systems.fuelCatalog.getStation('__readyz__')),
      probe('user', () => tc.systems.user.getUser('__readyz__')),
    ]);
    const ready = Object.values(checks).every((c) => c === 'ok');
    if (!ready) return reply.status(503).send({ ...errorBody('CORE_SYSTEM_UNAVAILABLE', 'not ready'), checks });
    return { status: 'ready', checks };
  });
};
