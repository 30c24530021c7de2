import type { CallKey, Outcome } from '../contract.ts';
import type { FaultInjector } from '../sim/faults.ts';
import { RecordBook, type SimRecord } from '../sim/records.ts';
import type { SimStore } from '../sim/store.ts';
import { requireCount, SimVerbs } from '../sim/verb.ts';
import type { OsOrderRequest, OsPort } from './port.ts';

/** The offline station system, simulated over the {@link SimStore}: it keeps the orders synced to it. */
export class OsSimulator implements OsPort {
  private readonly book: RecordBook;
  private readonly verbs: SimVerbs;
  private readonly station;

  constructor(private readonly store: SimStore, faults: FaultInjector) {
    this.book = new RecordBook(store, 'os');
    this.verbs = new SimVerbs(store, faults);
    this.station = store.db.prepare<[string], { station_id: string }>('SELECT station_id FROM stations WHERE station_id = ?');
  }

  /** The orders synced to a station, oldest first, bypassing faults. */
  peekOrders(stationId: string): SimRecord<OsOrderRequest>[] {
    return this.book.all<OsOrderRequest>('order').filter((o) => o.body.stationId === stationId);
  }

  async syncOrder(key: CallKey, req: OsOrderRequest): Promise<Outcome<{ orderNo: string }, 'STATION_NOT_FOUND'>> {
    requireCount('amountFen', req.amountFen);
    return this.verbs.run('syncOrder', key, req, req.orderNo, (k): Outcome<{ orderNo: string }, 'STATION_NOT_FOUND'> => {
      if (!this.station.get(req.stationId)) return { ok: false, code: 'STATION_NOT_FOUND', message: `no station ${req.stationId}` };
      this.book.put('order', req.orderNo, req.txnNo, req);
      this.store.recordEffect('os', 'syncOrder', k);
      return { ok: true, orderNo: req.orderNo };
    });
  }
}
