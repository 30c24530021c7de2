import type { IncomingMessage } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';

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

/**
 * Binds `txnNo` to the request and reply loggers of requests whose path does not name the
 * transaction: a payment callback (its body names it) and a start or checkout (its answer does),
 * so their later lines (`request completed`, warnings) carry it too.
 */
export function bindTxnNoFromBodies(app: FastifyInstance): void {
  const bound = (url: string) => TXN_IN_PATH.test(url);
  app.addHook('preHandler', async (req, reply) => {
    const txnNo = (req.body as { txnNo?: unknown } | undefined)?.txnNo;
    if (typeof txnNo !== 'string' || bound(req.url)) return;
    req.log = req.log.child({ txnNo });
    reply.log = req.log;
  });
  app.addHook('onSend', async (req, reply, payload) => {
    if (typeof payload !== 'string' || !req.url.startsWith('/v1/') || bound(req.url) || (req.body as { txnNo?: unknown } | undefined)?.txnNo) return payload;
    const txnNo = TXN_IN_JSON.exec(payload)?.[1];
    if (txnNo) {
      req.log = req.log.child({ txnNo });
      reply.log = req.log;
    }
    return payload;
  });
}
