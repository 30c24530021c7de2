import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { TransitionEvent } from '../../runtime/transaction-host.ts';
import type { TradeCenter } from '../../runtime/trade-center.ts';
import type { FeedFollow, FeedGap, FeedPosition, FeedTransition, TransactionStore, TxnJournalEntry } from '../../storage/types.ts';
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
   * `trimmed`: older than the oldest save the capped Redis feed keeps. `unknown`: not an id this
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
 * An id on the Redis stream: a feed id (`<ms>-<seq>`), with `/<n>` while inside a save. Each part
 * at most 19 digits, so that every id the pattern admits is one Redis accepts (below 2^64).
 */
const FEED_EVENT_ID = '^[0-9]{1,19}-[0-9]{1,19}(/[1-9][0-9]{0,8})?$';
/** An id on the SQLite stream: a journal sequence number. */
const JOURNAL_EVENT_ID = '^[0-9]{1,15}$';
/** Journal rows read back per query on SQLite. */
const JOURNAL_BATCH = 500;

/**
 * Live and recorded transitions for operators (`admin` scope): `GET /admin/events`, Server-Sent
 * Events (the inspector page, `trade tail`), where the key may come as `?key=` because
 * EventSource cannot send headers; and one transaction's journal,
 * `GET /admin/transactions/{txnNo}/journal` (`trade inspect`, `trade viz`).
 *
 * Every transition is sent once stored, with an SSE `id:`; a client that reconnects with the last
 * id it had (the `Last-Event-ID` header, which EventSource sends by itself, or `?lastEventId=`;
 * the header wins, as EventSource keeps the URL it was opened with) gets exactly what it missed,
 * or a {@link GapMessage} first when that can no longer be replayed. An id of the wrong form is a
 * 400. Without an id the stream starts at the latest stored transition.
 *
 * - Redis: the store's feed of every process's saves (a client of any process sees them all). A
 *   save's transitions share one feed id, so the id names the place *in* the save: the last
 *   transition of a save carries the feed id itself (resume after the whole save), an earlier
 *   one `<feedId>/<n>` (the first n of it were had: resume with the rest). A client cut off in
 *   the middle of a save then neither misses its rest nor sees its start twice, and the common
 *   id is the plain feed id. The feed is capped: resuming from a save it has trimmed is a gap.
 * - SQLite: the journal itself, ids its sequence numbers. This process makes every transition;
 *   on each save the host reports stored (`tc.host.journalled`), the stream reads the journal on
 *   from the last sequence number it sent, so resuming is the same read from the client's id:
 *   one cursor, no merging of a replay with live events, hence no duplicate and no hole. The
 *   host's event bus (`tc.host.transitions`) would be earlier, but it runs before the save
 *   commits and carries no sequence number to resume from. The journal is never trimmed: the only
 *   gap is an id beyond its end.
 */
