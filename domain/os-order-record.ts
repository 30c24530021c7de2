import { hash } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';

/** One item of an {@link OsOrderRecord}: fuel (quantity in ml, price per litre) or goods (units). */
export interface OsOrderItem {
  type: 'fuel' | 'goods';
  name: string;
  grade?: string;
  nozzleNo?: number;
  sku?: string;
  quantity: number;
  unitPriceFen: number;
  amountFen: number;
}

/** One discount OS gave on an order (order-level: spread over the items when imported). */
export interface OsOrderDiscount {
  kind: 'promotion' | 'coupon' | 'points' | 'manual';
  name: string;
  amountFen: number;
}

/** One payment of an OS order, with OS's own method code (see {@link OS_METHODS}). */
export interface OsOrderPayment {
  payNo: number;
  method: string;
  amountFen: number;
  channelTradeNo: string | null;
  cardNo: string | null;
}

/** A refund OS already made, by payment. */
export interface OsOrderRefund {
  osRefundNo: string;
  refundedAt: string;
  payments: { payNo: number; amountFen: number }[];
}

/**
 * One order of OS's history export (DOMAIN.md "Rollout, OS and history"; schemas/os-order.schema.json,
 * docs/os-import.md). Money is integer fen, times ISO 8601 with an offset.
 */
export interface OsOrderRecord {
  stationId: string;
  terminalId: string;
  shiftNo: string;
  osOrderNo: string;
  createdAt: string;
  paidAt: string;
  items: OsOrderItem[];
  discounts: OsOrderDiscount[];
  payments: OsOrderPayment[];
  refunds: OsOrderRefund[];
  member: { userId: string; cardNo: string | null } | null;
}

/** Our payment method of each OS payment code; a code not listed is refused (`unmappable method`). */
export const OS_METHODS = {
  CASH: 'cash',
  WXPAY: 'wechat',
  ALIPAY: 'alipay',
  UNIONPAY: 'unionpay',
  IC_CARD: 'stored_value',
} as const;

export type OsMethodCode = keyof typeof OS_METHODS;
export type ImportedMethod = (typeof OS_METHODS)[OsMethodCode];

/** Why a record is refused (the rejects file's `reason` column starts with one of these). */
export type OsRejectCode = 'invalid record' | 'unknown station' | 'bad time' | 'unmappable method' | 'amounts do not add up' | 'seen with other content';

/** A record accepted for import: the record with its times and methods resolved. */
export interface CheckedOsOrder {
  record: OsOrderRecord;
  createdAtMs: number;
  paidAtMs: number;
  /** Per payment, in record order: our method. */
  methods: ImportedMethod[];
  refundedAtMs: number[];
  /** Hash of the record's canonical JSON: the same number seen again must carry the same content. */
  contentHash: string;
}

export type OsCheck = { ok: true; order: CheckedOsOrder } | { ok: false; code: OsRejectCode; message: string };

// An offset is required: a history export without one cannot be placed in time.
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

