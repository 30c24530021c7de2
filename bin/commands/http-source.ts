import type { OrderQueryParams, OrderView } from '../../runtime/order-queries.ts';
import type { OrderSummaryRow } from '../../storage/types.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EventMessage } from '../../http/routes/events.ts';
import type { TransactionView } from '../../runtime/view.ts';
import type { JournalLine, ListFilter, ListItem, LiveEvent, TaskView, TradeSource, TransactionDetail } from './source.ts';

/** The reconnection delay until the server sets one (`retry:`), as EventSource's default is about. */
const DEFAULT_RETRY_MS = 2_000;

/** An error answer of the API, turned into one readable line (`NOT_FOUND: no transaction T1`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/** The `trade` commands against a running server, through its public and admin API. */
export class HttpSource implements TradeSource {
  readonly name: string;
  private readonly base: string;

  constructor(
    url: string,
    private readonly key: string,
  ) {
    this.base = url.replace(/\/+$/, '');
    this.name = this.base;
  }

  /** One call of the admin or public API (the commands that have no {@link TradeSource} method: routing, shadow). */
  call<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.request(method, path, body);
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(`cannot reach ${this.base}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
    const text = await res.text();
    const parsed: unknown = text ? JSON.parse(text) : {};
    if (!res.ok) {
      const error = (parsed as { error?: { code?: string; message?: string } }).error;
      throw new ApiError(res.status, error?.code ?? `HTTP_${res.status}`, error?.message ?? res.statusText);
    }
    return parsed as T;
  }

  orders(query: OrderQueryParams, limit: number, cursor: string | null): Promise<{ items: OrderView[]; nextCursor: string | null }> {
    const params = new URLSearchParams({ ...definedOf(query), limit: String(limit), ...(cursor ? { cursor } : {}) });
    return this.request('GET', `/admin/orders?${params}`);
  }

  summary(query: OrderQueryParams, groupBy: string | undefined): Promise<{ groups: OrderSummaryRow[] }> {
    const params = new URLSearchParams({ ...definedOf(query), ...(groupBy ? { groupBy } : {}) });
    return this.request('GET', `/admin/orders/summary?${params}`);
  }

  async list(filter: ListFilter): Promise<{ items: ListItem[]; nextCursor: string | null }> {
    const query = new URLSearchParams({ limit: String(filter.limit) });
    if (filter.state) query.set('state', filter.state);
    if (filter.needsAttention) query.set('needsAttention', 'true');
    if (filter.cursor) query.set('cursor', filter.cursor);
    return this.request('GET', `/admin/transactions?${query}`);
  }

  transaction(txnNo: string): Promise<TransactionDetail> {
    return this.request('GET', `/v1/transactions/${encodeURIComponent(txnNo)}`);
  }

  async journal(txnNo: string): Promise<JournalLine[]> {
    return (await this.request<{ entries: JournalLine[] }>('GET', `/admin/transactions/${encodeURIComponent(txnNo)}/journal`)).entries;
  }

  nudge(txnNo: string): Promise<TransactionDetail> {
    return this.request('POST', `/admin/transactions/${encodeURIComponent(txnNo)}/nudge`);
  }

  async retry(txnNo: string, task: string): Promise<TaskView> {
    return (await this.request<{ task: TaskView }>('POST', `/admin/transactions/${encodeURIComponent(txnNo)}/tasks/${encodeURIComponent(task)}/retry`)).task;
  }

  cancel(txnNo: string, reason: string | undefined): Promise<TransactionView> {
    return this.request('POST', `/v1/transactions/${encodeURIComponent(txnNo)}/cancel`, reason ? { reason } : {});
  }

  /**
   * Reads the server-sent event stream `GET /admin/events`, one JSON object per event. Like an
   * EventSource it reconnects when the connection drops or the server ends the stream, after the
   * server's `retry:` delay, and sends the id of the last event it had as `Last-Event-ID`: the
   * server resumes right after it, or says `gap` first when it cannot. Only the first connection
   * failing, or the server refusing one (a key revoked meanwhile), ends it with an error.
   */
  async *transitions(signal: AbortSignal, onOpen: () => void): AsyncIterable<LiveEvent> {
    let lastEventId: string | undefined;
    let retryMs = DEFAULT_RETRY_MS;
    let opened = false;
    while (!signal.aborted) {
      let res: Response;
      try {
        res = await fetch(`${this.base}/admin/events`, {
          headers: { authorization: `Bearer ${this.key}`, accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
          signal,
        });
      } catch (err) {
        if (signal.aborted) return;
        if (!opened) throw new Error(`cannot reach ${this.base}: ${(err as Error).message}`);
        // Still down (a restart takes a while): try again, quietly, the server said when.
        await sleep(retryMs, undefined, { signal }).catch(() => undefined);
        continue;
      }
      if (!res.ok || !res.body) {
        const text = await res.text();
        const error = (text ? (JSON.parse(text) as { error?: { code?: string; message?: string } }) : {}).error;
        throw new ApiError(res.status, error?.code ?? `HTTP_${res.status}`, error?.message ?? res.statusText);
      }
      if (!opened) onOpen();
      opened = true;
      let reason = 'the server ended the stream';
      try {
        for await (const event of serverSentEvents(res.body)) {
          if (event.retry !== undefined) retryMs = event.retry;
          if (event.id !== undefined) lastEventId = event.id;
          if (event.data) yield liveEvent(event.data);
        }
      } catch (err) {
        if (signal.aborted) return;
        // undici reports a cut connection as `terminated`; its cause says how (`other side closed`).
        reason = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
      }
      if (signal.aborted) return;
      yield { type: 'disconnected', reason };
      await sleep(retryMs, undefined, { signal }).catch(() => undefined);
    }
  }

  async close(): Promise<void> {}
}

/** One event of a server-sent event stream: its fields as the SSE format defines them. */
interface ServerSentEvent {
  id?: string;
  retry?: number;
  data: string;
}

/**
 * The events of an SSE body, each once its blank line has arrived (a connection cut in the middle
 * of one loses it whole, and its id with it, so resuming sends it again).
 */
async function* serverSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event: ServerSentEvent = { data: '' };
      const data: string[] = [];
      for (const line of block.split('\n')) {
        const colon = line.indexOf(':');
        // A line starting with a colon is a comment (`: heartbeat`).
        if (colon === 0) continue;
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') data.push(value);
        else if (field === 'id') event.id = value;
        else if (field === 'retry' && /^\d+$/.test(value)) event.retry = Number(value);
      }
      event.data = data.join('\n');
      yield event;
    }
  }
}

/** A message of the stream as the commands show it: times as ISO-8601, as for the journal. */
function liveEvent(data: string): LiveEvent {
  const message = JSON.parse(data) as EventMessage;
  const at = new Date(message.at).toISOString();
  if (message.type === 'gap') return { type: 'gap', lastEventId: message.lastEventId, reason: message.reason, at };
  return { ...message, at };
}

/** The filters given, as query-string pairs. */
function definedOf(query: OrderQueryParams): Record<string, string> {
  return Object.fromEntries(Object.entries(query).filter((e): e is [string, string] => typeof e[1] === 'string'));
}
