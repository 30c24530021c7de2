import type { TaskSpec } from '../../machines/task-spec.ts';
import type { DueTimer, FinalTransaction, JournalEntry, SaveRecord, SaveResult, SnapshotStore, StoredJournalEntry, TaskRecord, TransactionRecord } from '../types.ts';
import { IndexWrites, parseRecord, SEP, type RedisHandle } from './handle.ts';
import type { OsEventBody, RedisOsOutbox } from './os-outbox.ts';
import { specOf } from './task-store.ts';
import { publishSave, type SavedTransitions } from './transition-feed.ts';

/** The index entries one record calls for, as this process last wrote them. */
interface Indexed {
  version: number;
  state: string;
  orderNo: string | null;
  working: boolean;
  active: boolean;
  timers: Record<string, number>;
  attention: boolean;
  finalAt: number | null;
}

type SaveReply = (string | number)[] | { actual: number | null };

/**
 * Snapshots on Redis: the transaction's hash, written by the save script (version compare-and-set,
 * journal, new tasks) with its index entries around it (see {@link RedisHandle}), and its journal
 * handed to the transition feed once stored.
 */
export class RedisSnapshotStore implements SnapshotStore {
  constructor(private readonly h: RedisHandle, private readonly os: RedisOsOutbox) {}

  /** OS event ids known to be stored, per transaction. Bounded. */
  private readonly knownEvents = new Map<string, Set<string>>();

  async save(record: SaveRecord, expectedVersion: number, journal: JournalEntry[]): Promise<SaveResult> {
    const txnNo = record.txnNo;
    const attention = record.needsAttention;
    const fields: (string | number)[] = [
      'merchantId', record.merchantId,
      'stationId', record.stationId,
      'orderNo', record.orderNo ?? '',
      'state', record.state,
      'stateValue', JSON.stringify(record.stateValue),
      'snapshot', JSON.stringify(record.snapshot),
      'atRest', record.atRest ? 1 : 0,
      'working', record.working ? 1 : 0,
      'timers', JSON.stringify(record.timers),
      'attention', attention ? 1 : 0,
      'finalAt', record.finalAt ?? '',
      'createdAt', record.createdAt,
      'updatedAt', record.updatedAt,
    ];
    // Tasks this process knows to be stored need not travel again (the script never replaces one).
    const known = this.knownTasks.get(txnNo);
    const fresh = record.tasks.filter((t) => !known?.has(t.task));
    // The save script's KEYS (scripts.ts SAVE): txn, journal, task list, quote, OS events, then the new tasks.
    const keys = [this.h.k(txnNo, 'txn'), this.h.k(txnNo, 'journal'), this.h.k(txnNo, 'tasks'), this.h.k(txnNo, 'quote'), this.os.txnKey(txnNo), ...fresh.map((t) => this.h.taskKey(txnNo, t.task))];
    const args: (string | number)[] = [expectedVersion, fields.length / 2, ...fields, fresh.length];
    for (const t of fresh) args.push(t.task, JSON.stringify(specOf(t)));
    // OS events likewise: stored with the snapshot in the transaction's slot, then published to the station's.
    const knownEvents = this.knownEvents.get(txnNo);
    const freshEvents = record.osEvents.filter((e) => !knownEvents?.has(e.eventId));
    args.push(freshEvents.length);
    for (const e of freshEvents) {
      const body: OsEventBody = { ...e, txnNo, stationId: record.stationId, at: record.updatedAt };
      args.push(e.eventId, JSON.stringify(body));
    }
    const entries = journal.map((j) => JSON.stringify(j));
    args.push(...entries);
    const feed: SavedTransitions | null = entries.length ? { txnNo, entries: `[${entries.join(',')}]` } : null;

    const want: Indexed = { version: 0, state: record.state, orderNo: record.orderNo, working: record.working && !record.atRest, active: !record.atRest, timers: record.timers, attention, finalAt: record.finalAt };
    const base = this.indexed.get(txnNo);
    const reply =
      base && base.version === expectedVersion
        ? await this.saveKnown(txnNo, record, base, want, fresh, freshEvents.length > 0, keys, args, feed)
        : await this.saveFull(txnNo, record, want, fresh, freshEvents.length > 0, keys, args, feed);
    if (!Array.isArray(reply)) {
      this.indexed.delete(txnNo);
      return { ok: false, conflict: true, actualVersion: reply.actual };
    }
    const version = Number(reply[1]);
    // A task stored before this save keeps its own schedule, which the NX add may have disturbed.
    const insertedTasks = Number(reply[5]);
    const inserted = new Set(reply.slice(6, 6 + insertedTasks).map(String));
    if (freshEvents.length) {
      // Published before the save is acknowledged; a crash in between is the repair pass's.
      const stored = reply.slice(6 + insertedTasks).map(String);
      const pairs: [string, string][] = [];
      for (let i = 0; i + 1 < stored.length; i += 2) pairs.push([stored[i]!, stored[i + 1]!]);
      await this.os.publishSaved(txnNo, record.stationId, pairs);
      if (this.knownEvents.size > 10_000) this.knownEvents.clear();
      this.knownEvents.set(txnNo, new Set(record.osEvents.map((e) => e.eventId)));
    }
    const existing = fresh.filter((t) => !inserted.has(t.task)).map((t) => t.task);
    if (existing.length) await this.h.reindexTasks(txnNo, existing);
    this.rememberTasks(txnNo, record.tasks);
    if (this.indexed.size > 10_000) this.indexed.clear();
    this.indexed.set(txnNo, { ...want, version });
    return { ok: true, version };
  }

