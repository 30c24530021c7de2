import type { HttpConnector } from '../http/connector.ts';
import type { PushPort } from './port.ts';

/** The push system over HTTP (docs/callee-contract.md). */
export class PushHttp implements PushPort {
  constructor(private readonly c: HttpConnector) {}
  notify: PushPort['notify'] = (key, req) => this.c.mutate('notify', key, req);
}
