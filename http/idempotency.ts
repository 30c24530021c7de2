import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { canonicalJson } from '../domain/canonical-json.ts';
import { StillWorkingError, TradeError } from '../domain/errors.ts';
import type { IdempotencyLeases } from '../runtime/idempotency-leases.ts';

/** How often a request waiting on a claim another process may hold looks at it again, ms. */
const RECHECK_MS = 200;

/**
 * One run of a request, as its handler sees it. Under an Idempotency-Key every run of the request
 * names its commands the same way and records the transaction it creates, so that a run taking
 * the key over from a process that died picks the work up instead of doing it twice.
 */
export interface KeyedRun {
  /** Set when this run took the key over from a run whose process died: what that run recorded. */
  readonly resumed: { txnNo: string | null } | null;
  /** The request id of the request's command `step` (the same on every run of the key); none without a key. */
  commandId(step: string): string | undefined;
  /**
   * The number of what the request creates (its transaction, or a transaction's refund): the one
   * the earlier run recorded, else `fresh()`, recorded before anything is stored about it.
   */
  txnNo(fresh: () => string): Promise<string>;
}

const UNKEYED: KeyedRun = { resumed: null, commandId: () => undefined, txnNo: async (fresh) => fresh() };

/**
 * API.md `Idempotency-Key`: same key and body → the first response replayed; same key with
 * another body → 422; same key while the first is running → 409. Keys are scoped to the calling
 * system and the route. A first attempt that ended in a 5xx is forgotten so that a retry runs,
 * except one that stopped waiting for work still going on: a retry resumes that run (below).
 * A record is kept the configured retention (24 h, `idempotency.retentionMs`) and then purged:
 * the key is free for a new request.
 *
 * A claim is leased by the process running it (see {@link IdempotencyLeases}). A retry that finds
 * another process's claim watches it, within its own deadline: renewed, that process is alive and
 * the answer is 409; answered meanwhile, the answer is replayed; lapsed, its process died and the
 * retry takes the request over, answering from what the transaction stored or running the rest.
 */
export async function idempotent(
  leases: IdempotencyLeases,
  req: FastifyRequest,
  reply: FastifyReply,
  handle: (run: KeyedRun) => Promise<{ status: number; body: unknown }>,
): Promise<void> {
  const header = req.headers['idempotency-key'];
  const key = typeof header === 'string' && header.length > 0 ? header : null;
  if (key === null) {
    const result = await handle(UNKEYED);
    await reply.status(result.status).send(result.body);
    return;
  }
  if (key.length > 128) throw new TradeError('INVALID_REQUEST', 'Idempotency-Key is longer than 128 characters');
  const { store, clock, owner } = leases;
  const scoped = `${req.apiKey?.system ?? 'anonymous'}:${req.method}:${req.routeOptions.url}:${JSON.stringify(req.params)}:${key}`;
  // The same body with its members in another order is the same request (JSON objects are unordered).
  const fingerprint = createHash('sha256').update(canonicalJson(req.body ?? null)).digest('hex');
  const deadline = performance.now() + leases.options.waitMs;
  let seenLease: number | null = null;
  let run: KeyedRun | null = null;
  while (run === null) {
    const lease = leases.lease();
    const claim = await store.claimIdempotencyKey(scoped, fingerprint, clock.now(), lease);
    if (claim.status === 'mismatch') throw new TradeError('IDEMPOTENCY_KEY_REUSED');
    if (claim.status === 'done') {
      await reply.status(claim.response.statusCode).header('idempotent-replayed', 'true').send(claim.response.body);
      return;
    }
    if (claim.status === 'in-progress') {
      // Ours, or renewed since it was last seen: its owner is alive and running it.
      if (claim.owner === owner || (seenLease !== null && claim.leaseUntil !== seenLease)) throw new TradeError('REQUEST_IN_PROGRESS');
      seenLease = claim.leaseUntil;
      // A lease that outlasts this request's deadline cannot lapse in time: say so now.
      const left = deadline - performance.now();
      if (claim.leaseUntil - clock.now() > left || left < RECHECK_MS) throw new TradeError('REQUEST_IN_PROGRESS');
      await sleep(RECHECK_MS);
      continue;
    }
    run = keyedRun(leases, scoped, claim.status === 'claimed' ? lease.runId : claim.runId, claim.status === 'claimed' ? null : { txnNo: claim.txnNo });
  }
  leases.hold(scoped);
  try {
    const result = await handle(run);
    await store.completeIdempotencyKey(scoped, owner, { statusCode: result.status, body: result.body });
    await reply.status(result.status).send(result.body);
  } catch (err) {
    // A refusal is the answer. "Still working" is not: the claim is let go with its run id and
    // what it recorded, so a retry takes it over and, under the same command ids, waits for the
    // command still running or answers with what the machine answered meanwhile; it never sends
    // the command again (which could charge a card twice).
    if (err instanceof StillWorkingError) {
      leases.drop(scoped);
      await store.renewIdempotencyKey(scoped, owner, clock.now() - 1);
    } else if (err instanceof TradeError && err.status < 500) {
      await store.completeIdempotencyKey(scoped, owner, { statusCode: err.status, body: { error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } } });
    } else {
      await store.releaseIdempotencyKey(scoped, owner);
    }
    throw err;
  } finally {
    leases.drop(scoped);
  }
}

function keyedRun(leases: IdempotencyLeases, scoped: string, runId: string, resumed: { txnNo: string | null } | null): KeyedRun {
  return {
    resumed,
    commandId: (step) => `${runId}:${step}`,
    txnNo: async (fresh) => {
      if (resumed?.txnNo) return resumed.txnNo;
      const txnNo = fresh();
      // Lost to a run that took the key over (this one stalled past its lease): that run creates it.
      if (!(await leases.store.noteIdempotencyTxn(scoped, leases.owner, txnNo))) throw new TradeError('REQUEST_IN_PROGRESS');
      return txnNo;
    },
  };
}
