import { get, type IncomingMessage } from 'node:http';
import type { TransitionMessage } from '../../http/routes/events.ts';
import { DEMO_KEY } from './harness.ts';

/** An open `GET /admin/events` stream: the messages so far, growing as they arrive. */
export interface EventStream {
  status: number | undefined;
  type: string | undefined;
  messages: TransitionMessage[];
  abort(): void;
  /** Settles when the server ends the stream or the client aborts it. */
  ended: Promise<void>;
}

/**
 * A client of GET /admin/events over real HTTP (node:http: undici's fetch keeps a spare socket
 * open that would hold the server's close for its keep-alive time): collects the `data:` messages
 * as they arrive.
 */
export async function subscribe(baseUrl: string, query = '', headers: Record<string, string> = { authorization: `Bearer ${DEMO_KEY}` }): Promise<EventStream> {
  const res = await new Promise<IncomingMessage>((resolve, reject) => get(`${baseUrl}/admin/events${query}`, { headers }, resolve).on('error', reject));
  const messages: TransitionMessage[] = [];
  let buffer = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    buffer += chunk;
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      for (const line of block.split('\n')) if (line.startsWith('data: ')) messages.push(JSON.parse(line.slice(6)) as TransitionMessage);
    }
  });
  const ended = new Promise<void>((resolve) => res.on('close', resolve));
  return { status: res.statusCode, type: res.headers['content-type'], messages, abort: () => res.destroy(), ended };
}
