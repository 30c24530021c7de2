import type { HttpConnector } from '../http/connector.ts';
import type { InvoicePort } from './port.ts';

/** The invoice system over HTTP (docs/callee-contract.md). */
export class InvoiceHttp implements InvoicePort {
  constructor(private readonly c: HttpConnector) {}
  issue: InvoicePort['issue'] = (key, req) => this.c.mutate('issue', key, req);
  reverse: InvoicePort['reverse'] = (key, req) => this.c.mutate('reverse', key, req);
}
