import type { Cluster, Redis } from 'ioredis';
import type { ShadowQuoteRecord } from '../../domain/shadow-quote.ts';
import { decodeShadowCursor, encodeShadowCursor, matchesShadowFilter, type ShadowIndexed } from '../shadow/cursor.ts';
import type { ShadowAgreementRow, ShadowDifferencePage, ShadowFilter, ShadowQuotes } from '../types.ts';
import type { RedisHandle } from './handle.ts';

/**
 * put: stores a shadow quote once, with its index entries, in one step.
 *
 * KEYS[1] records hash `tc:{shadow}:records` (shadowId → record JSON)
 * KEYS[2] meta hash `tc:{shadow}:meta` (shadowId → agrees, merchant, station, scene, tab-separated)
 * KEYS[3] every quote, a sorted set by lex `tc:{shadow}:all` (member: 16-digit quotedAtMs `:` shadowId)
 * KEYS[4] the differences, the same way `tc:{shadow}:differences`
 * ARGV[1] shadowId, ARGV[2] record JSON, ARGV[3] meta, ARGV[4] index member, ARGV[5] '1' when they differ
 * Output: 1 when stored now; 0 when a record of that id was stored already (nothing changed).
 */
const PUT = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[3], 0, ARGV[4])
if ARGV[5] == '1' then redis.call('ZADD', KEYS[4], 0, ARGV[4]) end
return 1
`;

/**
 * purge: deletes the shadow quotes named, with their index entries, in one step.
 *
 * KEYS[1] records hash, KEYS[2] meta hash, KEYS[3] every quote, KEYS[4] the differences (as in put)
 * ARGV the index members (`stamp:shadowId`) to delete
 * Output: how many records were deleted (a member whose record went already counts 0).
 */
const PURGE = `
local n = 0
for _, m in ipairs(ARGV) do
  local id = string.sub(m, 18)
  n = n + redis.call('HDEL', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('ZREM', KEYS[3], m)
  redis.call('ZREM', KEYS[4], m)
end
return n
`;

interface Scripts {
  tcShadowPurge(records: string, meta: string, all: string, differences: string, ...members: string[]): Promise<number>;
  tcShadowPut(records: string, meta: string, all: string, differences: string, shadowId: string, record: string, metaValue: string, member: string, differs: string): Promise<number>;
}

/** Index members sort by time as text: epoch ms padded to 16 digits, then the id. */
const stamp = (ms: number) => String(ms).padStart(16, '0');
const member = (quotedAtMs: number, shadowId: string) => `${stamp(quotedAtMs)}:${shadowId}`;
const idOf = (m: string) => m.slice(17);
const timeOf = (m: string) => Number(m.slice(0, 16));

/** Index entries read per round trip while scanning. */
const BATCH = 500;

/**
 * Shadow quotes on Redis, every key under the hash tag `{shadow}` (one slot, so the put script is
 * atomic on a Cluster too). The indexes are sorted sets of equal score read by lex range: a time
 * range is a member range, and a cursor is the member it stands after. Station, scene and
 * merchant are filtered from the small meta hash, so a report reads a record's JSON only for the
 * differences it lists.
 */
export class RedisShadowQuotes implements ShadowQuotes {
  private readonly redis: (Redis | Cluster) & Scripts;
  private readonly keys;

  constructor(handle: RedisHandle) {
    const client: Redis | Cluster = handle.redis;
    this.redis = client as (Redis | Cluster) & Scripts;
    this.redis.defineCommand('tcShadowPut', { lua: PUT, numberOfKeys: 4 });
    this.redis.defineCommand('tcShadowPurge', { lua: PURGE, numberOfKeys: 4 });
    const key = (part: string) => `${handle.prefix}:{shadow}:${part}`;
    this.keys = { records: key('records'), meta: key('meta'), all: key('all'), differences: key('differences') };
  }

  async put(r: ShadowQuoteRecord): Promise<boolean> {
    const meta = [r.agrees ? '1' : '0', r.merchantId, r.stationId, r.scene].join('\t');
    const k = this.keys;
    return (await this.redis.tcShadowPut(k.records, k.meta, k.all, k.differences, r.shadowId, JSON.stringify(r), meta, member(r.quotedAtMs, r.shadowId), r.agrees ? '0' : '1')) === 1;
  }

  async get(shadowId: string): Promise<ShadowQuoteRecord | null> {
    const json = await this.redis.hget(this.keys.records, shadowId);
    return json === null ? null : (JSON.parse(json) as ShadowQuoteRecord);
  }

  async agreement(filter: ShadowFilter): Promise<ShadowAgreementRow[]> {
    const groups = new Map<string, ShadowAgreementRow>();
    for await (const batch of this.scan(this.keys.all, filter, null)) {
      for (const e of batch) {
        const key = `${e.stationId}\u0000${e.scene}`;
        const row = groups.get(key) ?? { stationId: e.stationId, scene: e.scene, total: 0, agreeing: 0 };
        row.total++;
        if (e.agrees) row.agreeing++;
        groups.set(key, row);
      }
    }
    return [...groups.values()].sort((a, b) => (a.stationId === b.stationId ? cmp(a.scene, b.scene) : cmp(a.stationId, b.stationId)));
  }

  async differences(filter: ShadowFilter, limit: number, cursor: string | null): Promise<ShadowDifferencePage> {
    const after = cursor === null ? null : decodeShadowCursor(cursor);
    const found: string[] = [];
    for await (const batch of this.scan(this.keys.differences, filter, after === null ? null : member(after.quotedAtMs, after.shadowId))) {
      for (const e of batch) found.push(e.shadowId);
      if (found.length > limit) break;
    }
    const ids = found.slice(0, limit);
    const json = ids.length ? await this.redis.hmget(this.keys.records, ...ids) : [];
    const records = json.flatMap((j) => (j === null ? [] : [JSON.parse(j) as ShadowQuoteRecord]));
    const last = records[records.length - 1];
    return { records, nextCursor: found.length > limit && last ? encodeShadowCursor(last) : null };
  }

  async purgeOlderThan(olderThanMs: number, limit: number): Promise<number> {
    const k = this.keys;
    // A bare stamp sorts before every member of its millisecond: `(stamp` leaves that one out.
    const members = await this.redis.zrangebylex(k.all, '-', `(${stamp(olderThanMs)}`, 'LIMIT', 0, limit);
    if (!members.length) return 0;
    // The members read are deleted as named: a put meanwhile adds a newer member, never one of these.
    return this.redis.tcShadowPurge(k.records, k.meta, k.all, k.differences, ...members);
  }

  /** The entries of an index matching `filter`, in member order, after `afterMember` (exclusive), a batch at a time. */
  private async *scan(index: string, filter: ShadowFilter, afterMember: string | null): AsyncGenerator<(ShadowIndexed & { shadowId: string; agrees: boolean })[]> {
    // A bare stamp sorts before every member of its millisecond: `[from` takes them, `(to` leaves them out.
    const fromMember = filter.fromMs === null ? null : stamp(filter.fromMs);
    let min = afterMember !== null && (fromMember === null || afterMember >= fromMember) ? `(${afterMember}` : fromMember === null ? '-' : `[${fromMember}`;
    const max = filter.toMs === null ? '+' : `(${stamp(filter.toMs)}`;
    for (;;) {
      const members = await this.redis.zrangebylex(index, min, max, 'LIMIT', 0, BATCH);
      if (!members.length) return;
      const metas = await this.redis.hmget(this.keys.meta, ...members.map(idOf));
      const batch = members.flatMap((m, i) => {
        const meta = metas[i];
        if (!meta) return [];
        const [agrees, merchantId = '', stationId = '', scene = ''] = meta.split('\t');
        const entry = { shadowId: idOf(m), quotedAtMs: timeOf(m), merchantId, stationId, scene, agrees: agrees === '1' };
        return matchesShadowFilter(filter, entry) ? [entry] : [];
      });
      yield batch;
      if (members.length < BATCH) return;
      min = `(${members[members.length - 1]!}`;
    }
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
