import type { Cluster, Redis } from 'ioredis';
import type { RoutingChange, RoutingTable } from '../../domain/routing.ts';
import type { RoutingChangeResult, RoutingStore } from '../types.ts';

/**
 * KEYS[1] the journal of changes (a list, oldest first; each entry a JSON RoutingChange)
 * ARGV[1] the change number the caller read, ARGV[2] the new change as a JSON object, without its
 *   number (spliced in as text: cjson would turn an empty rules array into an object)
 * Output: {1, seq} when appended as number seq; {0, actualSeq} when the journal moved on.
 */
const CHANGE = `
local n = redis.call('LLEN', KEYS[1])
if n ~= tonumber(ARGV[1]) then return {0, n} end
redis.call('RPUSH', KEYS[1], '{"seq":' .. (n + 1) .. ',' .. string.sub(ARGV[2], 2))
return {1, n + 1}
`;

interface Scripts {
  tcRoutingChange(key: string, expectedSeq: number, change: string): Promise<[number, number]>;
}

/**
 * The routing table as one Redis list `{prefix}:{routing}:changes`, the journal of changes: the
 * current table is the last entry's `after`, and a change number is the entry's position, so
 * the compare-and-set is the list's length, checked and appended in one script. Uses the
 * store's client; the store closes it.
 */
export class RedisRoutingStore implements RoutingStore {
  private readonly redis: (Redis | Cluster) & Scripts;
  private readonly key: string;

  constructor(redis: Redis | Cluster, prefix: string) {
    this.redis = redis as (Redis | Cluster) & Scripts;
    this.redis.defineCommand('tcRoutingChange', { lua: CHANGE, numberOfKeys: 1 });
    this.key = `${prefix}:{routing}:changes`;
  }

  async current(): Promise<{ table: RoutingTable; seq: number } | null> {
    const last = await this.redis.lindex(this.key, -1);
    if (last === null) return null;
    const change = JSON.parse(last) as RoutingChange;
    return { table: change.after, seq: change.seq };
  }

  async change(expectedSeq: number, change: Omit<RoutingChange, 'seq'>): Promise<RoutingChangeResult> {
    const [ok, seq] = await this.redis.tcRoutingChange(this.key, expectedSeq, JSON.stringify(change));
    return ok === 1 ? { ok: true, change: { seq, ...change } } : { ok: false, conflict: true, actualSeq: seq };
  }

  async history(limit: number): Promise<RoutingChange[]> {
    const rows = await this.redis.lrange(this.key, -limit, -1);
    return rows.map((r) => JSON.parse(r) as RoutingChange).reverse();
  }

  async close(): Promise<void> {}
}
