import type { TransactionView } from '../../runtime/view.ts';
import type { JournalLine, ListFilter, ListItem, LiveTransition, TaskView, TradeSource, TransactionDetail } from './source.ts';

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

  /** Reads the server-sent event stream `GET /admin/events`: one JSON object per `data:` line. */
  async *transitions(signal: AbortSignal, onOpen: () => void): AsyncIterable<LiveTransition> {
    let res: Response;
    try {
      res = await fetch(`${this.base}/admin/events`, { headers: { authorization: `Bearer ${this.key}`, accept: 'text/event-stream' }, signal });
    } catch (err) {
      if (signal.aborted) return;
      throw new Error(`cannot reach ${this.base}: ${(err as Error).message}`);
    }
    if (!res.ok || !res.body) {
      const text = await res.text();
      const error = (text ? (JSON.parse(text) as { error?: { code?: string; message?: string } }) : {}).error;
      throw new ApiError(res.status, error?.code ?? `HTTP_${res.status}`, error?.message ?? res.statusText);
    }
    onOpen();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block
            .split('\n')
            .filter((line) => line.startsWith('data:'))
            .map((line) => line.slice(5).trimStart())
            .join('\n');
          if (!data) continue;
          // The stream carries epoch ms; the commands print ISO times, as for the journal.
          const message = JSON.parse(data) as Omit<LiveTransition, 'at'> & { at: number | string };
          yield { ...message, at: typeof message.at === 'number' ? new Date(message.at).toISOString() : message.at };
        }
      }
    } catch (err) {
      if (!signal.aborted) throw err;
    }
  }

  async close(): Promise<void> {}
}
