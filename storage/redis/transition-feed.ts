import type { FeedFollow, FeedGap, FeedTransition, JournalEntry, TransitionFeed } from '../types.ts';
import { connectRedis, type RedisHandle } from './handle.ts';

/**
 * Saves kept in the transition feed at most, by default: its memory bound whatever the pace. A
 * save takes about 670 bytes of Redis memory there (a stored-value sale makes about ten saves:
 * measured by bench/archive-flat-memory.ts with TRADE_BENCH_CENSUS=1), so some 13 MB.
 */
export const DEFAULT_FEED_MAX_LEN = 20_000;

/**
 * How long the feed keeps a save by default, ms: what its readers need to resume, which is a
 * reconnect (an SSE client's retry, `trade tail` after a dropped connection: seconds), with a
 * margin. A reader away longer is told of a gap and goes on live. At a steady pace the feed so
 * holds this window's saves, not a cap's worth: at 100 saves a second, 6,000 (about 4 MB).
 */
export const DEFAULT_FEED_KEEP_MS = 60_000;

/**
 * A cursor of the Redis feed: a stream id (`<ms>-<seq>`) of a save, with `/<n>` while inside it
 * (the first n of its transitions were had). Each part at most 19 digits, so that every cursor
 * the pattern admits is an id Redis accepts (below 2^64).
 */
const FEED_CURSOR = '^[0-9]{1,19}-[0-9]{1,19}(/[1-9][0-9]{0,8})?$';

/** Where to resume the feed: after the save `feedId`, or after its first `seen` transitions. */
interface FeedPosition {
  feedId: string;
  seen?: number;
}

/** How long one blocking read of the feed waits before it asks again, ms. */
const FEED_BLOCK_MS = 10_000;

/** What a save appends to the transition feed: its journal entries, already JSON. */
export interface SavedTransitions {
  txnNo: string;
  entries: string;
}

/**
 * Appends a stored save's journal entries to the feed without waiting for Redis to answer. A
 * failed append is logged, never thrown: the save is stored and acknowledged, and its journal
 * is the record; the feed only serves live views.
 */
export function publishSave(h: RedisHandle, feed: SavedTransitions): void {
  h.redis.tcFeedAppend(h.idx('feed'), h.options.feedMaxLen ?? DEFAULT_FEED_MAX_LEN, h.options.feedKeepMs ?? DEFAULT_FEED_KEEP_MS, feed.txnNo, feed.entries).catch((err: unknown) => {
    h.options.log?.warn({ err, txnNo: feed.txnNo }, 'appending to the transition feed failed');
  });
}

/**
 * The transition feed on Redis: `tc:{idx}:feed`, a stream in the index slot holding the saves of
 * the last {@link RedisStoreOptions.feedKeepMs} and at most {@link RedisStoreOptions.feedMaxLen}
 * of them (scripts.ts FEED_APPEND), that live views of every process follow
 * (`GET /admin/events`, `trade tail --redis`). Once a save is stored, one script appends its journal
 * entries as one entry (`t` the txnNo, `j` the entries as a JSON array), sent without waiting for
 * its answer. It cannot join the save script (another slot), so a process that dies in between,
 * or an append that fails, leaves a save out of the feed but never out of its transaction's
 * journal, which stays the record.
 */
export class RedisTransitionFeed implements TransitionFeed {
  readonly cursorPattern = FEED_CURSOR;

  constructor(private readonly h: RedisHandle) {}

