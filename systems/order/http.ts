import type { HttpConnector } from '../http/connector.ts';
import type { OrderPort } from './port.ts';

/** The order system over HTTP (docs/callee-contract.md). */
export class OrderHttp implements OrderPort {
  constructor(private readonly c: HttpConnector) {}
  createOrder: OrderPort['createOrder'] = (key, req) => this.c.mutate('createOrder', key, req);
  markPaid: OrderPort['markPaid'] = (key, req) => this.c.mutate('markPaid', key, req);
  cancelOrder: OrderPort['cancelOrder'] = (key, req) => this.c.mutate('cancelOrder', key, req);
  markRefunded: OrderPort['markRefunded'] = (key, req) => this.c.mutate('markRefunded', key, req);
  getOrder: OrderPort['getOrder'] = (orderNo) => this.c.read('getOrder', { orderNo });
}
