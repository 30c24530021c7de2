import type { FaultInjector } from '../sim/faults.ts';
import type { SimStore } from '../sim/store.ts';
import type { FuelCatalogPort, Nozzle, Station } from './port.ts';

/** The fuel catalog, simulated over the {@link SimStore}: stations and nozzles from the dataset. */
export class FuelCatalogSimulator implements FuelCatalogPort {
  private readonly stationById;
  private readonly nozzleByNo;

  constructor(store: SimStore, private readonly faults: FaultInjector) {
    this.stationById = store.db.prepare<[string], Omit<Station, 'group'> & { group: string | null }>(
      'SELECT station_id AS stationId, merchant_id AS merchantId, name, time_zone AS timeZone, station_group AS "group" FROM stations WHERE station_id = ?');
    this.nozzleByNo = store.db.prepare<[string, number], Nozzle>(
      'SELECT station_id AS stationId, nozzle_no AS nozzleNo, grade, unit_price AS unitPrice FROM nozzles WHERE station_id = ? AND nozzle_no = ?');
  }

  getStation(stationId: string): Promise<Station | null> {
    return this.faults.run('getStation', () => {
      const row = this.stationById.get(stationId);
      if (!row) return null;
      const { group, ...station } = row;
      return group === null ? station : { ...station, group };
    });
  }

  getNozzle(stationId: string, nozzleNo: number): Promise<Nozzle | null> {
    return this.faults.run('getNozzle', () => this.nozzleByNo.get(stationId, nozzleNo) ?? null);
  }
}
