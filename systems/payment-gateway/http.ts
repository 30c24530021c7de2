import type { HttpConnector } from '../http/connector.ts';
import type { PaymentGatewayPort } from './port.ts';

/**
 * The payment gateway over HTTP (docs/callee-contract.md). Its callbacks come the other way, to
 * the platform's `/v1/callbacks/...` routes, signed.
 */
export class PaymentGatewayHttp implements PaymentGatewayPort {
  constructor(private readonly c: HttpConnector) {}
  createPayment: PaymentGatewayPort['createPayment'] = (key, req) => this.c.mutate('createPayment', key, req);
  queryPayment: PaymentGatewayPort['queryPayment'] = (paymentNo) => this.c.read('queryPayment', { paymentNo });
  closePayment: PaymentGatewayPort['closePayment'] = (key, req) => this.c.mutate('closePayment', key, req);
  refundPayment: PaymentGatewayPort['refundPayment'] = (key, req) => this.c.mutate('refundPayment', key, req);
  queryRefund: PaymentGatewayPort['queryRefund'] = (refundNo) => this.c.read('queryRefund', { refundNo });
}
