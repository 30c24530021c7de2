import type { HttpConnector } from '../http/connector.ts';
import type { CouponPort } from './port.ts';

/** The coupon system over HTTP (docs/callee-contract.md). */
export class CouponHttp implements CouponPort {
  constructor(private readonly c: HttpConnector) {}
  listCoupons: CouponPort['listCoupons'] = (userId) => this.c.read('listCoupons', { userId });
  lock: CouponPort['lock'] = (key, req) => this.c.mutate('lock', key, req);
  use: CouponPort['use'] = (key, req) => this.c.mutate('use', key, req);
  release: CouponPort['release'] = (key, req) => this.c.mutate('release', key, req);
  restore: CouponPort['restore'] = (key, req) => this.c.mutate('restore', key, req);
  issue: CouponPort['issue'] = (key, req) => this.c.mutate('issue', key, req);
  revoke: CouponPort['revoke'] = (key, req) => this.c.mutate('revoke', key, req);
}
