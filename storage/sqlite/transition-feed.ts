import type { FeedFollow, FeedGap, FeedTransition, StoredJournalEntry, TransitionFeed } from '../types.ts';
import type { SqliteHandle } from './handle.ts';
import { toJournalEntry, type JournalRow } from './journal.ts';

/** What `follow` reads the journal on with: its sequence numbers, as the cursors it issues. */
interface TxnJournalEntry extends StoredJournalEntry {
  txnNo: string;
}

/** Cursors of the SQLite feed: journal sequence numbers (below 2^53). */
const SEQ_CURSOR = '^[0-9]{1,15}$';
/** Journal rows read per query by a follower. */
const FEED_BATCH = 500;
/**
 * How often a follower looks at the journal when no save of this process woke it: the file may
 * have another writer (a `trade` command changing a transaction, or a server when the reader is
 * `trade tail`).
 */
export const DEFAULT_FEED_POLL_MS = 1_000;

/**
 * The journal itself is the feed, its sequence numbers the cursors: resuming is reading on from
 * the follower's cursor, one cursor, no merging of a replay with live events, hence no duplicate
 * and no hole. A follower reads again as soon as a commit of this file's handle is durable, and
 * every `pollMs` for other writers of the file. The journal is never trimmed: the only gap is a
 * cursor beyond its end (or none of this form).
 */
export class SqliteTransitionFeed implements TransitionFeed {
  readonly cursorPattern = SEQ_CURSOR;
  /** Follows under way (they end when their signal aborts): what a test checks nothing leaks. */
  followers = 0;
  private readonly stmts;

  constructor(
    private readonly handle: SqliteHandle,
    private readonly pollMs = DEFAULT_FEED_POLL_MS,
  ) {
    this.stmts = {
      // Prepared once: every follower reads the journal back after every commit.
      since: handle.db.prepare<[number, number], JournalRow & { txn_no: string }>('SELECT * FROM journal WHERE seq > ? ORDER BY seq LIMIT ?'),
      last: handle.db.prepare<[], { seq: number | null }>('SELECT max(seq) AS seq FROM journal'),
    };
  }

  async follow(signal: AbortSignal, after?: string): Promise<FeedFollow> {
    const last = this.lastSeq();
    let from = last;
    let gap: FeedGap | null = null;
    if (after !== undefined) {
      if (new RegExp(SEQ_CURSOR).test(after) && Number(after) <= last) from = Number(after);
      else gap = { reason: 'unknown', resumedAfter: String(last) };
    }
    const read = async function* (this: SqliteTransitionFeed): AsyncGenerator<FeedTransition> {
      this.followers++;
      try {
        while (!signal.aborted) {
          const seen = this.handle.commits;
          const rows = this.since(from, FEED_BATCH);
          for (const { seq, ...entry } of rows) {
            from = seq;
            yield { ...entry, cursor: String(seq) };
            if (signal.aborted) return;
          }
          if (rows.length < FEED_BATCH) await this.nextCommit(seen, signal);
        }
      } finally {
        this.followers--;
      }
    }.call(this);
    return Object.assign(read, { gap });
  }

  private since(afterSeq: number, limit: number): TxnJournalEntry[] {
    return this.stmts.since.all(afterSeq, limit).map((r) => ({ ...toJournalEntry(r), txnNo: r.txn_no }));
  }

  private lastSeq(): number {
    return this.stmts.last.get()?.seq ?? 0;
  }

  /** Resolves once a commit after the `seen`-th is durable, after `pollMs`, or on abort. */
  private nextCommit(seen: number, signal: AbortSignal): Promise<void> {
    if (this.handle.commits !== seen || signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.handle.onDurable.delete(done);
        resolve();
      };
      const timer = setTimeout(done, this.pollMs);
      signal.addEventListener('abort', done, { once: true });
      this.handle.onDurable.add(done);
    });
  }
}
