import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODES, TradeError, type ErrorCode } from '../domain/errors.ts';

export function errorBody(code: ErrorCode, message: string, details?: Record<string, unknown>) {
  return { error: details ? { code, message, details } : { code, message } };
}

/**
 * The code of a 4xx raised by fastify or a plugin rather than by our own code. A 403 of that kind
 * is @fastify/static refusing a path that climbs out of its folder: a file that is not served
 * there does not exist, as far as the client can tell (404).
 */
function codeOfStatus(status: number): { status: number; code: ErrorCode } {
  if (status === 403 || status === 404) return { status: 404, code: 'NOT_FOUND' };
  if (status === 405) return { status, code: 'METHOD_NOT_ALLOWED' };
  if (status === 408) return { status, code: 'REQUEST_TIMEOUT' };
  if (status === 413) return { status, code: 'PAYLOAD_TOO_LARGE' };
  return { status, code: 'INVALID_REQUEST' };
}

/**
 * Errors fastify finds before routing (`frameworkErrors`): a path that is not valid percent
 * encoding, a parameter past its length limit. Answered in the API.md format, like every 4xx.
 */
export function answerFrameworkError(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  void reply.status(400).send(errorBody('INVALID_REQUEST', err.code === 'FST_ERR_BAD_URL' ? 'the path is not valid percent-encoded UTF-8' : err.message));
}

/**
 * The one error handler: TradeErrors keep their code and status, schema failures become 400
 * INVALID_REQUEST, anything else is a 500 that says nothing about internals (API.md). A path that
 * exists under another method answers 405 with `Allow`, an unknown one 404.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | TradeError, req, reply) => {
    if (err instanceof TradeError) {
      const status = ERROR_CODES[err.code].status;
      if (status >= 500) req.log.warn({ code: err.code, msg: err.message }, 'request refused');
      return reply.status(status).send(errorBody(err.code, status >= 500 && err.code === 'INTERNAL' ? ERROR_CODES.INTERNAL.message : err.message, err.details));
    }
    if ('validation' in err && err.validation) {
      return reply.status(400).send(errorBody('INVALID_REQUEST', err.message));
    }
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      const { status, code } = codeOfStatus(err.statusCode);
      return reply.status(status).send(errorBody(code, status === err.statusCode ? err.message : ERROR_CODES[code].message));
    }
    req.log.error({ err }, 'unhandled error');
    return reply.status(500).send(errorBody('INTERNAL', ERROR_CODES.INTERNAL.message));
  });

  const routes: { pattern: RegExp; methods: Set<string> }[] = [];
  app.addHook('onRoute', (route) => {
    const pattern = pathPattern(route.url);
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).map(String);
    const known = routes.find((r) => r.pattern.source === pattern.source);
    if (known) for (const m of methods) known.methods.add(m);
    else routes.push({ pattern, methods: new Set(methods) });
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    const allowed = new Set(routes.filter((r) => r.pattern.test(path)).flatMap((r) => [...r.methods]));
    // A route that matched and then found nothing (a static file) calls this too: that is a 404.
    if (allowed.size && !allowed.has(req.method)) {
      const allow = [...allowed].sort().join(', ');
      return reply.status(405).header('allow', allow).send(errorBody('METHOD_NOT_ALLOWED', `${req.method} is not allowed on this path; allowed: ${allow}`));
    }
    return reply.status(404).send(errorBody('NOT_FOUND', `no route ${req.method} ${path}`));
  });
}

/** A fastify route path (`/v1/transactions/:txnNo`, `/docs/static/*`) as a pattern of the paths it takes. */
function pathPattern(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => (segment === '*' ? '.*' : segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}/?$`);
}
