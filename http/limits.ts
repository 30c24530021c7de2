import { STATUS_CODES, type ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import type { ErrorCode } from '../domain/errors.ts';
import { ConfigError } from '../runtime/systems-config.ts';
import { errorBody } from './errors.ts';

/**
 * What one HTTP server lets a client hold: a client that sends slowly, never finishes, or opens
 * connections without end must not tie up the process (issue 17).
 */
export interface HttpLimits {
  /** Longest a whole request (headers and body) may take to arrive; cut with 408 after it. */
  requestTimeoutMs: number;
  /** Longest a connection may sit with no byte in either direction (a stream's heartbeat counts). */
  connectionTimeoutMs: number;
  /** How long an idle keep-alive connection waits for its next request. */
  keepAliveTimeoutMs: number;
  /** Largest request body; larger ones answer 413. */
  bodyLimitBytes: number;
  /** Open connections one process accepts; the ones beyond it are closed at once. */
  maxConnections: number;
}

/**
 * Safe defaults: a callback or a sale is a few kilobytes sent at once, so 30 s for a request is
 * generous; 60 s of silence is four missed heartbeats of the event stream (15 s).
 */
export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  requestTimeoutMs: 30_000,
  connectionTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  bodyLimitBytes: 1_048_576,
  maxConnections: 2_048,
};

/** The environment key of each limit, as the README lists them. */
export const HTTP_LIMIT_ENV: Record<keyof HttpLimits, string> = {
  requestTimeoutMs: 'TRADE_HTTP_REQUEST_TIMEOUT_MS',
  connectionTimeoutMs: 'TRADE_HTTP_CONNECTION_TIMEOUT_MS',
  keepAliveTimeoutMs: 'TRADE_HTTP_KEEP_ALIVE_TIMEOUT_MS',
  bodyLimitBytes: 'TRADE_HTTP_BODY_LIMIT_BYTES',
  maxConnections: 'TRADE_HTTP_MAX_CONNECTIONS',
};

/**
 * The limits from the environment over the defaults, and `overrides` (command-line flags) over
 * both. Every limit is a positive integer: 0 would mean "no limit" to Node, which is what this
 * exists to prevent. Throws a {@link ConfigError} naming each bad key.
 */
export function httpLimitsFromEnv(env: Record<string, string | undefined>, overrides: Partial<HttpLimits> = {}): HttpLimits {
  const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS };
  const problems: string[] = [];
  for (const name of Object.keys(HTTP_LIMIT_ENV) as (keyof HttpLimits)[]) {
    const raw = env[HTTP_LIMIT_ENV[name]];
    const given = overrides[name];
    if (given !== undefined) {
      if (Number.isSafeInteger(given) && given >= 1) limits[name] = given;
      else problems.push(`${name}: not a positive integer: ${given}`);
    } else if (raw !== undefined) {
      const n = raw.trim() === '' ? Number.NaN : Number(raw);
      if (Number.isSafeInteger(n) && n >= 1) limits[name] = n;
      else problems.push(`${HTTP_LIMIT_ENV[name]}: not a positive integer: ${JSON.stringify(raw)}`);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return limits;
}

/**
 * Fastify's options for `limits`. Node looks for overdue requests only every
 * `connectionsCheckingInterval` (30 s by default), so a 2 s request timeout would cut a slow body
 * after up to 32 s: the check runs ten times per timeout, at most once a second.
 */
export function serverOptions(limits: HttpLimits) {
  const http: ServerOptions = {
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: Math.min(limits.requestTimeoutMs, 60_000),
    connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(limits.requestTimeoutMs / 10))),
  };
  return {
    http,
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.connectionTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    bodyLimit: limits.bodyLimitBytes,
    clientErrorHandler: answerClientError,
  };
}

/** A response already under way on the socket: nothing can be written in front of it. */
function responseStarted(socket: Socket): boolean {
  const res: unknown = Reflect.get(socket, '_httpMessage');
  return typeof res === 'object' && res !== null && Reflect.get(res, 'headersSent') === true;
}

/**
 * Errors Node raises before fastify sees a request (a request past its timeout, headers too
 * large, bytes that are not HTTP), answered in the API.md error format instead of fastify's own.
 */
function answerClientError(this: { log: FastifyBaseLogger }, err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message]: [number, ErrorCode, string] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'REQUEST_TIMEOUT', 'the request did not arrive within the request timeout']
    : err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'INVALID_REQUEST', 'the request headers are too large']
    : [400, 'INVALID_REQUEST', 'not a well-formed HTTP request'];
  this.log.debug({ code: err.code, status }, 'client error');
  if (socket.writable && !responseStarted(socket)) {
    const body = JSON.stringify(errorBody(code, message));
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
