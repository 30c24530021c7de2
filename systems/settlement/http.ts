import type { HttpConnector } from '../http/connector.ts';
import type { SettlementPort } from './port.ts';

/** The settlement system over HTTP (docs/callee-contract.md). */
export class SettlementHttp implements SettlementPort {
  constructor(private readonly c: HttpConnector) {}
  record: SettlementPort['record'] = (key, req) => this.c.mutate('record', key, req);
  reverse: SettlementPort['reverse'] = (key, req) => this.c.mutate('reverse', key, req);
}