  /** What this process last wrote to the indexes for a transaction, at which version. Bounded. */
  private readonly indexed = new Map<string, Indexed>();

  /**
   * The save script's reply on success, or the version the store holds on a conflict. A stored
   * save's journal goes to the feed as soon as the reply is in, before the index writes after it.
   */
  private async runSave(keys: string[], args: (string | number)[], feed: SavedTransitions | null): Promise<SaveReply> {
    const reply = await this.h.redis.tcSave(keys.length, ...keys, ...args);
    if (reply[0] !== 1) return { actual: reply[1] === -1 ? null : Number(reply[1]) };
    if (feed) publishSave(this.h, feed);
    return reply;
  }

  /** First write of a transaction by this process: every index entry it calls for (see the class comment). */
  private async saveFull(txnNo: string, record: SaveRecord, want: Indexed, fresh: TaskSpec[], newEvents: boolean, keys: string[], args: (string | number)[], feed: SavedTransitions | null): Promise<SaveReply> {
    // Intent first: the indexes learn of this write before it happens.
    const before = new IndexWrites(this.h.redis);
    before.zadd(this.h.idx('dirty'), record.updatedAt, txnNo);
    if (newEvents) this.os.intend(before, txnNo, record.updatedAt);
    this.h.addEntries(before, txnNo, record, want.attention);
    for (const t of fresh) before.zadd(this.h.idx('tasks'), 'NX', record.updatedAt, `${txnNo}${SEP}${t.task}`);
    const [, reply] = await Promise.all([before.exec(), this.runSave(keys, args, feed)]);
    if (!Array.isArray(reply)) {
      await this.h.reindex(txnNo);
      return reply;
    }
    const previousTimers = reply[2] ? (JSON.parse(String(reply[2])) as Record<string, number>) : {};
    const after = new IndexWrites(this.h.redis);
    this.h.removeStale(after, txnNo, record, previousTimers, String(reply[3]));
    // A first save of this process may be the one that replaced the transaction's quote record
    // (a save at version 0 replaces none: a checkout's first save, issue 21).
    if (record.state !== 'quoted' && args[0] !== 0) after.zrem(this.h.idx('quotes'), txnNo);
    after.zscore(this.h.idx('attention'), txnNo);
    after.zrem(this.h.idx('dirty'), txnNo);
    const results = await after.exec();
    // Attention also comes from dead tasks and the sentinel: reindexAttention weighs all three.
    if (results.at(-2) !== null && !want.attention) await this.h.reindexAttention(txnNo);
    return reply;
  }

