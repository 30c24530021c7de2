import type { HttpConnector } from '../http/connector.ts';
import type { GoodsPort } from './port.ts';

/** The goods system over HTTP (docs/callee-contract.md). */
export class GoodsHttp implements GoodsPort {
  constructor(private readonly c: HttpConnector) {}
  getGoods: GoodsPort['getGoods'] = (stationId, skus) => this.c.read('getGoods', { stationId, skus });
  reserve: GoodsPort['reserve'] = (key, req) => this.c.mutate('reserve', key, req);
  deduct: GoodsPort['deduct'] = (key, req) => this.c.mutate('deduct', key, req);
  release: GoodsPort['release'] = (key, req) => this.c.mutate('release', key, req);
}
