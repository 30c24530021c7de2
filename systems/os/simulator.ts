import type { CallKey, Outcome } from '../contract.ts';
import type { FaultInjector } from '../sim/faults.ts';
import { RecordBook, type SimRecord } from '../sim/records.ts';
import type { SimStore } from '../sim/store.ts';
import { requireCount, SimVerbs } from '../sim/verb.ts';
import type { OsOrderEvent, OsPort } from './port.ts';

/** The offline station system, simulated over the {@link SimStore}: it keeps the order events delivered to it. */
export class OsSimulator implements OsPort {
  private readonly book: RecordBook;
  private readonly verbs: SimVerbs;
  private readonly station;

  constructor(private readonly store: SimStore, faults: FaultInjector) {
    this.book = new RecordBook(store, 'os');
    this.verbs = new SimVerbs(store, faults);
    this.station = store.db.prepare<[string], { station_id: string }>('SELECT station_id FROM stations WHERE station_id = ?');
  }

  /** Every order event a station got, in the order it got them, bypassing faults. */
  peekEvents(stationId: string): OsOrderEvent[] {
    return this.book.all<OsOrderEvent>('event').filter((e) => e.body.stationId === stationId).map((e) => e.body);
  }

  async deliverEvent(key: CallKey, event: OsOrderEvent): Promise<Outcome<{ orderNo: string; eventSeq: number }, 'STATION_NOT_FOUND' | 'OUT_OF_ORDER'>> {
    requireCount('eventSeq', event.eventSeq, { positive: true });
    const no = (seq: number) => `${event.orderNo}#${seq}`;
    return this.verbs.run('deliverEvent', key, event, no(event.eventSeq), (k): Outcome<{ orderNo: string; eventSeq: number }, 'STATION_NOT_FOUND' | 'OUT_OF_ORDER'> => {
      if (!this.station.get(event.stationId)) return { ok: false, code: 'STATION_NOT_FOUND', message: `no station ${event.stationId}` };
      if (event.eventSeq > 1 && !this.book.get('event', no(event.eventSeq - 1))) {
        return { ok: false, code: 'OUT_OF_ORDER', message: `event ${event.eventSeq} of order ${event.orderNo} before event ${event.eventSeq - 1}` };
      }
      this.book.put('event', no(event.eventSeq), event.txnNo, event);
      this.store.recordEffect('os', 'deliverEvent', k);
      return { ok: true, orderNo: event.orderNo, eventSeq: event.eventSeq };
    });
  }
}