  /**
   * A write after this process's own last write (the compare-and-set proves nobody wrote in
   * between): only the index entries that change are touched, most saves none at all.
   */
  private async saveKnown(txnNo: string, record: SaveRecord, base: Indexed, want: Indexed, fresh: TaskSpec[], newEvents: boolean, keys: string[], args: (string | number)[], feed: SavedTransitions | null): Promise<SaveReply> {
    const adds: [string, number, string][] = [];
    const removals: [string, string][] = [];
    if (base.state !== want.state) {
      adds.push([this.h.idx(`state:${want.state}`), 0, txnNo]);
      removals.push([this.h.idx(`state:${base.state}`), txnNo]);
      this.h.noteState(want.state);
    }
    if (want.working && !base.working) adds.push([this.h.idx('working'), record.updatedAt, txnNo]);
    if (base.working && !want.working) removals.push([this.h.idx('working'), txnNo]);
    if (want.active && !base.active) adds.push([this.h.idx('active'), record.updatedAt, txnNo]);
    if (base.active && !want.active) removals.push([this.h.idx('active'), txnNo]);
    for (const [name, due] of Object.entries(want.timers)) if (base.timers[name] !== due) adds.push([this.h.idx('timers'), due, `${txnNo}${SEP}${name}`]);
    for (const [name, due] of Object.entries(base.timers)) if (want.timers[name] !== due) removals.push([this.h.idx('timers'), `${txnNo}${SEP}${name}`]);
    if (want.attention && !base.attention) adds.push([this.h.idx('attention'), 0, txnNo]);
    if (want.finalAt !== null && want.finalAt !== base.finalAt) adds.push([this.h.idx('final'), want.finalAt, txnNo]);
    if (want.finalAt === null && base.finalAt !== null) removals.push([this.h.idx('final'), txnNo]);
    const newOrderNo = want.orderNo !== base.orderNo ? want.orderNo : null;
    const orderChanged = newOrderNo !== null;
    const indexChanges = adds.length + removals.length + fresh.length > 0 || orderChanged;
    const before = new IndexWrites(this.h.redis);
    if (indexChanges) before.zadd(this.h.idx('dirty'), record.updatedAt, txnNo);
    for (const [key, score, member] of adds) before.zadd(key, score, member);
    for (const t of fresh) before.zadd(this.h.idx('tasks'), 'NX', record.updatedAt, `${txnNo}${SEP}${t.task}`);
    if (newOrderNo !== null) before.hset(this.h.idx('orders'), newOrderNo, txnNo);
    if (newEvents) this.os.intend(before, txnNo, record.updatedAt);
    // The idle scan reads this score: kept fresh, though a stale one would only make it look again.
    if (want.active && base.active) before.zadd(this.h.idx('active'), 'XX', record.updatedAt, txnNo);
    const [, reply] = await Promise.all([before.exec(), this.runSave(keys, args, feed)]);
    if (!Array.isArray(reply)) {
      await this.h.reindex(txnNo);
      return reply;
    }
    if (indexChanges) {
      // Sent now (an explicit pipeline, see IndexWrites), not waited for: every later command on
      // the index slot (the next save's own writes, any reader's MULTI) comes after them, and a removal lost with its connection only leaves
      // an entry too many and the transaction dirty, which the repair pass puts right.
      const after = new IndexWrites(this.h.redis, true);
      for (const [key, member] of removals) after.zrem(key, member);
      after.zrem(this.h.idx('dirty'), txnNo);
      void after.exec().catch((err: unknown) => this.h.options.log?.warn({ err, txnNo }, 'removing stale index entries failed: the repair pass will'));
    }
    if (base.attention && !want.attention) await this.h.reindexAttention(txnNo);
    return reply;
  }

  /** Task names known to be stored, per transaction: only new ones need index entries. Bounded. */
  private readonly knownTasks = new Map<string, Set<string>>();

  private rememberTasks(txnNo: string, tasks: TaskSpec[]): void {
    if (!tasks.length) return;
    if (this.knownTasks.size > 10_000) this.knownTasks.clear();
    this.knownTasks.set(txnNo, new Set(tasks.map((t) => t.task)));
  }

  async load(txnNo: string): Promise<TransactionRecord | null> {
    return parseRecord(txnNo, await this.h.redis.hgetall(this.h.k(txnNo, 'txn')));
  }

  async findTxnNoByOrderNo(orderNo: string): Promise<string | null> {
    const txnNo = await this.h.redis.hget(this.h.idx('orders'), orderNo);
    if (!txnNo) return null;
    // The pointer is written before the record: trust it once the record says the same.
    return (await this.h.redis.hget(this.h.k(txnNo, 'txn'), 'orderNo')) === orderNo ? txnNo : null;
  }

