import { get, type IncomingMessage } from 'node:http';
import type { EventMessage, GapMessage, TransitionMessage } from '../../http/routes/events.ts';
import { DEMO_KEY } from './harness.ts';

/** One event as received: its SSE `id:` (absent when it had none) and its `data:`. */
export interface ReceivedEvent {
  id: string | undefined;
  message: EventMessage;
}

/** An open `GET /admin/events` stream: the messages so far, growing as they arrive. */
export interface EventStream {
  status: number | undefined;
  type: string | undefined;
  /** The transitions, in order. */
  messages: TransitionMessage[];
  gaps: GapMessage[];
  /** Every event, gaps included, with its id. */
  events: ReceivedEvent[];
  /** The id a reconnecting EventSource would send: that of the last event that had one. */
  lastEventId(): string | undefined;
  /** The body of a refused request (its error envelope), once it has arrived. */
  body(): Promise<string>;
  abort(): void;
  /** Settles when the server ends the stream or the client aborts it. */
  ended: Promise<void>;
}

/**
 * A client of GET /admin/events over real HTTP (node:http: undici's fetch keeps a spare socket
 * open that would hold the server's close for its keep-alive time): collects the events as they
 * arrive, parsed as EventSource does (a block per blank line; `id:` and `data:` fields).
 */
export async function subscribe(baseUrl: string, query = '', headers: Record<string, string> = { authorization: `Bearer ${DEMO_KEY}` }): Promise<EventStream> {
  const res = await new Promise<IncomingMessage>((resolve, reject) => get(`${baseUrl}/admin/events${query}`, { headers }, resolve).on('error', reject));
  const messages: TransitionMessage[] = [];
  const gaps: GapMessage[] = [];
  const events: ReceivedEvent[] = [];
  let lastId: string | undefined;
  let buffer = '';
  let raw = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    if (res.statusCode !== 200) {
      raw += chunk;
      return;
    }
    buffer += chunk;
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let id: string | undefined;
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('id: ')) id = line.slice(4);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (id !== undefined) lastId = id;
      if (!data.length) continue;
      const message = JSON.parse(data.join('\n')) as EventMessage;
      events.push({ id, message });
      if (message.type === 'gap') gaps.push(message);
      else messages.push(message);
    }
  });
  const ended = new Promise<void>((resolve) => res.on('close', resolve));
  return {
    status: res.statusCode,
    type: res.headers['content-type'],
    messages,
    gaps,
    events,
    lastEventId: () => lastId,
    body: async () => {
      await ended;
      return raw;
    },
    abort: () => res.destroy(),
    ended,
  };
}