function timeOf(value: string): number | null {
  if (!ISO_WITH_OFFSET.test(value)) return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

const sum = (xs: readonly { amountFen: number }[]) => xs.reduce((a, x) => a + x.amountFen, 0);

/**
 * Checks a schema-valid record against the business rules of an import, pure: a known station,
 * times with an offset (paid not before created, refunds not before paid), known methods, items
 * minus discounts equal to payments, refunds of existing payments within what each paid.
 */
export function checkOsOrder(record: OsOrderRecord, stationKnown: (stationId: string) => boolean): OsCheck {
  if (!stationKnown(record.stationId)) return { ok: false, code: 'unknown station', message: `station ${record.stationId} is not known` };
  const createdAtMs = timeOf(record.createdAt);
  const paidAtMs = timeOf(record.paidAt);
  if (createdAtMs === null) return { ok: false, code: 'bad time', message: `createdAt ${JSON.stringify(record.createdAt)} is not an ISO time with an offset` };
  if (paidAtMs === null) return { ok: false, code: 'bad time', message: `paidAt ${JSON.stringify(record.paidAt)} is not an ISO time with an offset` };
  if (paidAtMs < createdAtMs) return { ok: false, code: 'bad time', message: 'paidAt is before createdAt' };
  const methods: ImportedMethod[] = [];
  for (const p of record.payments) {
    const method = Object.hasOwn(OS_METHODS, p.method) ? OS_METHODS[p.method as OsMethodCode] : undefined;
    if (!method) return { ok: false, code: 'unmappable method', message: `payment ${p.payNo}: method ${JSON.stringify(p.method)} has no mapping` };
    if (method === 'stored_value' && !p.cardNo) return { ok: false, code: 'invalid record', message: `payment ${p.payNo}: an IC_CARD payment without cardNo` };
    methods.push(method);
  }
  const payNos = record.payments.map((p) => p.payNo);
  if (payNos.some((n, i) => n !== i + 1)) return { ok: false, code: 'invalid record', message: 'payments must be numbered 1, 2, … in order' };
  for (const item of record.items) {
    if (item.type === 'goods' && item.amountFen !== item.quantity * item.unitPriceFen) {
      return { ok: false, code: 'amounts do not add up', message: `item ${item.name}: ${item.quantity} × ${item.unitPriceFen} is not ${item.amountFen} fen` };
    }
  }
  const itemsFen = sum(record.items);
  const discountFen = sum(record.discounts);
  const paidFen = sum(record.payments);
  if (discountFen > itemsFen) return { ok: false, code: 'amounts do not add up', message: `discounts ${discountFen} fen exceed items ${itemsFen} fen` };
  if (itemsFen - discountFen !== paidFen) {
    return { ok: false, code: 'amounts do not add up', message: `items ${itemsFen} − discounts ${discountFen} = ${itemsFen - discountFen} fen, payments ${paidFen} fen` };
  }
  const refundedOf = new Map<number, number>();
  const refundedAtMs: number[] = [];
  for (const r of record.refunds) {
    const at = timeOf(r.refundedAt);
    if (at === null || at < paidAtMs) return { ok: false, code: 'bad time', message: `refund ${r.osRefundNo}: refundedAt ${JSON.stringify(r.refundedAt)} is not an ISO time at or after paidAt` };
    refundedAtMs.push(at);
    for (const p of r.payments) {
      const paid = record.payments.find((x) => x.payNo === p.payNo);
      if (!paid) return { ok: false, code: 'amounts do not add up', message: `refund ${r.osRefundNo}: no payment ${p.payNo}` };
      const total = (refundedOf.get(p.payNo) ?? 0) + p.amountFen;
      if (total > paid.amountFen) return { ok: false, code: 'amounts do not add up', message: `refunds of payment ${p.payNo} (${total} fen) exceed it (${paid.amountFen} fen)` };
      refundedOf.set(p.payNo, total);
    }
  }
  // One-shot hashes: a Hash object per record cost more than the digest (an import hashes every record).
  const contentHash = hash('sha256', canonicalJson(record), 'hex').slice(0, 32);
  return { ok: true, order: { record, createdAtMs, paidAtMs, methods, refundedAtMs, contentHash } };
}

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * Our numbers of an imported order, deterministic from (station, OS order number): the same
 * record imported twice, by two processes or after a crash, is the same transaction. Same layout
 * as domain/ids.ts (17 digits of UTC time, 4 digits, 6 base-32 characters), the time being the
 * order's, the last 10 characters a hash of its identity.
 */
export function importedNumbers(stationId: string, osOrderNo: string, createdAtMs: number): { txnNo: string; orderNo: string; quoteId: string } {
  const digest = hash('sha256', `${stationId}\u0000${osOrderNo}`, 'buffer');
  const digits = String(digest.readUInt32BE(0) % 10_000).padStart(4, '0');
  let node = '';
  for (let i = 0; i < 6; i++) node += ALPHABET[(digest[4 + i] ?? 0) % 32];
  const stamp = new Date(createdAtMs).toISOString().replace(/[-:TZ.]/g, '');
  const tail = `${stamp}${digits}${node}`;
  return { txnNo: `T${tail}`, orderNo: `O${tail}`, quoteId: `Q${tail}` };
}