export const eventRoutes: FastifyPluginAsyncTypebox<EventRoutesOptions> = async (app, { tc, heartbeatMs = 15_000 }) => {
  const open = new Set<ServerResponse>();
  let closing = false;
  // A stream never ends by itself: end them before the server waits for its connections to close.
  app.addHook('preClose', async () => {
    closing = true;
    for (const res of open) res.end();
  });
  const follow = tc.store.follow?.bind(tc.store);
  const journal = journalReader(tc.store);
  const openSource = follow
    ? (signal: AbortSignal, lastEventId: string | undefined) => openFeed(follow, signal, lastEventId)
    : journal
      ? (_signal: AbortSignal, lastEventId: string | undefined) => openJournal(journal, lastEventId)
      : null;
  if (!openSource) throw new Error('the event stream needs a store with a feed or a journal in sequence');
  const EventId = Type.String({
    pattern: follow ? FEED_EVENT_ID : JOURNAL_EVENT_ID,
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
        const record = await tc.store.load(only);
        if (!record || !visibleTo(req, record.merchantId)) throw noTransaction(only);
      }
      const shown = merchantScope(tc.store, merchantsOf(req));
      const header = req.headers['last-event-id'];
      const lastEventId = typeof header === 'string' ? header : req.query.lastEventId;
      const stop = new AbortController();
      // Fixed before the client hears it is subscribed: every transition stored from then on reaches it.
      const source = await openSource(stop.signal, lastEventId);
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
      let subscription: { unsubscribe(): void } | null = null;
      const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), heartbeatMs);
      heartbeat.unref();
      res.on('close', () => {
        subscription?.unsubscribe();
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
      if (source.kind === 'feed') {
        void (async () => {
          for await (const e of source.feed) await sendTransition(feedEventId(e), e);
        })().catch(failed);
      } else {
        const drain = journalDrain(source.journal, source.after, stop.signal, (e) => sendTransition(String(e.seq), e));
        // Saves stored since the start was read have cued nobody yet: the first drain takes them.
        subscription = tc.host.journalled.subscribe(() => void drain().catch(failed));
        void drain().catch(failed);
      }
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
      const record = await tc.store.load(req.params.txnNo);
      if (!record || !visibleTo(req, record.merchantId)) throw noTransaction(req.params.txnNo);
      const entries = await tc.store.journal(req.params.txnNo);
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
function merchantScope(store: TransactionStore, merchants: string[] | null): (txnNo: string) => Promise<boolean> {
  if (!merchants) return async () => true;
  const known = new Map<string, boolean>();
  return async (txnNo) => {
    const cached = known.get(txnNo);
    if (cached !== undefined) return cached;
    const merchantId = (await store.load(txnNo))?.merchantId;
    // A transition is streamed once its save is stored, so this does not happen; not remembered in case.
    if (merchantId === undefined) return false;
    const shown = merchants.includes(merchantId);
    const oldest = known.keys().next();
    if (known.size >= MERCHANT_CACHE && !oldest.done) known.delete(oldest.value);
    known.set(txnNo, shown);
    return shown;
  };
}

/** Where one stream's transitions come from, fixed before it answers. */
type StreamSource =
  | { kind: 'feed'; feed: FeedFollow; gap: FeedGap | null }
  | { kind: 'journal'; journal: JournalReader; after: number; gap: FeedGap | null };

/** What the stream needs of a store without a feed: its journal in sequence. */
interface JournalReader {
  since(afterSeq: number, limit: number): Promise<TxnJournalEntry[]>;
  last(): Promise<number>;
}

/** The store's journal in sequence, or null when it cannot be read so (then it must have a feed). */
function journalReader(store: TransactionStore): JournalReader | null {
  const { journalSince, lastJournalSeq } = store;
  if (!journalSince || !lastJournalSeq) return null;
  return { since: (afterSeq, limit) => journalSince.call(store, afterSeq, limit), last: () => lastJournalSeq.call(store) };
}

/** Redis: follows the feed from the client's place, parsed from the id {@link feedEventId} gave it. */
async function openFeed(follow: NonNullable<TransactionStore['follow']>, signal: AbortSignal, lastEventId: string | undefined): Promise<StreamSource> {
  let from: FeedPosition | undefined;
  if (lastEventId) {
    const [feedId = '', seen] = lastEventId.split('/');
    from = seen === undefined ? { feedId } : { feedId, seen: Number(seen) };
  }
  const feed = await follow(signal, from);
  return { kind: 'feed', feed, gap: feed.gap };
}

/** The SSE id of a transition of the feed (see {@link eventRoutes}: Redis). */
function feedEventId(e: FeedTransition): string {
  return e.feedIndex + 1 === e.feedCount ? e.feedId : `${e.feedId}/${e.feedIndex + 1}`;
}

/** SQLite: the journal sequence number to read on from. */
async function openJournal(journal: JournalReader, lastEventId: string | undefined): Promise<StreamSource> {
  const last = await journal.last();
  if (!lastEventId) return { kind: 'journal', journal, after: last, gap: null };
  const seq = Number(lastEventId);
  // Sequence numbers are never reused and journal rows never deleted: only an id beyond the end is unknown.
  if (seq > last) return { kind: 'journal', journal, after: last, gap: { reason: 'unknown', resumedAfter: String(last) } };
  return { kind: 'journal', journal, after: seq, gap: null };
}

/**
 * Reads the journal on from `after`, each entry once, in order, whenever called: calls made while
 * a read runs (saves stored meanwhile) fold into one more pass after it, so the cursor has one owner.
 */
function journalDrain(journal: JournalReader, after: number, signal: AbortSignal, deliver: (e: TxnJournalEntry) => Promise<void> | undefined): () => Promise<void> {
  let running = false;
  let again = false;
  return async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        for (;;) {
          const entries = await journal.since(after, JOURNAL_BATCH);
          for (const e of entries) {
            if (signal.aborted) return;
            after = e.seq;
            await deliver(e);
          }
          if (entries.length < JOURNAL_BATCH) break;
        }
      } while (again && !signal.aborted);
    } finally {
      running = false;
    }
  };
}
