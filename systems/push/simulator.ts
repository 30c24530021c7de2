import type { CallKey, Outcome } from '../contract.ts';
import type { FaultInjector } from '../sim/faults.ts';
import { RecordBook, type SimRecord } from '../sim/records.ts';
import type { SimStore } from '../sim/store.ts';
import { SimVerbs } from '../sim/verb.ts';
import type { PushPort, PushRequest } from './port.ts';

/** The push system, simulated over the {@link SimStore}: pushed messages are kept per call key. */
export class PushSimulator implements PushPort {
  private readonly book: RecordBook;
  private readonly verbs: SimVerbs;
  private readonly station;

  constructor(private readonly store: SimStore, faults: FaultInjector) {
    this.book = new RecordBook(store, 'push');
    this.verbs = new SimVerbs(store, faults);
    this.station = store.db.prepare<[string], { station_id: string }>('SELECT station_id FROM stations WHERE station_id = ?');
  }

  /** The messages pushed to a station's terminals, oldest first, bypassing faults. */
  peekMessages(stationId: string): SimRecord<PushRequest>[] {
    return this.book.all<PushRequest>('message').filter((m) => m.body.stationId === stationId);
  }

  notify(key: CallKey, req: PushRequest): Promise<Outcome<{}, 'STATION_NOT_FOUND'>> {
    return this.verbs.run('notify', key, req, null, (k): Outcome<{}, 'STATION_NOT_FOUND'> => {
      if (!this.station.get(req.stationId)) return { ok: false, code: 'STATION_NOT_FOUND', message: `no station ${req.stationId}` };
      this.book.put('message', k, req.txnNo, req);
      this.store.recordEffect('push', 'notify', k);
      return { ok: true };
    });
  }
}
