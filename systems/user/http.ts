import type { HttpConnector } from '../http/connector.ts';
import type { UserPort } from './port.ts';

/** The user system over HTTP (docs/callee-contract.md). */
export class UserHttp implements UserPort {
  constructor(private readonly c: HttpConnector) {}
  getUser: UserPort['getUser'] = (userId) => this.c.read('getUser', { userId });
}
