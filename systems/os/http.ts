import type { HttpConnector } from '../http/connector.ts';
import type { OsPort } from './port.ts';

/** The offline station system (OS) over HTTP (docs/callee-contract.md). */
export class OsHttp implements OsPort {
  constructor(private readonly c: HttpConnector) {}
  deliverEvent: OsPort['deliverEvent'] = (key, event) => this.c.mutate('deliverEvent', key, event);
}