  async dueTimers(nowMs: number, limit: number): Promise<DueTimer[]> {
    const raw = await this.h.redis.zrangebyscore(this.h.idx('timers'), '-inf', nowMs, 'WITHSCORES', 'LIMIT', 0, limit * 2);
    const candidates: DueTimer[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const [txnNo, name] = raw[i]!.split(SEP) as [string, string];
      candidates.push({ txnNo, name, dueAt: Number(raw[i + 1]) });
    }
    const timersOf = await this.timersOf([...new Set(candidates.map((c) => c.txnNo))]);
    const due: DueTimer[] = [];
    for (const c of candidates) {
      if (timersOf.get(c.txnNo)?.[c.name] === c.dueAt) due.push(c);
      else await this.h.redis.tcZremIfScore(this.h.idx('timers'), `${c.txnNo}${SEP}${c.name}`, c.dueAt);
    }
    return due.slice(0, limit);
  }

  private async timersOf(txnNos: string[]): Promise<Map<string, Record<string, number>>> {
    const rows = await Promise.all(txnNos.map((t) => this.h.redis.hget(this.h.k(t, 'txn'), 'timers')));
    return new Map(txnNos.map((t, i) => [t, JSON.parse(rows[i] ?? '{}') as Record<string, number>]));
  }

  async needingWork(nowMs: number, limit: number): Promise<string[]> {
    const working = await this.h.redis.zrange(this.h.idx('working'), 0, limit - 1);
    const flags = await Promise.all(working.map((t) => this.h.redis.hmget(this.h.k(t, 'txn'), 'working', 'atRest')));
    const out = new Set(working.filter((_, i) => flags[i]?.[0] === '1' && flags[i]?.[1] === '0'));
    for (const timer of await this.dueTimers(nowMs, limit)) out.add(timer.txnNo);
    return [...out].slice(0, limit);
  }

  async finalTransactions(finalBefore: number, limit: number, after: FinalTransaction | null): Promise<FinalTransaction[]> {
    const out: FinalTransaction[] = [];
    let offset = 0;
    while (out.length < limit) {
      const raw = await this.h.redis.zrangebyscore(this.h.idx('final'), after ? after.finalAt : '-inf', finalBefore, 'WITHSCORES', 'LIMIT', offset, limit * 2);
      if (!raw.length) break;
      offset += raw.length / 2;
      const page: { txnNo: string; finalAt: number }[] = [];
      for (let i = 0; i < raw.length; i += 2) {
        const entry = { txnNo: raw[i]!, finalAt: Number(raw[i + 1]) };
        if (after && entry.finalAt === after.finalAt && entry.txnNo <= after.txnNo) continue;
        page.push(entry);
      }
      // An index lists too much, never too little: each entry is checked against its record.
      const rows = await Promise.all(page.map((e) => this.h.redis.hmget(this.h.k(e.txnNo, 'txn'), 'version', 'finalAt')));
      page.forEach((e, i) => {
        const [version, finalAt] = rows[i] ?? [];
        if (version && finalAt && Number(finalAt) === e.finalAt && out.length < limit) out.push({ txnNo: e.txnNo, version: Number(version), finalAt: e.finalAt });
      });
    }
    return out;
  }

