import type { OsCursor, OsEvent, OsEventKind, OsGroupChange, OsOutbox } from '../types.ts';
import { IndexWrites, type RedisHandle } from './handle.ts';
import { OS_ADVANCE, OS_LEASE, OS_PUBLISH, OS_RELEASE, OS_REWIND, OS_TRIM } from './scripts.ts';

interface Scripts {
  tcOsPublish(...args: (string | number)[]): Promise<number>;
  tcOsAdvance(key: string, fromSeq: number, toSeq: number, nowMs: number): Promise<number>;
  tcOsRewind(cursor: string, at: string, fromMs: number): Promise<number>;
  tcOsTrim(events: string, ids: string, cursor: string, at: string, beforeMs: number, limit: number): Promise<number>;
  tcOsLease(lease: string, owner: string, nowMs: number, untilMs: number): Promise<number>;
  tcOsRelease(lease: string, owner: string): Promise<number>;
}

/** An event as the save script stored it in the transaction's `os` hash: `<eventSeq>|<JSON>`. */
export interface StoredOsEvent {
  eventId: string;
  value: string;
  at: number;
}

/** The body of a stored OS event (everything but its sequences). */
export type OsEventBody = Omit<OsEvent, 'eventSeq' | 'stationSeq'>;

const parseValue = (value: string, stationSeq: number): OsEvent => {
  const bar = value.indexOf('|');
  const body = JSON.parse(value.slice(bar + 1)) as OsEventBody;
  return { ...body, kind: body.kind as OsEventKind, eventSeq: Number(value.slice(0, bar)), stationSeq };
};

/**
 * The OS outbox on Redis. A save's events are first stored with the snapshot, in the
 * transaction's own slot (`tc:{T}:os`, the save script: atomic with the snapshot, numbered per
 * order), then published into their station's slot (`tc:{os:S}:…`, {@link OS_PUBLISH}, numbered
 * per station). The transaction is listed in `tc:{idx}:os-unpublished` before its save (with the
 * save's other index writes) and taken off once published, so a crash between the two leaves it
 * listed and {@link repair} publishes it (publishing is idempotent by event id): nothing is lost,
 * nothing is stored twice. The save script hands back the events it holds, so a save publishes
 * them in one more round trip and takes the transaction off the list without waiting for it.
 * Shared keys (stations, group switch, its journal) are in the `tc:{os}` slot.
 */
export class RedisOsOutbox implements OsOutbox {
  private readonly redis: RedisHandle['redis'] & Scripts;

  constructor(private readonly h: RedisHandle) {
    this.redis = h.redis as RedisHandle['redis'] & Scripts;
    this.redis.defineCommand('tcOsPublish', { lua: OS_PUBLISH, numberOfKeys: 4 });
    this.redis.defineCommand('tcOsAdvance', { lua: OS_ADVANCE, numberOfKeys: 1 });
    this.redis.defineCommand('tcOsRewind', { lua: OS_REWIND, numberOfKeys: 2 });
    this.redis.defineCommand('tcOsTrim', { lua: OS_TRIM, numberOfKeys: 4 });
    this.redis.defineCommand('tcOsLease', { lua: OS_LEASE, numberOfKeys: 1 });
    this.redis.defineCommand('tcOsRelease', { lua: OS_RELEASE, numberOfKeys: 1 });
  }

  private s(stationId: string, part: string): string {
    return `${this.h.prefix}:{os:${stationId}}:${part}`;
  }

  private shared(part: string): string {
    return `${this.h.prefix}:{os}:${part}`;
  }

  /** Key of a transaction's stored events (the save script's KEYS[5]; KEYS[4] is the quote hash). */
  txnKey(txnNo: string): string {
    return this.h.k(txnNo, 'os');
  }

  /**
   * Before a save that may store new events: the transaction is listed as maybe unpublished, among
   * the index writes sent ahead of the save script (the index slot's, like its `dirty` mark).
   */
  intend(before: IndexWrites, txnNo: string, nowMs: number): void {
    before.zadd(this.h.idx('os-unpublished'), nowMs, txnNo);
  }

  /** Publishes the transaction's stored events into the station's outbox (read from its slot), then takes it off the list. */
  async publish(txnNo: string, stationId: string): Promise<void> {
    const all = await this.redis.hgetall(this.txnKey(txnNo));
    await this.publishStored(stationId, Object.entries(all));
    await this.unlist(txnNo);
  }

  /** Stations known to be in the set of stations (it only grows): added once per process. Bounded. */
  private readonly knownStations = new Set<string>();

  /**
   * Publishes a transaction's stored events, as the save script handed them back (event id,
   * `<eventSeq>|<JSON>`), into the station's outbox; then takes the transaction off the list
   * without waiting: a later command on the index slot comes after it, and a lost one only
   * leaves it listed, published again (a no-op) by the repair pass.
   */
  async publishSaved(txnNo: string, stationId: string, stored: [string, string][]): Promise<void> {
    await this.publishStored(stationId, stored);
    void this.unlist(txnNo).catch((err: unknown) => this.h.options.log?.warn({ err, txnNo }, 'taking a published transaction off the OS list failed: the repair pass will'));
  }

