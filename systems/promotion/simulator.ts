import type { FaultInjector } from '../sim/faults.ts';
import type { Clock, SimStore } from '../sim/store.ts';
import type { Promotion, PromotionPort } from './port.ts';

/**
 * The promotion engine, simulated over the {@link SimStore}. Offers the merchant's promotions that
 * run at the station and are inside their validity period now; every other condition (time window,
 * level, payment method) is the quote's to judge, as with the real engine.
 */
export class PromotionSimulator implements PromotionPort {
  private readonly byMerchant;

  constructor(store: SimStore, private readonly faults: FaultInjector, private readonly clock: Clock) {
    this.byMerchant = store.db.prepare<[string], { station_ids: string | null; body: string }>(
      'SELECT station_ids, body FROM promotions WHERE merchant_id = ?');
  }

  listPromotions(req: { merchantId: string; stationId: string }): Promise<Promotion[]> {
    return this.faults.run('listPromotions', () => {
      const now = this.clock.now();
      return this.byMerchant
        .all(req.merchantId)
        .filter((row) => row.station_ids === null || (JSON.parse(row.station_ids) as string[]).includes(req.stationId))
        .map((row) => JSON.parse(row.body) as Promotion)
        .filter((p) => (!p.validFrom || Date.parse(p.validFrom) <= now) && (!p.validTo || now <= Date.parse(p.validTo)))
        .sort((a, b) => a.priority - b.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    });
  }
}
