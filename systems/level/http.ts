import type { HttpConnector } from '../http/connector.ts';
import type { LevelPort } from './port.ts';

/** The level system over HTTP (docs/callee-contract.md). */
export class LevelHttp implements LevelPort {
  constructor(private readonly c: HttpConnector) {}
  getLevel: LevelPort['getLevel'] = (userId) => this.c.read('getLevel', { userId });
  addGrowth: LevelPort['addGrowth'] = (key, req) => this.c.mutate('addGrowth', key, req);
  reverseGrowth: LevelPort['reverseGrowth'] = (key, req) => this.c.mutate('reverseGrowth', key, req);
}
