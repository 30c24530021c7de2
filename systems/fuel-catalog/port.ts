/** A station as the fuel catalog knows it. */
export interface Station {
  stationId: string;
  merchantId: string;
  name: string;
  /** IANA time zone of the station, for time-window promotions. */
  timeZone: string;
  /**
   * The station group rollout routing goes by (DOMAIN.md "Rollout, OS and history": a scene at
   * a group is `legacy`, `shadow` or `live`); absent: the station is in no group.
   */
  group?: string;
}

/** A nozzle resolves to an oil grade and its list price at one station. */
export interface Nozzle {
  stationId: string;
  nozzleNo: number;
  /** `92`, `95`, `98` or `0` (diesel). */
  grade: string;
  /** List price in fen per litre. */
  unitPrice: number;
}

/** The fuel catalog (core): stations, nozzles, grades and list prices. */
export interface FuelCatalogPort {
  getStation(stationId: string): Promise<Station | null>;
  getNozzle(stationId: string, nozzleNo: number): Promise<Nozzle | null>;
}
