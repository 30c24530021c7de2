import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { DownstreamUnavailableError, type CallKey, type SystemName } from '../contract.ts';

/**
 * Headers of the wire protocol (docs/callee-contract.md): the call key on every mutating call,
 * and the caller's clock on every call when the connector is told to send it.
 */
export const WIRE_HEADERS = {
  txnNo: 'x-tc-txn-no',
  step: 'x-tc-step',
  now: 'x-tc-now',
} as const;

/** Status of a business refusal: `{ ok: false, code, message }`, the port's `Refused` value. */
export const REFUSAL_STATUS = 422;

/** Where and how one downstream system is reached. */
export interface ConnectorOptions {
  system: SystemName;
  /** e.g. `http://coupon.internal:8080` or, behind `trade sim`, `http://127.0.0.1:4000/coupon`. */
  baseUrl: string;
  /** Deadline of one call, all attempts of a read included, ms. */
  timeoutMs: number;
  /** Keep-alive connections to the system's origin, shared with the other systems on it. */
  pools: ConnectionPools;
  /** Attempts of a read on a transport fault (reads are safe to repeat); 2 unless told. */
  readAttempts?: number;
  /**
   * Sends the caller's clock as `x-tc-now` on every call: for a `trade sim --clock follow` that
   * replays a seeded run, never for a real system.
   */
  sendClock?: { now(): number };
}

/**
 * The request was malformed or reused a key with another body (400, 409): a defect on our side,
 * not a business answer and not worth repeating, so it is not a {@link DownstreamUnavailableError}.
 */
export class DownstreamRejectedError extends Error {
  constructor(readonly system: SystemName, readonly status: number, message: string) {
    super(`${system}: rejected with HTTP ${status}: ${message}`);
    this.name = 'DownstreamRejectedError';
  }
}

/**
 * One undici {@link Pool} per origin, with keep-alive, so that a call costs a request and not a
 * connection. Systems served from one origin (every system behind one `trade sim`) share a pool.
 */
export class ConnectionPools {
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly connectionsPerOrigin: number, private readonly keepAliveMs = 30_000) {}

  get(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, { connections: this.connectionsPerOrigin, keepAliveTimeout: this.keepAliveMs, keepAliveMaxTimeout: 10 * this.keepAliveMs });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }
}

interface WireReply {
  status: number;
  body: unknown;
}

/**
 * The generic JSON-over-HTTP client of one downstream system (docs/callee-contract.md):
 * `POST {baseUrl}/{operation}` with the port method's request as the body.
 * - a read answers 200 with the port's value (`null` for "none"); it is repeated here on a
 *   transport fault, within the one deadline;
 * - a mutation carries its call key in headers and answers 200 `{ ok: true, … }` or 422
 *   `{ ok: false, code, message }`, the refusal as a value; it is never repeated here: the runtime
 *   re-drives it with the same key, or undoes it;
 * - 5xx, 429, a refused or reset connection and the deadline are {@link DownstreamUnavailableError}
 *   ("may or may not have happened"); 400 and 409 are {@link DownstreamRejectedError}.
 */
export class HttpConnector {
  private readonly pool: Pool;
  private readonly pathPrefix: string;
  private readonly readAttempts: number;

  constructor(private readonly options: ConnectorOptions) {
    const url = new URL(options.baseUrl);
    this.pool = options.pools.get(url.origin);
    this.pathPrefix = url.pathname.replace(/\/+$/, '');
    this.readAttempts = options.readAttempts ?? 2;
  }

  get system(): SystemName {
    return this.options.system;
  }

  /** A read: safe to repeat, so transport faults are retried until the deadline. */
  async read<T>(operation: string, request: object): Promise<T> {
    const deadline = Date.now() + this.options.timeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        const reply = await this.send(operation, request, {}, deadline);
        if (reply.status === 200) return reply.body as T;
        throw this.fault(operation, reply);
      } catch (err) {
        // A timeout used the whole deadline, so only a quick fault (a reset, a 503) leaves room to try again.
        const retryable = err instanceof DownstreamUnavailableError;
        if (!retryable || attempt >= this.readAttempts || Date.now() + 20 * attempt >= deadline) throw err;
        await sleep(20 * attempt);
      }
    }
  }

  /** A mutating call under its key: the outcome, or a refusal as a value; never repeated here. */
  async mutate<T extends { ok: boolean }>(operation: string, key: CallKey, request: object): Promise<T> {
    const headers = { [WIRE_HEADERS.txnNo]: key.txnNo, [WIRE_HEADERS.step]: key.step };
    const reply = await this.send(operation, request, headers, Date.now() + this.options.timeoutMs);
    if (reply.status === 200 || (reply.status === REFUSAL_STATUS && isRefusal(reply.body))) return reply.body as T;
    throw this.fault(operation, reply);
  }

  private async send(operation: string, request: object, headers: Record<string, string>, deadline: number): Promise<WireReply> {
    const { system, sendClock } = this.options;
    const ms = Math.max(1, deadline - Date.now());
    try {
      const res = await this.pool.request({
        method: 'POST',
        path: `${this.pathPrefix}/${operation}`,
        headers: {
          'content-type': 'application/json',
          ...headers,
          ...(sendClock ? { [WIRE_HEADERS.now]: String(sendClock.now()) } : {}),
        },
        body: JSON.stringify(request),
        signal: AbortSignal.timeout(ms),
      });
      const text = await res.body.text();
      return { status: res.statusCode, body: text ? JSON.parse(text) : null };
    } catch (err) {
      const name = err instanceof Error ? err.name : '';
      if (name === 'TimeoutError' || name === 'AbortError') throw new DownstreamUnavailableError(system, `${operation}: no answer within ${ms} ms`);
      if (err instanceof SyntaxError) throw new DownstreamUnavailableError(system, `${operation}: answer is not JSON`);
      throw new DownstreamUnavailableError(system, `${operation}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private fault(operation: string, reply: WireReply): Error {
    const { system } = this.options;
    const message = describe(reply.body);
    if (reply.status === 400 || reply.status === 409) return new DownstreamRejectedError(system, reply.status, `${operation}: ${message}`);
    return new DownstreamUnavailableError(system, `${operation}: HTTP ${reply.status}${message ? ` ${message}` : ''}`);
  }
}

function isRefusal(body: unknown): boolean {
  return typeof body === 'object' && body !== null && (body as { ok?: unknown }).ok === false && typeof (body as { code?: unknown }).code === 'string';
}

function describe(body: unknown): string {
  if (typeof body === 'object' && body !== null) {
    const { code, message } = body as { code?: unknown; message?: unknown };
    return [code, message].filter((v) => typeof v === 'string').join(': ');
  }
  return '';
}
