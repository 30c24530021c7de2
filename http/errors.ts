import type { FastifyError, FastifyInstance } from 'fastify';
import { ERROR_CODES, TradeError, type ErrorCode } from '../domain/errors.ts';

export function errorBody(code: ErrorCode, message: string, details?: Record<string, unknown>) {
  return { error: details ? { code, message, details } : { code, message } };
}

/**
 * The one error handler: TradeErrors keep their code and status, schema failures become 400
 * INVALID_REQUEST, anything else is a 500 that says nothing about internals (API.md).
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
      return reply.status(err.statusCode).send(errorBody(err.statusCode === 404 ? 'NOT_FOUND' : 'INVALID_REQUEST', err.message));
    }
    req.log.error({ err }, 'unhandled error');
    return reply.status(500).send(errorBody('INTERNAL', ERROR_CODES.INTERNAL.message));
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send(errorBody('NOT_FOUND', `no route ${req.method} ${req.url}`)));
}
