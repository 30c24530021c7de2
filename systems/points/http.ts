import type { HttpConnector } from '../http/connector.ts';
import type { PointsPort } from './port.ts';

/** The points system over HTTP (docs/callee-contract.md). */
export class PointsHttp implements PointsPort {
  constructor(private readonly c: HttpConnector) {}
  getAccount: PointsPort['getAccount'] = (userId) => this.c.read('getAccount', { userId });
  lock: PointsPort['lock'] = (key, req) => this.c.mutate('lock', key, req);
  deduct: PointsPort['deduct'] = (key, req) => this.c.mutate('deduct', key, req);
  release: PointsPort['release'] = (key, req) => this.c.mutate('release', key, req);
  restore: PointsPort['restore'] = (key, req) => this.c.mutate('restore', key, req);
  award: PointsPort['award'] = (key, req) => this.c.mutate('award', key, req);
  reverseAward: PointsPort['reverseAward'] = (key, req) => this.c.mutate('reverseAward', key, req);
}