  /**
   * Follows the transition feed (see the class comment) with `XREAD BLOCK` on a connection of
   * its own, since a blocked connection serves nobody else; the connection closes when `signal`
   * aborts or the caller stops iterating.
   */
  async follow(signal: AbortSignal, cursor?: string): Promise<FeedFollow> {
    const key = this.h.idx('feed');
    const from = cursor === undefined ? undefined : feedPosition(cursor);
    const start = from === null ? await this.noSuchPlace(key) : from ? await this.resumeFeed(key, from) : { after: (await this.h.redis.xrevrange(key, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0', rest: [], gap: null };
    let after = start.after;
    // Named, so that CLIENT LIST tells an operator (and a test) what holds the connection.
    const reader = connectRedis(this.h.options.url, this.h.options.cluster ?? false, { ...this.h.options.redis, lazyConnect: true, enableAutoPipelining: false, connectionName: `${this.h.prefix}:feed` });
    reader.on('error', (err: unknown) => this.h.options.log?.debug({ err }, 'transition feed connection'));
    const close = () => reader.disconnect();
    signal.addEventListener('abort', close, { once: true });
    async function* read(): AsyncGenerator<FeedTransition> {
      try {
        yield* start.rest;
        while (!signal.aborted) {
          // Closing the connection is how an abort ends a read that is blocked.
          const reply = await reader.xread('COUNT', 500, 'BLOCK', FEED_BLOCK_MS, 'STREAMS', key, after).catch((err: unknown) => {
            if (signal.aborted) return null;
            throw err;
          });
          for (const [id, fields] of reply?.[0]?.[1] ?? []) {
            after = id;
            yield* feedEntries(id, fields);
          }
        }
      } finally {
        signal.removeEventListener('abort', close);
        reader.disconnect();
      }
    }
    return Object.assign(read(), { gap: start.gap });
  }

  /**
   * Where following from `from` starts, and the rest of its save when the reader stopped inside
   * one. Trimming (`MAXLEN ~`, `MINID ~`) drops the oldest saves first, so while the save `from.feedId` is in
   * the feed everything after it is too and the resume is exact. Once it is gone, the saves after
   * it may be gone as well: that is a gap, unless `from` still lies inside the range the feed
   * keeps. The first kept id is all Redis tells of what was trimmed (`max-deleted-entry-id`
   * counts XDEL only), so a reader whose save was precisely the newest one trimmed is told of a
   * gap it did not have: told wrongly once, rather than never told of a real one. The check and
   * the first read are two commands; a trim in between would need a whole cap of saves in that
   * moment.
   */
  private async resumeFeed(key: string, from: FeedPosition): Promise<{ after: string; rest: FeedTransition[]; gap: FeedGap | null }> {
    const [kept] = await this.h.redis.xrange(key, from.feedId, from.feedId);
    if (kept) return { after: from.feedId, rest: from.seen === undefined ? [] : feedEntries(kept[0], kept[1]).slice(from.seen), gap: null };
    const info = await this.feedInfo(key);
    const last = info?.lastId ?? '0-0';
    const older = info?.firstId === undefined || compareStreamIds(from.feedId, info.firstId) < 0;
    const newer = compareStreamIds(from.feedId, last) > 0;
    const gap = (reason: FeedGap['reason']) => ({ after: last, rest: [], gap: { reason, resumedAfter: last } });
    if (newer) return gap('unknown');
    // Inside a save the feed no longer holds: the rest of that save is lost whatever came after.
    if (from.seen !== undefined) return gap(older ? 'trimmed' : 'unknown');
    if (!older || compareStreamIds(from.feedId, last) === 0) return { after: from.feedId, rest: [], gap: null };
    return gap('trimmed');
  }

  /** A cursor of another form than this feed issues: a gap, following from the latest save. */
  private async noSuchPlace(key: string): Promise<{ after: string; rest: FeedTransition[]; gap: FeedGap }> {
    const last = (await this.feedInfo(key))?.lastId ?? '0-0';
    return { after: last, rest: [], gap: { reason: 'unknown', resumedAfter: last } };
  }

  /** The feed's first kept and last added ids (`XINFO STREAM`); null when there is no feed yet. */
  private async feedInfo(key: string): Promise<{ firstId: string | undefined; lastId: string } | null> {
    let reply: unknown;
    try {
      reply = await this.h.redis.xinfo('STREAM', key);
    } catch (err) {
      if (err instanceof Error && /no such key/i.test(err.message)) return null;
      throw err;
    }
    const fields = new Map<string, unknown>();
    const flat = reply as unknown[];
    for (let i = 0; i + 1 < flat.length; i += 2) fields.set(String(flat[i]), flat[i + 1]);
    const first = fields.get('first-entry') as [string, string[]] | null | undefined;
    return { firstId: first?.[0], lastId: String(fields.get('last-generated-id') ?? '0-0') };
  }
}

/**
 * The transitions of one feed entry (`t` txnNo, `j` the save's journal entries as a JSON array).
 * A save's transitions share one stream id, so a cursor names the place *in* the save: the last
 * transition carries the id itself (resume after the whole save), an earlier one `<id>/<n>` (the
 * first n were had: resume with the rest). A follower cut off in the middle of a save then
 * neither misses its rest nor sees its start twice.
 */
function feedEntries(feedId: string, fields: string[]): FeedTransition[] {
  let txnNo = '';
  let entries: JournalEntry[] = [];
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] === 't') txnNo = fields[i + 1]!;
    else if (fields[i] === 'j') entries = JSON.parse(fields[i + 1]!) as JournalEntry[];
  }
  return entries.map((e, i) => ({ ...e, txnNo, cursor: i + 1 === entries.length ? feedId : `${feedId}/${i + 1}` }));
}

/** The place a cursor names, or null when it is none this feed issues. */
function feedPosition(cursor: string): FeedPosition | null {
  if (!new RegExp(FEED_CURSOR).test(cursor)) return null;
  const [feedId = '', seen] = cursor.split('/');
  return seen === undefined ? { feedId } : { feedId, seen: Number(seen) };
}

/** Orders two stream ids (`<ms>-<seq>`, each up to 2^64 - 1: too big for a number). */
function compareStreamIds(a: string, b: string): number {
  const [am = 0n, as = 0n] = a.split('-').map(BigInt);
  const [bm = 0n, bs = 0n] = b.split('-').map(BigInt);
  if (am !== bm) return am < bm ? -1 : 1;
  return as === bs ? 0 : as < bs ? -1 : 1;
}