  async removeArchived(txnNo: string, version: number): Promise<boolean> {
    // The order's OS events go too (nothing of an archived transaction stays in Redis), once they
    // are in their station's outbox: a save a crash left unpublished is published first. A
    // rehydrated transaction's next save lists all its events again (knownEvents is cleared for
    // it by reinstate), which numbers them 1, 2, … as before; the station keeps each once by id.
    if ((await this.h.redis.zscore(this.h.idx('os-unpublished'), txnNo)) !== null) {
      const stationId = await this.h.redis.hget(this.h.k(txnNo, 'txn'), 'stationId');
      if (stationId) await this.os.publish(txnNo, stationId);
    }
    for (;;) {
      const names = await this.h.redis.lrange(this.h.k(txnNo, 'tasks'), 0, -1);
      // REMOVE_ARCHIVED: KEYS[3] is the task list, whose length it checks; every key given goes.
      const keys = [this.h.k(txnNo, 'txn'), this.h.k(txnNo, 'journal'), this.h.k(txnNo, 'tasks'), ...names.map((n) => this.h.taskKey(txnNo, n)), this.os.txnKey(txnNo)];
      const reply = await this.h.redis.tcRemoveArchived(keys.length, ...keys, version, names.length);
      if (Number(reply[0]) === -1) continue;
      if (Number(reply[0]) !== 1) return false;
      this.indexed.delete(txnNo);
      this.knownTasks.delete(txnNo);
      this.knownEvents.delete(txnNo);
      const [, orderNo, state, timers] = reply.map(String);
      const m = new IndexWrites(this.h.redis);
      for (const index of ['all', 'active', 'working', 'attention', 'stuck', 'final', 'dirty']) m.zrem(this.h.idx(index), txnNo);
      if (state) m.zrem(this.h.idx(`state:${state}`), txnNo);
      for (const name of Object.keys(JSON.parse(timers || '{}') as Record<string, number>)) m.zrem(this.h.idx('timers'), `${txnNo}${SEP}${name}`);
      for (const name of names) m.zrem(this.h.idx('tasks'), `${txnNo}${SEP}${name}`);
      if (orderNo) m.hdel(this.h.idx('orders'), orderNo);
      await m.exec();
      return true;
    }
  }

  async reinstate(record: TransactionRecord, journal: StoredJournalEntry[], tasks: TaskRecord[]): Promise<boolean> {
    const txnNo = record.txnNo;
    const fields: (string | number)[] = [
      'version', record.version,
      'merchantId', record.merchantId,
      'stationId', record.stationId,
      'orderNo', record.orderNo ?? '',
      'state', record.state,
      'stateValue', JSON.stringify(record.stateValue),
      'snapshot', JSON.stringify(record.snapshot),
      'atRest', record.atRest ? 1 : 0,
      'working', record.working ? 1 : 0,
      'timers', JSON.stringify(record.timers),
      'attention', record.needsAttention ? 1 : 0,
      'finalAt', record.finalAt ?? '',
      'createdAt', record.createdAt,
      'updatedAt', record.updatedAt,
    ];
    const taskArgs = tasks.map((t) =>
      JSON.stringify([
        t.task,
        'spec', JSON.stringify(specOf(t)),
        'status', t.status,
        'attempts', String(t.attempts),
        'refusals', String(t.refusals),
        'lastError', t.lastError ?? '',
        'nextRunAt', t.nextRunAt === null ? '' : String(t.nextRunAt),
        'result', t.result ? JSON.stringify(t.result) : '',
        'updatedAt', String(t.updatedAt),
      ]),
    );
    const keys = [this.h.k(txnNo, 'txn'), this.h.k(txnNo, 'journal'), this.h.k(txnNo, 'tasks'), ...tasks.map((t) => this.h.taskKey(txnNo, t.task))];
    const entries = journal.map(({ seq: _seq, ...j }) => JSON.stringify(j));
    // Intent first, as a save does: the indexes learn of the record before it is there.
    const before = new IndexWrites(this.h.redis);
    before.zadd(this.h.idx('dirty'), record.updatedAt, txnNo);
    this.h.addEntries(before, txnNo, record, record.needsAttention);
    for (const t of tasks) if (t.status === 'pending' && t.nextRunAt !== null) before.zadd(this.h.idx('tasks'), t.nextRunAt, `${txnNo}${SEP}${t.task}`);
    await before.exec();
    const put = (await this.h.redis.tcReinstate(keys.length, ...keys, fields.length / 2, ...fields, tasks.length, ...taskArgs, ...entries)) === 1;
    this.indexed.delete(txnNo);
    this.knownTasks.delete(txnNo);
    // Its OS events left with it (removeArchived): the next save must list them all again.
    this.knownEvents.delete(txnNo);
    // Another process put it back first: its entries are the ones to keep, and ours may be wrong.
    if (!put) await this.h.reindex(txnNo);
    else await this.h.redis.zrem(this.h.idx('dirty'), txnNo);
    return put;
  }

  /** Takes the archiver's turn for `periodMs` (on the runtime's clock): true for one caller a period across processes. */
  async claimArchiveScan(periodMs: number): Promise<boolean> {
    return this.h.claimTurn('archive-scan', periodMs);
  }
}
