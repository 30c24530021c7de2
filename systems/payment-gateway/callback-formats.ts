import type { AsyncChannel, PaymentCallbackBody, RefundCallbackBody } from './port.ts';

/**
 * The wire formats of the gateway's callbacks, one per channel, and their translation to the one
 * shape the platform works with ({@link PaymentCallbackBody}, {@link RefundCallbackBody}).
 * The simulator encodes, the platform's callback routes decode; the signature
 * (`domain/signature.ts`) covers the raw body whatever the format.
 *
 * The formats are modelled on the real channels, simplified:
 * - wechat, JSON: `out_trade_no`, `transaction_id`, `total_fee` (fen, a number), `result_code`
 *   `SUCCESS`/`FAIL` (+ `err_code` `ORDERCLOSED`/`PAYERROR`), `attach` (our txnNo), `mch_id`,
 *   `time_end` `yyyyMMddHHmmss`; refunds: `out_refund_no`, `refund_id`, `refund_fee`,
 *   `refund_status` `SUCCESS`/`CHANGE`, `success_time` `yyyy-MM-dd HH:mm:ss`;
 * - alipay, form-urlencoded (JSON accepted too): `out_trade_no`, `trade_no`, `total_amount` (yuan
 *   string, `'291.00'`), `trade_status` `TRADE_SUCCESS`/`TRADE_CLOSED`, `seller_id`,
 *   `passback_params` (txnNo), `gmt_payment` / `gmt_close`; refunds: `out_request_no`,
 *   `refund_id`, `refund_amount`, `refund_status` `REFUND_SUCCESS`/`REFUND_FAIL`, `gmt_refund`;
 * - unionpay, form-urlencoded: `txnType` `01` (pay) / `04` (refund), `orderId`, `queryId`,
 *   `txnAmt` (fen, a digit string), `respCode` (`00` = success), `merId`, `reqReserved` (txnNo),
 *   `txnTime` `yyyyMMddHHmmss`; a refund also names `origOrderId`;
 * - senseless (plate-recognition payment), JSON: `paymentNo`, `deductNo`, `amountFen`, `status`
 *   `DEDUCTED`/`CLOSED`/`FAILED`, `merchantId`, `orderRef` (txnNo), `deductedAt` (ISO, +08:00),
 *   optional `plateNo`; refunds: `refundNo`, `refundId`, `status` `REFUNDED`/`FAILED`, `refundedAt`.
 *
 * Channels state times in China Standard Time to the second: an encoded time loses its
 * milliseconds, and a decoded one is the UTC `Date#toISOString()` form. So
 * `decode(encode(body))` equals `body` exactly when its times are whole seconds in that form
 * (the simulator's are).
 */

/** A callback as it goes over the wire. */
export interface EncodedCallback {
  contentType: string;
  raw: string;
}

/**
 * The payment callback in `channel`'s format. Throws on a body no channel could carry (amount
 * not a whole non-negative number of fen, unparseable time, or a body of another channel): that
 * is a bug in the caller, not a channel's refusal.
 */
export function encodePaymentCallback(channel: AsyncChannel, body: PaymentCallbackBody): EncodedCallback {
  return encode(channel, body, PAYMENT[channel]);
}

/**
 * The payment callback a channel sent, in the platform's shape; null when the channel is unknown,
 * the content type is not one the channel uses, or the body is malformed (missing or mistyped
 * fields, an amount that is not exact fen, an unknown status, a bad time).
 */
export function decodePaymentCallback(channel: string, contentType: string | undefined, raw: string): PaymentCallbackBody | null {
  return decode(channel, contentType, raw, PAYMENT);
}

/** The refund callback in `channel`'s format; throws like {@link encodePaymentCallback}. */
export function encodeRefundCallback(channel: AsyncChannel, body: RefundCallbackBody): EncodedCallback {
  return encode(channel, body, REFUND[channel]);
}

/** The refund callback a channel sent, in the platform's shape; null like {@link decodePaymentCallback}. */
export function decodeRefundCallback(channel: string, contentType: string | undefined, raw: string): RefundCallbackBody | null {
  return decode(channel, contentType, raw, REFUND);
}

