import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { TradeError } from '../../domain/errors.ts';
import type { TradeCenter } from '../../runtime/trade-center.ts';
import { authenticate } from '../auth.ts';
import { errorResponses, TxnParams } from '../schemas.ts';

/** A comment line keeps idle connections (and proxies in between) from timing out. */
const HEARTBEAT_MS = 15_000;

/**
 * Live and recorded transitions for operators (`admin` scope): the server-sent event stream
 * `GET /admin/events` fed by the host's event bus (`trade tail`), and one transaction's journal
 * `GET /admin/transactions/{txnNo}/journal` (`trade inspect`, `trade viz`).
 */
export const eventRoutes: FastifyPluginAsyncTypebox<{ tc: TradeCenter }> = async (app, { tc }) => {
  const streams = new Set<ServerResponse>();
  // A stream never ends by itself: end them so closing the server does not wait for every tail.
  app.addHook('preClose', async () => {
    for (const res of streams) res.end();
  });

  app.get('/admin/events', {
    schema: {
      summary: 'Live transitions as server-sent events: each `data:` line is {type, txnNo, actor, event, from, to, at}',
      response: { 200: Type.String({ description: 'text/event-stream' }), ...errorResponses },
    },
    handler: async (req, reply) => {
      authenticate(tc.apiKeys, req, 'admin');
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write(': connected\n\n');
      streams.add(res);
      const subscription = tc.host.transitions.subscribe((t) => {
        const event = { type: 'transition', txnNo: t.txnNo, actor: t.actor, event: t.event, from: t.from, to: t.to, at: new Date(t.at).toISOString() };
        res.write(`data: ${JSON.stringify(event)}\n\n`);
      });
      const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
      heartbeat.unref();
      const end = () => {
        clearInterval(heartbeat);
        subscription.unsubscribe();
        streams.delete(res);
      };
      req.raw.once('close', end);
      res.once('close', end);
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
