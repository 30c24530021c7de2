import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { TradeMetrics } from '../../runtime/metrics.ts';

/**
 * `GET /metrics` in the Prometheus text format. Unauthenticated, like `/healthz`: scrapers reach
 * it on the internal network without credentials, and it carries counts and latencies only (no
 * transaction numbers, amounts or keys). Keep it off the public edge at the proxy.
 */
export const metricsRoutes: FastifyPluginAsyncTypebox<{ metrics: TradeMetrics }> = async (app, { metrics }) => {
  app.get('/metrics', {
    schema: { summary: 'Prometheus metrics (text format); no key needed', security: [], response: { 200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: Type.String() } } } } },
    handler: async (_req, reply) => {
      const { contentType, body } = await metrics.scrape();
      return reply.type(contentType).send(body);
    },
  });
};
