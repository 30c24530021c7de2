import { createServer, request as httpRequest, type Server } from 'node:http';
import { freePort } from '../helpers/server-process.ts';

/** A tiny load balancer for tests: each request goes to the next target in turn. */
export interface RoundRobin {
  url: string;
  server: Server;
  /** Requests forwarded, by target origin. */
  forwarded: Map<string, number>;
  close(): Promise<void>;
}

/**
 * Forwards each request to the next of `targets()` in turn (502 when that one is down), so the
 * gateway's callbacks, and their duplicates, reach every platform process.
 */
export async function roundRobin(targets: () => string[]): Promise<RoundRobin> {
  let next = 0;
  const forwarded = new Map<string, number>();
  const server = createServer((req, res) => {
    const all = targets();
    const target = new URL(all[next++ % all.length]!);
    forwarded.set(target.origin, (forwarded.get(target.origin) ?? 0) + 1);
    const forward = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(forward);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    forwarded,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
