import { createConnection, createServer, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a server, for dropping a client's connection the way a network does:
 * the client sees its stream cut, not a server closing it politely.
 */
export interface TcpProxy {
  /** `http://127.0.0.1:<port>`: what the client connects to. */
  url: string;
  /** Destroys every connection through the proxy, both ends. */
  cut(): void;
  /** Connections made from now on wait, unanswered, until {@link release}: the client stays away. */
  hold(): void;
  /** Lets held and later connections through. */
  release(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let held: Socket[] | null = null;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const forward = (client: Socket) => {
    if (client.destroyed) return;
    const upstream = createConnection({ host: hostname, port: Number(port) });
    track(upstream);
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  };
  const server = createServer((client) => {
    track(client);
    if (held) held.push(client);
    else forward(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const listening = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${listening}`,
    cut: () => {
      for (const socket of sockets) socket.destroy();
    },
    hold: () => {
      held ??= [];
    },
    release: () => {
      const waiting = held ?? [];
      held = null;
      for (const client of waiting) forward(client);
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
