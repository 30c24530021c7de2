import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { TransitionEvent } from '../../runtime/transaction-host.ts';
import type { TradeCenter } from '../../runtime/trade-center.ts';
import { TradeError } from '../../domain/errors.ts';
import { authenticate, authenticateStream } from '../auth.ts';
import { errorResponses, TxnParams } from '../schemas.ts';

/**
 * One event of `GET /admin/events`, sent as `data: <json>`: a journal entry of one transaction as
 * it happens (`at` in epoch ms, `actor` the actor that moved, `from`/`to` its state values).
 * The inspector page and `trade tail` read exactly this shape.
 */
export interface TransitionMessage extends TransitionEvent {
  type: 'transition';
}

export interface EventRoutesOptions {
  tc: TradeCenter;
  /** A comment line this often keeps proxies and idle timeouts from closing a quiet stream. */
  heartbeatMs?: number;
}

/**
 * Live and recorded transitions for operators (`admin` scope): `GET /admin/events`, Server-Sent
 * Events (the inspector page, `trade tail`), where the key may come as `?key=` because
 * EventSource cannot send headers; and one transaction's journal,
 * `GET /admin/transactions/{txnNo}/journal` (`trade inspect`, `trade viz`).
 *
 * The stream follows the store's feed when it has one (Redis: every process's saves, so a client
 * of any process sees them all, each once stored), else the host's event bus
 * (`tc.host.transitions`: SQLite, where this process makes every transition, each as it happens).
 */
export const eventRoutes: FastifyPluginAsyncTypebox<EventRoutesOptions> = async (app, { tc, heartbeatMs = 15_000 }) => {
  const open = new Set<ServerResponse>();
  let closing = false;
  // A stream never ends by itself: end them before the server waits for its connections to close.
  app.addHook('preClose', async () => {
    closing = true;
    for (const res of open) res.end();
  });

  app.get('/admin/events', {
    schema: {
      summary: 'Live transitions (Server-Sent Events); optional txnNo filter; key as Bearer header or ?key=',
      querystring: Type.Object(
        { txnNo: Type.Optional(Type.String({ maxLength: 64 })), key: Type.Optional(Type.String({ maxLength: 256 })) },
        { additionalProperties: false },
      ),
      response: errorResponses,
    },
    handler: async (req, reply) => {
      authenticateStream(tc.apiKeys, req, 'admin', req.query.key);
      const only = req.query.txnNo;
      const stop = new AbortController();
      // Fixed before the client hears it is subscribed: every save from then on reaches it.
      const feed = (await tc.store.follow?.(stop.signal)) ?? null;
      reply.hijack();
      const res = reply.raw;
      // The client left, or the server began closing, while the feed was being opened.
      if (res.destroyed || closing) {
        stop.abort();
        res.end();
        return;
      }
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      // The comment flushes the headers at once, so a client knows it is subscribed.
      res.write(': subscribed\nretry: 2000\n\n');
      open.add(res);
      const send = ({ txnNo, at, actor, event, data, from, to }: TransitionEvent) => {
        if ((only && txnNo !== only) || res.writableEnded) return;
        const message: TransitionMessage = { type: 'transition', txnNo, at, actor, event, data, from, to };
        res.write(`data: ${JSON.stringify(message)}\n\n`);
      };
      const subscription = feed ? null : tc.host.transitions.subscribe(send);
      if (feed) {
        void (async () => {
          for await (const event of feed) send(event);
        })().catch((err: unknown) => {
          req.log.warn({ err }, 'following the transition feed failed');
          res.end();
        });
      }
      const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), heartbeatMs);
      heartbeat.unref();
      res.on('close', () => {
        subscription?.unsubscribe();
        stop.abort();
        clearInterval(heartbeat);
        open.delete(res);
      });
    },
  });


  app.get('/admin/transactions/:txnNo/journal', {
    schema: {
      summary: "A transaction's journal: every transition of it and its child actors, oldest first",
      params: TxnParams,
      response: {
        200: Type.Object({
          entries: Type.Array(
            Type.Object({
              seq: Type.Integer(),
              at: Type.String({ format: 'date-time' }),
              actor: Type.String(),
              event: Type.String(),
              data: Type.Record(Type.String(), Type.Unknown()),
              from: Type.Unknown(),
              to: Type.Unknown(),
            }),
          ),
        }),
        ...errorResponses,
      },
    },
    handler: async (req) => {
      authenticate(tc.apiKeys, req, 'admin');
      const entries = await tc.store.journal(req.params.txnNo);
      if (entries.length === 0 && !(await tc.store.load(req.params.txnNo))) throw new TradeError('NOT_FOUND', `no transaction ${req.params.txnNo}`);
      return { entries: entries.map((e) => ({ ...e, at: new Date(e.at).toISOString() })) };
    },
  });
};
