import type { IncomingMessage } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** A transaction number in a request path: `/v1/transactions/T…` or `/admin/transactions/T…`. */
const TXN_IN_PATH = /^\/(?:v1|admin)\/transactions\/([A-Za-z0-9_.:-]+)/;
/** The first `txnNo` of a JSON body (the view, or an error's details). */
const TXN_IN_JSON = /"txnNo":"([A-Za-z0-9_.:-]+)"/;

/**
 * Request loggers of a transaction's requests carry its `txnNo` from their first line (`incoming
 * request`), so one filter finds everything about a transaction. Fastify's `childLoggerFactory`.
 */
export function txnChildLogger(logger: FastifyBaseLogger, bindings: Record<string, unknown>, opts: object, raw: IncomingMessage): FastifyBaseLogger {
  const txnNo = TXN_IN_PATH.exec(raw.url ?? '')?.[1];
  return logger.child(txnNo ? { ...bindings, txnNo } : bindings, opts);
}

/** Binds `txnNo` to a request's later log lines, once the request turns out to be about that transaction. */
export function bindTxnNo(req: FastifyRequest, reply: FastifyReply, txnNo: string): void {
  req.log = req.log.child({ txnNo });
  reply.log = req.log;
}

/**
 * A start or a checkout learns its transaction number only when it answers: bind it from the
 * answer, so the request's `request completed` line carries it too.
 */
export function bindTxnNoFromAnswers(app: FastifyInstance): void {
  app.addHook('onSend', async (req, reply, payload) => {
    if (typeof payload !== 'string' || !req.url.startsWith('/v1/') || TXN_IN_PATH.test(req.url) || req.url.startsWith('/v1/callbacks/')) return payload;
    const txnNo = TXN_IN_JSON.exec(payload)?.[1];
    if (txnNo) bindTxnNo(req, reply, txnNo);
    return payload;
  });
}
