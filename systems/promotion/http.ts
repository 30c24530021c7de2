import type { HttpConnector } from '../http/connector.ts';
import type { PromotionPort } from './port.ts';

/** The promotion engine over HTTP (docs/callee-contract.md). */
export class PromotionHttp implements PromotionPort {
  constructor(private readonly c: HttpConnector) {}
  listPromotions: PromotionPort['listPromotions'] = (req) => this.c.read('listPromotions', req);
}