  private async publishStored(stationId: string, stored: [string, string][]): Promise<void> {
    if (!stored.length) return;
    // In the order of the order's own sequence, so a station sequence never puts an event before its predecessor.
    const events = stored.map(([eventId, value]) => ({ eventId, value, seq: Number(value.slice(0, value.indexOf('|'))) })).sort((a, b) => a.seq - b.seq);
    const args: (string | number)[] = [];
    for (const e of events) args.push(e.eventId, e.value, parseValue(e.value, 0).at);
    // Sent ahead of the events (on one Redis, in the same write): the station is listed before it has any.
    const listed = this.knownStations.has(stationId) ? null : this.redis.sadd(this.shared('stations'), stationId);
    await Promise.all([listed, this.redis.tcOsPublish(this.s(stationId, 'events'), this.s(stationId, 'ids'), this.s(stationId, 'cursor'), this.s(stationId, 'at'), ...args)]);
    if (this.knownStations.size > 10_000) this.knownStations.clear();
    this.knownStations.add(stationId);
  }

  /** Written at once (see IndexWrites' `unawaited`), so a reader's MULTI cannot overtake it. */
  private async unlist(txnNo: string): Promise<void> {
    await new IndexWrites(this.redis, true).zrem(this.h.idx('os-unpublished'), txnNo).exec();
  }

  /** Publishes every transaction a crash left listed as maybe unpublished; returns how many it looked at. */
  async repair(limit: number): Promise<number> {
    const listed = await this.redis.zrange(this.h.idx('os-unpublished'), 0, limit - 1);
    for (const txnNo of listed) {
      const stationId = await this.redis.hget(this.h.k(txnNo, 'txn'), 'stationId');
      const any = await this.redis.hlen(this.txnKey(txnNo));
      if (stationId && any > 0) await this.publish(txnNo, stationId);
      // Listed but never saved (a conflict or a crash before the save): nothing to publish.
      else if (any === 0) await this.redis.zrem(this.h.idx('os-unpublished'), txnNo);
    }
    return listed.length;
  }

  async cursors(): Promise<OsCursor[]> {
    const stations = (await this.redis.smembers(this.shared('stations'))).sort();
    return Promise.all(stations.map((s) => this.cursor(s)));
  }

  async cursor(stationId: string): Promise<OsCursor> {
    const [head, delivered, deliveredAt] = await this.redis.hmget(this.s(stationId, 'cursor'), 'head', 'delivered', 'deliveredAt');
    const headSeq = Number(head ?? 0);
    const deliveredSeq = Number(delivered ?? 0);
    return { stationId, deliveredSeq, deliveredAt: deliveredAt ? Number(deliveredAt) : null, headSeq, pending: headSeq - deliveredSeq };
  }

  async events(stationId: string, afterSeq: number, limit: number): Promise<OsEvent[]> {
    const seqs = Array.from({ length: limit }, (_, i) => afterSeq + 1 + i);
    if (!seqs.length) return [];
    const values = await this.redis.hmget(this.s(stationId, 'events'), ...seqs.map(String));
    const out: OsEvent[] = [];
    for (const [i, v] of values.entries()) {
      if (v === null) break;
      out.push(parseValue(v, seqs[i]!));
    }
    return out;
  }

  async advance(stationId: string, fromSeq: number, toSeq: number, nowMs: number): Promise<boolean> {
    return (await this.redis.tcOsAdvance(this.s(stationId, 'cursor'), fromSeq, toSeq, nowMs)) === 1;
  }

  async rewind(stationId: string, fromMs: number): Promise<number> {
    return Number(await this.redis.tcOsRewind(this.s(stationId, 'cursor'), this.s(stationId, 'at'), fromMs));
  }

  /**
   * Drops the station's delivered events older than `recordedBefore` (OS_TRIM): its events, ids and
   * at entries, so the outbox holds the resync window, not the history. An event id let go is no
   * longer known to the station: a rehydrated order's earlier events, listed again, are published
   * again under their own order sequence, which OS keeps once (docs/callee-contract.md 2.15).
   */
  async trim(stationId: string, recordedBefore: number, limit: number): Promise<number> {
    return Number(await this.redis.tcOsTrim(this.s(stationId, 'events'), this.s(stationId, 'ids'), this.s(stationId, 'cursor'), this.s(stationId, 'at'), recordedBefore, limit));
  }

  async readsOnlineGroups(): Promise<string[]> {
    const all = await this.redis.hgetall(this.shared('groups'));
    return Object.entries(all).filter(([, v]) => v === '1').map(([g]) => g).sort();
  }

  async setGroup(group: string, readsOnline: boolean, by: string, nowMs: number): Promise<OsGroupChange> {
    const body = { group, readsOnline, by, at: nowMs };
    // One node, one MULTI: the switch and its journal entry (whose number is its place in the list) together.
    const replies = await this.redis.multi().rpush(this.shared('group-changes'), JSON.stringify(body)).hset(this.shared('groups'), group, readsOnline ? '1' : '0').exec();
    const seq = Number(replies?.[0]?.[1]);
    return { seq, ...body };
  }

  async groupChanges(limit: number): Promise<OsGroupChange[]> {
    const key = this.shared('group-changes');
    const total = await this.redis.llen(key);
    const rows = await this.redis.lrange(key, -limit, -1);
    const first = total - rows.length + 1;
    return rows.map((r, i) => ({ seq: first + i, ...(JSON.parse(r) as Omit<OsGroupChange, 'seq'>) })).reverse();
  }

  /** In the station's slot (OS_LEASE), beside its cursor. */
  async leaseStation(stationId: string, owner: string, nowMs: number, untilMs: number): Promise<boolean> {
    return (await this.redis.tcOsLease(this.s(stationId, 'lease'), owner, nowMs, untilMs)) === 1;
  }

  async releaseStation(stationId: string, owner: string): Promise<void> {
    await this.redis.tcOsRelease(this.s(stationId, 'lease'), owner);
  }
}
