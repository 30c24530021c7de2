import type { SystemName } from '../contract.ts';
import type { Systems } from '../index.ts';

/**
 * How a read's positional arguments travel: as the named fields of the JSON body, or (`request`)
 * the one argument is the body itself.
 */
export type ReadArgs = readonly string[] | 'request';

/** The operations of one port on the wire: its path prefix under `trade sim`, its reads and mutations. */
export interface PortOperations<P> {
  prefix: string;
  reads: { readonly [K in keyof P]?: ReadArgs };
  mutations: readonly (keyof P & string)[];
}

/**
 * Every port operation as the HTTP connectors send it and `trade sim` serves it
 * (`POST /{prefix}/{operation}`, docs/callee-contract.md). Reads are safe to repeat; mutations
 * carry a call key and are idempotent by it.
 */
export const HTTP_OPERATIONS = {
  user: { prefix: 'user', reads: { getUser: ['userId'] }, mutations: [] },
  fuelCatalog: { prefix: 'fuel-catalog', reads: { getStation: ['stationId'], getNozzle: ['stationId', 'nozzleNo'] }, mutations: [] },
  order: { prefix: 'order', reads: { getOrder: ['orderNo'] }, mutations: ['createOrder', 'markPaid', 'cancelOrder', 'markRefunded'] },
  paymentGateway: {
    prefix: 'payment-gateway',
    reads: { queryPayment: ['paymentNo'], queryRefund: ['refundNo'] },
    mutations: ['createPayment', 'closePayment', 'refundPayment'],
  },
  storedValue: { prefix: 'stored-value', reads: { getCard: ['cardNo'] }, mutations: ['lock', 'confirm', 'cancel', 'credit', 'debit'] },
  promotion: { prefix: 'promotion', reads: { listPromotions: 'request' }, mutations: [] },
  goods: { prefix: 'goods', reads: { getGoods: ['stationId', 'skus'] }, mutations: ['reserve', 'deduct', 'release'] },
  coupon: { prefix: 'coupon', reads: { listCoupons: ['userId'] }, mutations: ['lock', 'use', 'release', 'restore', 'issue', 'revoke'] },
  points: { prefix: 'points', reads: { getAccount: ['userId'] }, mutations: ['lock', 'deduct', 'release', 'restore', 'award', 'reverseAward'] },
  level: { prefix: 'level', reads: { getLevel: ['userId'] }, mutations: ['addGrowth', 'reverseGrowth'] },
  marketing: { prefix: 'marketing', reads: {}, mutations: ['record', 'reverse'] },
  campaign: { prefix: 'campaign', reads: {}, mutations: ['reward', 'reverse'] },
  settlement: { prefix: 'settlement', reads: {}, mutations: ['record', 'reverse'] },
  push: { prefix: 'push', reads: {}, mutations: ['notify'] },
  invoice: { prefix: 'invoice', reads: {}, mutations: ['issue', 'reverse'] },
  notify: { prefix: 'notify', reads: {}, mutations: ['send'] },
  os: { prefix: 'os', reads: {}, mutations: ['deliverEvent'] },
} as const satisfies { [S in SystemName]: PortOperations<Systems[S]> };

/** The system names in the order of the DOMAIN.md table. */
export const SYSTEM_NAMES = Object.keys(HTTP_OPERATIONS) as SystemName[];

type Covered<S extends SystemName> = keyof (typeof HTTP_OPERATIONS)[S]['reads'] | (typeof HTTP_OPERATIONS)[S]['mutations'][number];
type Uncovered = { [S in SystemName]: Exclude<keyof Systems[S], Covered<S>> }[SystemName];
// Fails to compile when a port gains an operation the wire protocol does not list.
const everyOperationListed: [Uncovered] extends [never] ? true : Uncovered = true;
void everyOperationListed;
