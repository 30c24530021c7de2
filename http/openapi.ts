import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/**
 * OpenAPI 3 generated from the route schemas (TypeBox), served as JSON at `/docs/json` and as
 * Swagger UI at `/docs` (its assets come from the package: it works without internet access).
 * Registered before the routes, so every route added afterwards is documented.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Trade Center API',
        version: '1',
        description: 'The unified transaction platform: quote, order, pay, cancel and refund (API.md). Amounts are integer fen.',
      },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key with the `trade`, `refund` or `admin` scope' } } },
      security: [{ apiKey: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}
