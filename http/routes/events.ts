import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { TransitionEvent } from '../../runtime/transaction-host.ts';
import type { TradeCenter } from '../../runtime/trade-center.ts';
import type { TransactionReads } from '../../runtime/transaction-reads.ts';
import { merchantsOf, noTransaction, visibleTo } from '../auth.ts';
import { errorResponses, TxnParams } from '../schemas.ts';

/**
 * One event of `GET /admin/events`, sent as `data: <json>`: a journal entry of one transaction once
 * stored (`at` in epoch ms, `actor` the actor that moved, `from`/`to` its state values).
 * The inspector page and `trade tail` read exactly this shape. Its SSE `id:` is where a client
 * resumes from (see {@link eventRoutes}).
 */
export interface TransitionMessage extends TransitionEvent {
  type: 'transition';
}

/**
 * Sent, once and first, to a client that asked to resume (`Last-Event-ID`) from where the stream
 * can no longer resume exactly: transitions after that id may be missing from the stream (each
 * transaction's journal still has them). The stream goes on live from here; the SSE `id:` of this
 * event is that new starting point, so a client that drops again is not told twice.
 */
export interface GapMessage {
  type: 'gap';
  /** The id the client asked to resume after. */
  lastEventId: string;
  /**
   * `trimmed`: older than the oldest place the (capped) feed keeps. `unknown`: not an id this
   * stream issued (another deployment's, or a store since replaced).
   */
  reason: 'trimmed' | 'unknown';
  /** When the stream resumed, epoch ms. */
  at: number;
}

/** What a `data:` line of `GET /admin/events` holds. */
export type EventMessage = TransitionMessage | GapMessage;

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
 * Every transition is sent once stored, with an SSE `id:`: the cursor the storage's transition
 * feed gave it, opaque here (the feed says which form its cursors take, so a malformed id is a
 * 400). A client that reconnects with the last id it had (the `Last-Event-ID` header, which
 * EventSource sends by itself, or `?lastEventId=`; the header wins, as EventSource keeps the URL
 * it was opened with) gets exactly what it missed, or a {@link GapMessage} first when the feed can
 * no longer replay that. Without an id the stream starts at the latest stored transition.
 */
export const eventRoutes: FastifyPluginAsyncTypebox<EventRoutesOptions> = async (app, { tc, heartbeatMs = 15_000 }) => {
  const open = new Set<ServerResponse>();
  let closing = false;
  // A stream never ends by itself: end them before the server waits for its connections to close.
  app.addHook('preClose', async () => {
    closing = true;
    for (const res of open) res.end();
  });
  const feed = tc.storage.feed;
  const EventId = Type.String({
    pattern: feed.cursorPattern,
    description: 'the `id:` of the last event the client had: the stream resumes after it',
  });

  app.get('/admin/events', {
    config: { scope: 'admin', keyInQuery: true },
    schema: {
      summary: 'Live transitions (Server-Sent Events), resumable with Last-Event-ID; optional txnNo filter; key as Bearer header or ?key=',
      querystring: Type.Object(
        {
          txnNo: Type.Optional(Type.String({ maxLength: 64 })),
          key: Type.Optional(Type.String({ maxLength: 256 })),
          lastEventId: Type.Optional(EventId),
        },
        { additionalProperties: false },
      ),
      headers: Type.Object({ 'last-event-id': Type.Optional(EventId) }),
      response: errorResponses,
    },
    handler: async (req, reply) => {
      const only = req.query.txnNo;
      // A transaction the key may not see is as unknown to the stream as one that does not exist.
      if (only !== undefined) {
        const record = await tc.reads.record(only);
        if (!record || !visibleTo(req, record.merchantId)) throw noTransaction(only);
      }
      const shown = merchantScope(tc.reads, merchantsOf(req));
      const header = req.headers['last-event-id'];
      const lastEventId = typeof header === 'string' ? header : req.query.lastEventId;
      const stop = new AbortController();
      // Fixed before the client hears it is subscribed: every transition stored from then on reaches it.
      const source = await feed.follow(stop.signal, lastEventId);
      reply.hijack();
      const res = reply.raw;
      // The client left, or the server began closing, while the source was being opened.
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
      const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), heartbeatMs);
      heartbeat.unref();
      res.on('close', () => {
        stop.abort();
        clearInterval(heartbeat);
        open.delete(res);
      });
      const send = async (id: string, message: EventMessage) => {
        if (res.writableEnded) return;
        // A client resuming from far back gets its backlog at the pace it reads, not into memory.
        if (!res.write(`id: ${id}\ndata: ${JSON.stringify(message)}\n\n`)) await once(res, 'drain', { signal: stop.signal }).catch(() => undefined);
      };
      const sendTransition = async (id: string, t: TransitionEvent) => {
        if (only ? t.txnNo !== only : !(await shown(t.txnNo))) return;
        await send(id, { type: 'transition', txnNo: t.txnNo, at: t.at, actor: t.actor, event: t.event, data: t.data, from: t.from, to: t.to });
      };
      const failed = (err: unknown) => {
        if (stop.signal.aborted) return;
        req.log.warn({ err }, 'following transitions failed');
        res.end();
      };
      if (source.gap && lastEventId) await send(source.gap.resumedAfter, { type: 'gap', lastEventId, reason: source.gap.reason, at: tc.clock.now() });
      // The client may have gone while the gap was being sent: then there is nothing to listen for.
      if (stop.signal.aborted) return;
      void (async () => {
        for await (const e of source) await sendTransition(e.cursor, e);
      })().catch(failed);
    },
  });

  app.get('/admin/transactions/:txnNo/journal', {
    config: { scope: 'admin' },
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
      const record = await tc.reads.record(req.params.txnNo);
      if (!record || !visibleTo(req, record.merchantId)) throw noTransaction(req.params.txnNo);
      const entries = await tc.reads.journal(req.params.txnNo);
      return { entries: entries.map((e) => ({ ...e, at: new Date(e.at).toISOString() })) };
    },
  });
};

/** Transactions looked up per stream before the oldest merchant is forgotten. */
const MERCHANT_CACHE = 10_000;

/**
 * Whether a transition of `txnNo` goes to a stream limited to `merchants` (null: every merchant).
 * A transaction never changes merchant, so each is looked up once per stream; the cache is
 * bounded because a stream may run for days.
 */
function merchantScope(reads: Pick<TransactionReads, 'record'>, merchants: string[] | null): (txnNo: string) => Promise<boolean> {
  if (!merchants) return async () => true;
  const known = new Map<string, boolean>();
  return async (txnNo) => {
    const cached = known.get(txnNo);
    if (cached !== undefined) return cached;
    const merchantId = (await reads.record(txnNo))?.merchantId;
    // A transition is streamed once its save is stored, so this does not happen; not remembered in case.
    if (merchantId === undefined) return false;
    const shown = merchants.includes(merchantId);
    const oldest = known.keys().next();
    if (known.size >= MERCHANT_CACHE && !oldest.done) known.delete(oldest.value);
    known.set(txnNo, shown);
    return shown;
  };
}
