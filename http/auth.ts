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
  const apiKey = match ? keys.get(match[1]!.trim()) : undefined;
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
