import type { FastifyRequest } from 'fastify';
import { TradeError } from '../domain/errors.ts';

export type Scope = 'trade' | 'refund' | 'admin';

/** An API key of one calling system (API.md "Auth"). */
export interface ApiKey {
  key: string;
  /** The calling system's name, for logs and idempotency scoping. */
  client: string;
  scopes: Scope[];
  /** Merchant ids this key may act for; `*` for all. */
  merchants: string[];
}

declare module 'fastify' {
  interface FastifyRequest {
    apiKey: ApiKey | null;
  }
}

/** Resolves the bearer key (401 when missing or unknown) and checks its scope (403). */
export function authenticate(keys: Map<string, ApiKey>, req: FastifyRequest, scope: Scope): ApiKey {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(.+)$/i.exec(header);
  return admit(req, match ? keys.get(match[1]!.trim()) : undefined, scope);
}

/**
 * Like `authenticate`, also taking the key from `?key=`: only for an event stream, because a
 * browser's EventSource cannot send an Authorization header. A key in a URL can land in access
 * logs and history, so no other route accepts one.
 */
export function authenticateStream(keys: Map<string, ApiKey>, req: FastifyRequest, scope: Scope, queryKey: string | undefined): ApiKey {
  if (req.headers.authorization || queryKey === undefined) return authenticate(keys, req, scope);
  return admit(req, keys.get(queryKey), scope);
}

function admit(req: FastifyRequest, apiKey: ApiKey | undefined, scope: Scope): ApiKey {
  if (!apiKey) throw new TradeError('UNAUTHORIZED');
  if (!apiKey.scopes.includes(scope)) throw new TradeError('FORBIDDEN', `this key lacks the ${scope} scope`);
  req.apiKey = apiKey;
  return apiKey;
}

export function assertMerchant(apiKey: ApiKey, merchantId: string): void {
  if (!apiKey.merchants.includes('*') && !apiKey.merchants.includes(merchantId)) {
    throw new TradeError('FORBIDDEN', `this key may not act for merchant ${merchantId}`);
  }
}
