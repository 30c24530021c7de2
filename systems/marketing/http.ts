import type { HttpConnector } from '../http/connector.ts';
import type { MarketingPort } from './port.ts';

/** The marketing system over HTTP (docs/callee-contract.md). */
export class MarketingHttp implements MarketingPort {
  constructor(private readonly c: HttpConnector) {}
  record: MarketingPort['record'] = (key, req) => this.c.mutate('record', key, req);
  reverse: MarketingPort['reverse'] = (key, req) => this.c.mutate('reverse', key, req);
}
