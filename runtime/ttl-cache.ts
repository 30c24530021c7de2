import type { Clock } from './clock.ts';

/**
 * A small read-through cache for downstream reads that tolerate staleness (user, fuel catalog).
 * Concurrent misses for one key share one call; failures are not cached; entries expire after
 * `ttlMs` by the injected clock and the oldest go first once `maxEntries` is reached.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
  private readonly inflight = new Map<string, Promise<V>>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  async get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && hit.expiresAt > this.clock.now()) return hit.value;
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const loading = load()
      .then((value) => {
        this.entries.delete(key);
        this.entries.set(key, { value, expiresAt: this.clock.now() + this.ttlMs });
        if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
        return value;
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, loading);
    return loading;
  }

  clear(): void {
    this.entries.clear();
  }
}
