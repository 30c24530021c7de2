import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { mayActFor, merchantLimit, type ApiKey, type Scope } from '../domain/api-key.ts';
import { TradeError } from '../domain/errors.ts';
import type { KeyRing } from '../runtime/api-keys.ts';
import type { TransactionHost } from '../runtime/transaction-host.ts';
import type { TransactionView } from '../runtime/view.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's key, set by {@link authPlugin} on every route that names a scope. */
    apiKey: ApiKey | null;
  }
  interface FastifyContextConfig {
    /**
     * The scope a route needs; a route without one is public (health, docs, the inspector page,
     * callbacks, which prove themselves by signature).
     */
    scope?: Scope;
    /**
     * Also take the key from `?key=`: only for an event stream, because a browser's EventSource
     * cannot send an Authorization header. A key in a URL can land in access logs and history,
     * so no other route accepts one.
     */
    keyInQuery?: boolean;
  }
}

/**
 * Authenticates the request against `keys`: the bearer key (401 when missing or unknown), then
 * its scope (403). Sets `req.apiKey`.
 */
export function authenticate(keys: KeyRing, req: FastifyRequest, scope: Scope, keyInQuery = false): ApiKey {
  const header = req.headers.authorization;
  let secret: string | undefined;
  if (header) secret = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
  else if (keyInQuery) {
    const fromQuery = (req.query as { key?: unknown } | undefined)?.key;
    if (typeof fromQuery === 'string') secret = fromQuery;
  }
  const apiKey = secret ? keys.find(secret) : null;
  if (!apiKey) throw new TradeError('UNAUTHORIZED');
  if (!apiKey.scopes.includes(scope)) throw new TradeError('FORBIDDEN', `this key lacks the ${scope} scope`);
  req.apiKey = apiKey;
  return apiKey;
}

/**
 * Auth as one hook (API.md "Auth"): each route says the scope it needs in `config.scope`, and
 * the hook admits the request before its body is even read, so an unauthenticated caller learns
 * nothing from validation either.
 */
export const authPlugin = fp<{ keys: KeyRing }>(
  async (app: FastifyInstance, { keys }) => {
    app.decorateRequest('apiKey', null);
    app.addHook('onRequest', async (req) => {
      const { scope, keyInQuery } = req.routeOptions.config;
      if (scope) authenticate(keys, req, scope, keyInQuery === true);
    });
  },
  { name: 'trade-auth' },
);

/** The key the auth hook admitted; a route that calls this without a scope is a bug. */
export function keyOf(req: FastifyRequest): ApiKey {
  if (!req.apiKey) throw new Error(`route ${req.routeOptions.url ?? req.url} reads the API key but names no scope`);
  return req.apiKey;
}

/** Whether the request's key may see what belongs to `merchantId`. */
export function visibleTo(req: FastifyRequest, merchantId: string): boolean {
  return mayActFor(keyOf(req), merchantId);
}

/** The merchants the request's lists and streams are limited to; null: all. */
export function merchantsOf(req: FastifyRequest): string[] | null {
  return merchantLimit(keyOf(req));
}

/** A new transaction for a merchant the key may not act for: 403 (the caller named it itself: no oracle). */
export function assertMayActFor(req: FastifyRequest, merchantId: string): void {
  if (!visibleTo(req, merchantId)) throw new TradeError('FORBIDDEN', `this key may not act for merchant ${merchantId}`);
}

/** The answer for a transaction that does not exist, and for one of a merchant the key may not act for. */
export function noTransaction(txnNo: string): TradeError {
  return new TradeError('NOT_FOUND', `no transaction ${txnNo}`);
}

/**
 * The view of a transaction the request's key may see. Another merchant's transaction answers
 * exactly as a missing one (API.md: no existence oracle), checked before anything acts on it.
 */
export async function visibleTransaction(host: TransactionHost, req: FastifyRequest, txnNo: string): Promise<TransactionView> {
  const view = await host.view(txnNo);
  if (!view || !visibleTo(req, view.merchantId)) throw noTransaction(txnNo);
  return view;
}
