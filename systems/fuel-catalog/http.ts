import type { HttpConnector } from '../http/connector.ts';
import type { FuelCatalogPort } from './port.ts';

/** The fuel catalog over HTTP (docs/callee-contract.md). */
export class FuelCatalogHttp implements FuelCatalogPort {
  constructor(private readonly c: HttpConnector) {}
  getStation: FuelCatalogPort['getStation'] = (stationId) => this.c.read('getStation', { stationId });
  getNozzle: FuelCatalogPort['getNozzle'] = (stationId, nozzleNo) => this.c.read('getNozzle', { stationId, nozzleNo });
}
