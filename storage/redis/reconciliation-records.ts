import type { Cluster, Redis } from 'ioredis';
import type { DiscrepancyStatus, ReconciliationRecords, ReconciliationRun, StoredDiscrepancy } from '../types.ts';

/**
 * saveRun: the day's run replaced, and each discrepancy added unless its id is already there.
 *
 * KEYS[1] the run `…:{recon:<channel>:<day>}:run` (a JSON ReconciliationRun)
 * KEYS[2] the found hash `…:{recon:<channel>:<day>}:found` (id → JSON discrepancy without status)
 * ARGV[1] the run as JSON; then pairs id, discrepancy JSON to the end of ARGV
 * Output: the ids added now, in the order given.
 */
const SAVE_RUN = `
redis.call('SET', KEYS[1], ARGV[1])
local added = {}
for i = 2, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 1]) == 1 then added[#added + 1] = ARGV[i] end
end
return added
`;

/**
 * settle: closes an open discrepancy, once.
 *
 * KEYS[1] the found hash, KEYS[2] the fate hash `…:{recon:<channel>:<day>}:fate` (id → JSON {status, resolution})
 * ARGV[1] the id, ARGV[2] its fate as JSON
 * Output: 1 closed now; 0 closed before (unchanged); -1 no such discrepancy.
 */
const SETTLE = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return -1 end
return redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
`;

interface Scripts {
  tcReconSaveRun(run: string, found: string, ...argv: string[]): Promise<string[]>;
  tcReconSettle(found: string, fate: string, id: string, body: string): Promise<number>;
}

type Found = Omit<StoredDiscrepancy, 'status' | 'resolution'>;
type Fate = { status: Exclude<DiscrepancyStatus, 'open'>; resolution: NonNullable<StoredDiscrepancy['resolution']> };

/**
 * The reconciliation records on Redis, for a scale-out deployment without a PostgreSQL archive:
 * a channel day's keys share one hash tag `{recon:<channel>:<day>}` (every script runs on one
 * node of a Cluster), and a discrepancy's id names its channel and day, so `get` finds its keys.
 * Uses the store's client; the store closes it.
 */
export class RedisReconciliationRecords implements ReconciliationRecords {
  private readonly redis: (Redis | Cluster) & Scripts;

  constructor(redis: Redis | Cluster, private readonly prefix: string) {
    this.redis = redis as (Redis | Cluster) & Scripts;
    this.redis.defineCommand('tcReconSaveRun', { lua: SAVE_RUN, numberOfKeys: 2 });
    this.redis.defineCommand('tcReconSettle', { lua: SETTLE, numberOfKeys: 2 });
  }

  private key(channel: string, day: string, part: 'run' | 'found' | 'fate'): string {
    return `${this.prefix}:{recon:${channel}:${day}}:${part}`;
  }

  async saveRun(run: ReconciliationRun, found: Found[]): Promise<string[]> {
    const argv: string[] = [JSON.stringify(run)];
    for (const d of found) {
      if (d.channel !== run.channel || d.day !== run.day) throw new RangeError(`discrepancy ${d.id} is not of the run's day ${run.channel} ${run.day}`);
      argv.push(d.id, JSON.stringify(d));
    }
    return this.redis.tcReconSaveRun(this.key(run.channel, run.day, 'run'), this.key(run.channel, run.day, 'found'), ...argv);
  }

  async run(channel: string, day: string): Promise<ReconciliationRun | null> {
    const raw = await this.redis.get(this.key(channel, day, 'run'));
    return raw === null ? null : (JSON.parse(raw) as ReconciliationRun);
  }

  async discrepancies(channel: string, day: string): Promise<StoredDiscrepancy[]> {
    const [found, fates] = await Promise.all([this.redis.hgetall(this.key(channel, day, 'found')), this.redis.hgetall(this.key(channel, day, 'fate'))]);
    return Object.entries(found)
      .map(([id, raw]) => withFate(JSON.parse(raw) as Found, fates[id]))
      .sort((a, b) => a.foundAt - b.foundAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async get(id: string): Promise<StoredDiscrepancy | null> {
    const where = dayOfId(id);
    if (!where) return null;
    const [raw, fate] = await Promise.all([this.redis.hget(this.key(where.channel, where.day, 'found'), id), this.redis.hget(this.key(where.channel, where.day, 'fate'), id)]);
    return raw === null ? null : withFate(JSON.parse(raw) as Found, fate ?? undefined);
  }

  async settle(id: string, status: Exclude<DiscrepancyStatus, 'open'>, resolution: NonNullable<StoredDiscrepancy['resolution']>): Promise<StoredDiscrepancy | null> {
    const where = dayOfId(id);
    if (!where) return null;
    const fate: Fate = { status, resolution };
    const done = await this.redis.tcReconSettle(this.key(where.channel, where.day, 'found'), this.key(where.channel, where.day, 'fate'), id, JSON.stringify(fate));
    return done === -1 ? null : this.get(id);
  }

  async close(): Promise<void> {}
}

function withFate(found: Found, fate: string | undefined): StoredDiscrepancy {
  const f = fate === undefined ? null : (JSON.parse(fate) as Fate);
  return { ...found, status: f?.status ?? 'open', resolution: f?.resolution ?? null };
}

/** The channel and day a discrepancy id `<channel>:<day>:<kind>:<ref>` names; null for anything else. */
function dayOfId(id: string): { channel: string; day: string } | null {
  const m = /^([a-z_]+):(\d{4}-\d{2}-\d{2}):/.exec(id);
  return m ? { channel: m[1]!, day: m[2]! } : null;
}
