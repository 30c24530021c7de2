import type { HttpConnector } from '../http/connector.ts';
import type { StoredValuePort } from './port.ts';

/** The stored-value card system over HTTP (docs/callee-contract.md). */
export class StoredValueHttp implements StoredValuePort {
  constructor(private readonly c: HttpConnector) {}
  getCard: StoredValuePort['getCard'] = (cardNo) => this.c.read('getCard', { cardNo });
  lock: StoredValuePort['lock'] = (key, req) => this.c.mutate('lock', key, req);
  confirm: StoredValuePort['confirm'] = (key, req) => this.c.mutate('confirm', key, req);
  cancel: StoredValuePort['cancel'] = (key, req) => this.c.mutate('cancel', key, req);
  credit: StoredValuePort['credit'] = (key, req) => this.c.mutate('credit', key, req);
  debit: StoredValuePort['debit'] = (key, req) => this.c.mutate('debit', key, req);
}