/** Fen as a yuan string with two decimals: 29100 → `'291.00'`, 1 → `'0.01'`. */
export function fenToYuan(fen: number): string {
  checkFen(fen);
  return `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
}

/**
 * A yuan string (at most two decimals, no sign, no exponent) as fen, or null. Parsed as digits,
 * never through a float: `Number('0.29') * 100` is 28.999999999999996.
 */
export function yuanToFen(yuan: string): number | null {
  const m = /^(0|[1-9]\d*)(?:\.(\d{1,2}))?$/.exec(yuan);
  if (!m) return null;
  const fen = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
  // Above 2^53 the integer part was already rounded when read, so the sum is refused, not trusted.
  return Number.isSafeInteger(fen) ? fen : null;
}

type Media = 'json' | 'form';
type Fields = Record<string, unknown>;

/** One channel's format for one kind of callback. `decode` gets fields of a known media type. */
interface Codec<B> {
  /** The media type the channel sends; decode also accepts `accepts`. */
  sends: Media;
  accepts: readonly Media[];
  encode(body: B): Record<string, string | number>;
  decode(fields: Fields): B | null;
}

const CONTENT_TYPE: Record<Media, string> = {
  json: 'application/json',
  form: 'application/x-www-form-urlencoded; charset=utf-8',
};

function encode<B extends { channel: AsyncChannel; amountFen: number }>(channel: AsyncChannel, body: B, codec: Codec<B>): EncodedCallback {
  if (body.channel !== channel) throw new Error(`a ${body.channel} callback cannot be sent in the ${channel} format`);
  checkFen(body.amountFen);
  const fields = codec.encode(body);
  const raw = codec.sends === 'json'
    ? JSON.stringify(fields)
    : new URLSearchParams(Object.entries(fields).map(([k, v]) => [k, String(v)])).toString();
  return { contentType: CONTENT_TYPE[codec.sends], raw };
}

function decode<B>(channel: string, contentType: string | undefined, raw: string, codecs: Record<AsyncChannel, Codec<B>>): B | null {
  if (!Object.hasOwn(codecs, channel)) return null;
  const codec = codecs[channel as AsyncChannel];
  const media = mediaOf(contentType);
  if (!media || !codec.accepts.includes(media)) return null;
  const fields = media === 'json' ? jsonFields(raw) : formFields(raw);
  return fields && codec.decode(fields);
}

function mediaOf(contentType: string | undefined): Media | null {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  return type === 'application/json' ? 'json' : type === 'application/x-www-form-urlencoded' ? 'form' : null;
}

function jsonFields(raw: string): Fields | null {
  try {
    const value: unknown = JSON.parse(raw);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Fields) : null;
  } catch {
    return null;
  }
}

function formFields(raw: string): Fields | null {
  const fields: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    // A repeated field is ambiguous (which one did the channel mean?): refuse rather than guess.
    if (Object.hasOwn(fields, k)) return null;
    fields[k] = v;
  }
  return fields;
}

function checkFen(fen: number): void {
  if (!Number.isSafeInteger(fen) || fen < 0) throw new RangeError(`${fen} is not a whole non-negative number of fen`);
}

/** The named fields as non-empty strings, or null if any is missing, empty or not a string. */
function strings<K extends string>(f: Fields, keys: readonly K[]): Record<K, string> | null {
  const out = {} as Record<K, string>;
  for (const k of keys) {
    const v = f[k];
    if (typeof v !== 'string' || v === '') return null;
    out[k] = v;
  }
  return out;
}

/** Fen sent as a JSON number. */
function fenNumber(v: unknown): number | null {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null;
}

/** Fen sent as a digit string (unionpay's `txnAmt`). */
function fenDigits(v: string): number | null {
  const fen = /^(0|[1-9]\d*)$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(fen) ? fen : null;
}

// China Standard Time has no daylight saving: a fixed offset is exact.
const CST_OFFSET_MS = 8 * 3600_000;
const TIME_STYLES = {
  compact: { pattern: /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/, format: (p: string[]) => p.join('') },
  spaced: {
    pattern: /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/,
    format: ([y, mo, d, h, mi, s]: string[]) => `${y}-${mo}-${d} ${h}:${mi}:${s}`,
  },
  iso: {
    pattern: /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\+08:00$/,
    format: ([y, mo, d, h, mi, s]: string[]) => `${y}-${mo}-${d}T${h}:${mi}:${s}+08:00`,
  },
} as const;
type TimeStyle = keyof typeof TIME_STYLES;

function cstParts(ms: number): string[] {
  const d = new Date(ms + CST_OFFSET_MS);
  return [
    String(d.getUTCFullYear()).padStart(4, '0'),
    ...[d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()].map((n) => String(n).padStart(2, '0')),
  ];
}

/** An ISO instant as the channel's China-time string, to the second (milliseconds dropped). */
function toCst(iso: string, style: TimeStyle): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new RangeError(`${iso} is not a time`);
  return TIME_STYLES[style].format(cstParts(ms));
}

/** A channel's China-time string as a UTC ISO instant; null when malformed or not a real date. */
function fromCst(text: string, style: TimeStyle): string | null {
  const m = TIME_STYLES[style].pattern.exec(text);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s) - CST_OFFSET_MS;
  // Date.UTC rolls 31 February over into March; formatting back catches such impossible dates.
  return toCst(new Date(ms).toISOString(), style) === text ? new Date(ms).toISOString() : null;
}

// Unionpay notifies outcomes by response code only. '00' is success; the simulator's own
// convention reports a close as '02' and a decline as '01' so both round-trip, and any other
// code is read as a decline.
const UNIONPAY_CODE = { SUCCESS: '00', FAILED: '01', CLOSED: '02' } as const;

const PAYMENT: Record<AsyncChannel, Codec<PaymentCallbackBody>> = {
  wechat: {
    sends: 'json',
    accepts: ['json'],
    encode: (b) => ({
      mch_id: b.merchantId,
      out_trade_no: b.paymentNo,
      transaction_id: b.channelTradeNo,
      attach: b.txnNo,
      total_fee: b.amountFen,
      result_code: b.status === 'SUCCESS' ? 'SUCCESS' : 'FAIL',
      ...(b.status === 'SUCCESS' ? {} : { err_code: b.status === 'CLOSED' ? 'ORDERCLOSED' : 'PAYERROR' }),
      time_end: toCst(b.paidAt, 'compact'),
    }),
    decode: (f) => {
      const s = strings(f, ['mch_id', 'out_trade_no', 'transaction_id', 'attach', 'result_code', 'time_end']);
      const amountFen = fenNumber(f.total_fee);
      const paidAt = s && fromCst(s.time_end, 'compact');
      const status = s?.result_code === 'SUCCESS' ? 'SUCCESS' : s?.result_code !== 'FAIL' ? null : f.err_code === 'ORDERCLOSED' ? 'CLOSED' : 'FAILED';
      if (!s || amountFen === null || !paidAt || !status) return null;
      return { paymentNo: s.out_trade_no, txnNo: s.attach, merchantId: s.mch_id, channel: 'wechat', amountFen, status, channelTradeNo: s.transaction_id, paidAt };
    },
  },
  alipay: {
    sends: 'form',
    accepts: ['form', 'json'],
    // Alipay has no "declined" notification: a decline is a closed trade, told apart by the
    // sub_code its synchronous API uses for it.
    encode: (b) => ({
      seller_id: b.merchantId,
      out_trade_no: b.paymentNo,
      trade_no: b.channelTradeNo,
      passback_params: b.txnNo,
      total_amount: fenToYuan(b.amountFen),
      trade_status: b.status === 'SUCCESS' ? 'TRADE_SUCCESS' : 'TRADE_CLOSED',
      ...(b.status === 'FAILED' ? { sub_code: 'ACQ.PAYMENT_FAIL' } : {}),
      [b.status === 'SUCCESS' ? 'gmt_payment' : 'gmt_close']: toCst(b.paidAt, 'spaced'),
    }),
    decode: (f) => {
      const s = strings(f, ['seller_id', 'out_trade_no', 'trade_no', 'passback_params', 'total_amount', 'trade_status']);
      // TRADE_FINISHED is a success past its refund period: still paid.
      const paid = s?.trade_status === 'TRADE_SUCCESS' || s?.trade_status === 'TRADE_FINISHED';
      const status = paid ? 'SUCCESS' : s?.trade_status !== 'TRADE_CLOSED' ? null : f.sub_code === 'ACQ.PAYMENT_FAIL' ? 'FAILED' : 'CLOSED';
      const time = f[paid ? 'gmt_payment' : 'gmt_close'];
      const paidAt = typeof time === 'string' ? fromCst(time, 'spaced') : null;
      const amountFen = s && yuanToFen(s.total_amount);
      if (!s || !status || !paidAt || amountFen === null) return null;
      return { paymentNo: s.out_trade_no, txnNo: s.passback_params, merchantId: s.seller_id, channel: 'alipay', amountFen, status, channelTradeNo: s.trade_no, paidAt };
    },
  },
  unionpay: {
    sends: 'form',
    accepts: ['form'],
    encode: (b) => ({
      txnType: '01',
      merId: b.merchantId,
      orderId: b.paymentNo,
      queryId: b.channelTradeNo,
      reqReserved: b.txnNo,
      txnAmt: String(b.amountFen),
      respCode: UNIONPAY_CODE[b.status],
      txnTime: toCst(b.paidAt, 'compact'),
    }),
    decode: (f) => {
      const s = strings(f, ['txnType', 'merId', 'orderId', 'queryId', 'reqReserved', 'txnAmt', 'respCode', 'txnTime']);
      const amountFen = s && fenDigits(s.txnAmt);
      const paidAt = s && fromCst(s.txnTime, 'compact');
      if (!s || s.txnType !== '01' || amountFen === null || !paidAt) return null;
      const status = s.respCode === UNIONPAY_CODE.SUCCESS ? 'SUCCESS' : s.respCode === UNIONPAY_CODE.CLOSED ? 'CLOSED' : 'FAILED';
      return { paymentNo: s.orderId, txnNo: s.reqReserved, merchantId: s.merId, channel: 'unionpay', amountFen, status, channelTradeNo: s.queryId, paidAt };
    },
  },
  senseless: {
    sends: 'json',
    accepts: ['json'],
    encode: (b) => ({
      merchantId: b.merchantId,
      paymentNo: b.paymentNo,
      orderRef: b.txnNo,
      deductNo: b.channelTradeNo,
      amountFen: b.amountFen,
      status: b.status === 'SUCCESS' ? 'DEDUCTED' : b.status,
      deductedAt: toCst(b.paidAt, 'iso'),
    }),
    decode: (f) => {
      const s = strings(f, ['merchantId', 'paymentNo', 'orderRef', 'deductNo', 'status', 'deductedAt']);
      const amountFen = fenNumber(f.amountFen);
      const paidAt = s && fromCst(s.deductedAt, 'iso');
      const status = s?.status === 'DEDUCTED' ? 'SUCCESS' : s?.status === 'CLOSED' || s?.status === 'FAILED' ? s.status : null;
      if (!s || amountFen === null || !paidAt || !status) return null;
      return { paymentNo: s.paymentNo, txnNo: s.orderRef, merchantId: s.merchantId, channel: 'senseless', amountFen, status, channelTradeNo: s.deductNo, paidAt };
    },
  },
};

const REFUND: Record<AsyncChannel, Codec<RefundCallbackBody>> = {
  wechat: {
    sends: 'json',
    accepts: ['json'],
    encode: (b) => ({
      mch_id: b.merchantId,
      out_trade_no: b.paymentNo,
      out_refund_no: b.refundNo,
      refund_id: b.channelRefundNo,
      attach: b.txnNo,
      refund_fee: b.amountFen,
      // CHANGE is wechat's "refund went wrong, see the merchant platform".
      refund_status: b.status === 'SUCCESS' ? 'SUCCESS' : 'CHANGE',
      success_time: toCst(b.refundedAt, 'spaced'),
    }),
    decode: (f) => {
      const s = strings(f, ['mch_id', 'out_trade_no', 'out_refund_no', 'refund_id', 'attach', 'refund_status', 'success_time']);
      const amountFen = fenNumber(f.refund_fee);
      const refundedAt = s && fromCst(s.success_time, 'spaced');
      const status = s?.refund_status === 'SUCCESS' ? 'SUCCESS' : s?.refund_status === 'CHANGE' || s?.refund_status === 'REFUNDCLOSE' ? 'FAIL' : null;
      if (!s || amountFen === null || !refundedAt || !status) return null;
      return {
        refundNo: s.out_refund_no, paymentNo: s.out_trade_no, txnNo: s.attach, merchantId: s.mch_id, channel: 'wechat',
        amountFen, status, channelRefundNo: s.refund_id, refundedAt,
      };
    },
  },
  alipay: {
    sends: 'form',
    accepts: ['form', 'json'],
    encode: (b) => ({
      seller_id: b.merchantId,
      out_trade_no: b.paymentNo,
      out_request_no: b.refundNo,
      refund_id: b.channelRefundNo,
      passback_params: b.txnNo,
      refund_amount: fenToYuan(b.amountFen),
      refund_status: b.status === 'SUCCESS' ? 'REFUND_SUCCESS' : 'REFUND_FAIL',
      gmt_refund: toCst(b.refundedAt, 'spaced'),
    }),
    decode: (f) => {
      const s = strings(f, ['seller_id', 'out_trade_no', 'out_request_no', 'refund_id', 'passback_params', 'refund_amount', 'refund_status', 'gmt_refund']);
      const amountFen = s && yuanToFen(s.refund_amount);
      const refundedAt = s && fromCst(s.gmt_refund, 'spaced');
      const status = s?.refund_status === 'REFUND_SUCCESS' ? 'SUCCESS' : s?.refund_status === 'REFUND_FAIL' ? 'FAIL' : null;
      if (!s || amountFen === null || !refundedAt || !status) return null;
      return {
        refundNo: s.out_request_no, paymentNo: s.out_trade_no, txnNo: s.passback_params, merchantId: s.seller_id, channel: 'alipay',
        amountFen, status, channelRefundNo: s.refund_id, refundedAt,
      };
    },
  },
  unionpay: {
    sends: 'form',
    accepts: ['form'],
    // A unionpay refund is a transaction of its own (txnType 04) pointing back at the payment.
    encode: (b) => ({
      txnType: '04',
      merId: b.merchantId,
      orderId: b.refundNo,
      origOrderId: b.paymentNo,
      queryId: b.channelRefundNo,
      reqReserved: b.txnNo,
      txnAmt: String(b.amountFen),
      respCode: b.status === 'SUCCESS' ? UNIONPAY_CODE.SUCCESS : UNIONPAY_CODE.FAILED,
      txnTime: toCst(b.refundedAt, 'compact'),
    }),
    decode: (f) => {
      const s = strings(f, ['txnType', 'merId', 'orderId', 'origOrderId', 'queryId', 'reqReserved', 'txnAmt', 'respCode', 'txnTime']);
      const amountFen = s && fenDigits(s.txnAmt);
      const refundedAt = s && fromCst(s.txnTime, 'compact');
      if (!s || s.txnType !== '04' || amountFen === null || !refundedAt) return null;
      return {
        refundNo: s.orderId, paymentNo: s.origOrderId, txnNo: s.reqReserved, merchantId: s.merId, channel: 'unionpay',
        amountFen, status: s.respCode === UNIONPAY_CODE.SUCCESS ? 'SUCCESS' : 'FAIL', channelRefundNo: s.queryId, refundedAt,
      };
    },
  },
  senseless: {
    sends: 'json',
    accepts: ['json'],
    encode: (b) => ({
      merchantId: b.merchantId,
      paymentNo: b.paymentNo,
      refundNo: b.refundNo,
      refundId: b.channelRefundNo,
      orderRef: b.txnNo,
      amountFen: b.amountFen,
      status: b.status === 'SUCCESS' ? 'REFUNDED' : 'FAILED',
      refundedAt: toCst(b.refundedAt, 'iso'),
    }),
    decode: (f) => {
      const s = strings(f, ['merchantId', 'paymentNo', 'refundNo', 'refundId', 'orderRef', 'status', 'refundedAt']);
      const amountFen = fenNumber(f.amountFen);
      const refundedAt = s && fromCst(s.refundedAt, 'iso');
      const status = s?.status === 'REFUNDED' ? 'SUCCESS' : s?.status === 'FAILED' ? 'FAIL' : null;
      if (!s || amountFen === null || !refundedAt || !status) return null;
      return {
        refundNo: s.refundNo, paymentNo: s.paymentNo, txnNo: s.orderRef, merchantId: s.merchantId, channel: 'senseless',
        amountFen, status, channelRefundNo: s.refundId, refundedAt,
      };
    },
  },
};
