import type { HttpConnector } from '../http/connector.ts';
import type { NotifyPort } from './port.ts';

/** The notify system over HTTP (docs/callee-contract.md). */
export class NotifyHttp implements NotifyPort {
  constructor(private readonly c: HttpConnector) {}
  send: NotifyPort['send'] = (key, req) => this.c.mutate('send', key, req);
}
