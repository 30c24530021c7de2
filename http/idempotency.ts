import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { canonicalJson } from '../domain/canonical-json.ts';
import { StillWorkingError, TradeError } from '../domain/errors.ts';
import type { TransactionStore } from '../storage/types.ts';
import type { Clock } from '../runtime/clock.ts';

/**
 * API.md `Idempotency-Key`: same key and body → the first response replayed; same key with
 * another body → 422; same key while the first is running → 409. Keys are scoped to the calling
 * system and the route. A first attempt that ended in a 5xx is forgotten so that a retry runs,
 * except one that stopped waiting for work still going on: that answer is kept and replayed.
 * A record is kept the configured retention (24 h, `idempotency.retentionMs`) and then purged:
 * the key is free for a new request.
 */
export async function idempotent(
  store: TransactionStore,
  clock: Clock,
  req: FastifyRequest,
  reply: FastifyReply,
  handle: () => Promise<{ status: number; body: unknown }>,
): Promise<void> {
  const header = req.headers['idempotency-key'];
  const key = typeof header === 'string' && header.length > 0 ? header : null;
  if (key === null) {
    const result = await handle();
    await reply.status(result.status).send(result.body);
    return;
  }
  if (key.length > 128) throw new TradeError('INVALID_REQUEST', 'Idempotency-Key is longer than 128 characters');
  const scoped = `${req.apiKey?.client ?? 'anonymous'}:${req.method}:${req.routeOptions.url}:${JSON.stringify(req.params)}:${key}`;
  // The same body with its members in another order is the same request (JSON objects are unordered).
  const fingerprint = createHash('sha256').update(canonicalJson(req.body ?? null)).digest('hex');
  const claim = await store.claimIdempotencyKey(scoped, fingerprint, clock.now());
  if (claim.status === 'mismatch') throw new TradeError('IDEMPOTENCY_KEY_REUSED');
  if (claim.status === 'in-progress') throw new TradeError('REQUEST_IN_PROGRESS');
  if (claim.status === 'done') {
    await reply.status(claim.response.statusCode).header('idempotent-replayed', 'true').send(claim.response.body);
    return;
  }
  try {
    const result = await handle();
    await store.completeIdempotencyKey(scoped, { statusCode: result.status, body: result.body });
    await reply.status(result.status).send(result.body);
  } catch (err) {
    // A refusal is the answer; so is "still working": running the request again could repeat
    // whatever the first run is still doing (charge a card twice).
    if (err instanceof TradeError && (err.status < 500 || err instanceof StillWorkingError)) {
      await store.completeIdempotencyKey(scoped, { statusCode: err.status, body: { error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } } });
    } else {
      await store.releaseIdempotencyKey(scoped);
    }
    throw err;
  }
}
