import { deepStrictEqual } from 'node:assert/strict';
import fc from 'fast-check';
import t from 'tap';
import {
  decodePaymentCallback,
  decodeRefundCallback,
  encodePaymentCallback,
  encodeRefundCallback,
  fenToYuan,
  yuanToFen,
} from '../../systems/payment-gateway/callback-formats.ts';
import type { AsyncChannel, PaymentCallbackBody, RefundCallbackBody } from '../../systems/payment-gateway/port.ts';

const CHANNELS: readonly AsyncChannel[] = ['wechat', 'alipay', 'unionpay', 'senseless'];
const JSON_TYPE = 'application/json';
const FORM_TYPE = 'application/x-www-form-urlencoded';

const channel = fc.constantFrom(...CHANNELS);
const id = fc.string({ minLength: 1, maxLength: 24, unit: 'grapheme' });
// Channels state times to the second; the platform's shape is the UTC toISOString() form.
const time = fc.integer({ min: Date.UTC(2000, 0, 1) / 1000, max: Date.UTC(2099, 11, 31) / 1000 }).map((s) => new Date(s * 1000).toISOString());
const fen = fc.oneof(fc.integer({ min: 0, max: 1_000_000_000 }), fc.constantFrom(0, 1, 99, 100, 123456789, Number.MAX_SAFE_INTEGER));

const paymentBody = fc.record({
  paymentNo: id, txnNo: id, merchantId: id, amountFen: fen, channelTradeNo: id, paidAt: time,
  status: fc.constantFrom('SUCCESS' as const, 'CLOSED' as const, 'FAILED' as const),
});
const refundBody = fc.record({
  refundNo: id, paymentNo: id, txnNo: id, merchantId: id, amountFen: fen, channelRefundNo: id, refundedAt: time,
  status: fc.constantFrom('SUCCESS' as const, 'FAIL' as const),
});

const PAID: PaymentCallbackBody = {
  paymentNo: 'T1-P1', txnNo: 'T1', merchantId: 'M1', channel: 'wechat', amountFen: 29100, status: 'SUCCESS',
  channelTradeNo: '4200000000000000000000000001', paidAt: '2026-11-25T02:30:00.000Z',
};
const REFUNDED: RefundCallbackBody = {
  refundNo: 'R1-1', paymentNo: 'T1-P1', txnNo: 'T1', merchantId: 'M1', channel: 'wechat', amountFen: 5000, status: 'SUCCESS',
  channelRefundNo: '5030000000000000000000000001', refundedAt: '2026-11-25T03:00:05.000Z',
};

/** Decodes `raw` after `patch` changed its fields (JSON or form, as it was encoded). */
function patched(ch: AsyncChannel, encoded: { contentType: string; raw: string }, patch: (f: Record<string, unknown>) => void) {
  const json = encoded.contentType.startsWith(JSON_TYPE);
  const fields: Record<string, unknown> = json ? JSON.parse(encoded.raw) : Object.fromEntries(new URLSearchParams(encoded.raw));
  patch(fields);
  const raw = json ? JSON.stringify(fields) : new URLSearchParams(Object.entries(fields).map(([k, v]) => [k, String(v)])).toString();
  return decodePaymentCallback(ch, encoded.contentType, raw);
}

t.test('every channel round-trips a payment callback exactly: encode then decode gives the body back', async (t) => {
  fc.assert(fc.property(channel, paymentBody, (ch, b) => {
    const body: PaymentCallbackBody = { ...b, channel: ch };
    const { contentType, raw } = encodePaymentCallback(ch, body);
    deepStrictEqual(decodePaymentCallback(ch, contentType, raw), body);
  }), { numRuns: 500 });
  t.pass('500 bodies over the four channels');
});

t.test('every channel round-trips a refund callback exactly: encode then decode gives the body back', async (t) => {
  fc.assert(fc.property(channel, refundBody, (ch, b) => {
    const body: RefundCallbackBody = { ...b, channel: ch };
    const { contentType, raw } = encodeRefundCallback(ch, body);
    deepStrictEqual(decodeRefundCallback(ch, contentType, raw), body);
  }), { numRuns: 500 });
  t.pass('500 bodies over the four channels');
});

t.test('each channel speaks its own format: field names, units, China time and media type', async (t) => {
  const wechat = encodePaymentCallback('wechat', PAID);
  t.equal(wechat.contentType, 'application/json');
  t.same(JSON.parse(wechat.raw), {
    mch_id: 'M1', out_trade_no: 'T1-P1', transaction_id: PAID.channelTradeNo, attach: 'T1', total_fee: 29100,
    result_code: 'SUCCESS', time_end: '20261125103000',
  });

  const alipay = encodePaymentCallback('alipay', { ...PAID, channel: 'alipay' });
  t.match(alipay.contentType, /^application\/x-www-form-urlencoded/);
  t.same(Object.fromEntries(new URLSearchParams(alipay.raw)), {
    seller_id: 'M1', out_trade_no: 'T1-P1', trade_no: PAID.channelTradeNo, passback_params: 'T1', total_amount: '291.00',
    trade_status: 'TRADE_SUCCESS', gmt_payment: '2026-11-25 10:30:00',
  });

  const unionpay = encodePaymentCallback('unionpay', { ...PAID, channel: 'unionpay', status: 'FAILED' });
  t.same(Object.fromEntries(new URLSearchParams(unionpay.raw)), {
    txnType: '01', merId: 'M1', orderId: 'T1-P1', queryId: PAID.channelTradeNo, reqReserved: 'T1', txnAmt: '29100',
    respCode: '01', txnTime: '20261125103000',
  });

  const senseless = encodePaymentCallback('senseless', { ...PAID, channel: 'senseless', status: 'CLOSED' });
  t.same(JSON.parse(senseless.raw), {
    merchantId: 'M1', paymentNo: 'T1-P1', orderRef: 'T1', deductNo: PAID.channelTradeNo, amountFen: 29100,
    status: 'CLOSED', deductedAt: '2026-11-25T10:30:00+08:00',
  });

  t.same(Object.fromEntries(new URLSearchParams(encodeRefundCallback('alipay', { ...REFUNDED, channel: 'alipay', status: 'FAIL' }).raw)), {
    seller_id: 'M1', out_trade_no: 'T1-P1', out_request_no: 'R1-1', refund_id: REFUNDED.channelRefundNo, passback_params: 'T1',
    refund_amount: '50.00', refund_status: 'REFUND_FAIL', gmt_refund: '2026-11-25 11:00:05',
  });
  t.match(JSON.parse(encodeRefundCallback('wechat', REFUNDED).raw), { out_refund_no: 'R1-1', refund_fee: 5000, refund_status: 'SUCCESS' });
});

t.test('yuan strings become exact fen, without floating-point error', async (t) => {
  const cases: [string, number][] = [
    ['0.01', 1], ['0.1', 10], ['0.29', 29], ['1.15', 115], ['4.35', 435], ['291', 29100], ['291.00', 29100],
    ['1234567.89', 123456789], ['90071992547409.91', Number.MAX_SAFE_INTEGER],
  ];
  for (const [yuan, expected] of cases) t.equal(yuanToFen(yuan), expected, `${yuan} yuan is ${expected} fen`);
  for (const bad of ['', '.5', '01.00', '1.234', '-1.00', '+1.00', '1e3', '0x10', ' 1.00', '1,00', '1.', '90071992547409.92']) {
    t.equal(yuanToFen(bad), null, `'${bad}' is refused`);
  }
  fc.assert(fc.property(fc.integer({ min: 0, max: 90071992547408 }), fc.integer({ min: 0, max: 99 }), (yuan, cents) => {
    const text = `${yuan}.${String(cents).padStart(2, '0')}`;
    deepStrictEqual(yuanToFen(text), yuan * 100 + cents);
    deepStrictEqual(fenToYuan(yuan * 100 + cents), text);
  }));

  const alipayAmount = (amount: string) => decodePaymentCallback('alipay', FORM_TYPE, new URLSearchParams({
    seller_id: 'M1', out_trade_no: 'T1-P1', trade_no: '2088', passback_params: 'T1', total_amount: amount,
    trade_status: 'TRADE_SUCCESS', gmt_payment: '2026-11-25 10:30:00',
  }).toString())?.amountFen;
  t.equal(alipayAmount('0.01'), 1, 'an alipay body of 0.01 yuan is 1 fen');
  t.equal(alipayAmount('1234567.89'), 123456789);
  t.equal(alipayAmount('291.001'), undefined, 'three decimals are refused');
});

t.test('alipay bodies are accepted as JSON too, and a finished trade counts as paid', async (t) => {
  const fields = Object.fromEntries(new URLSearchParams(encodePaymentCallback('alipay', { ...PAID, channel: 'alipay' }).raw));
  t.same(decodePaymentCallback('alipay', 'application/json; charset=utf-8', JSON.stringify(fields)), { ...PAID, channel: 'alipay' });
  t.match(decodePaymentCallback('alipay', FORM_TYPE, new URLSearchParams({ ...fields, trade_status: 'TRADE_FINISHED' }).toString()), { status: 'SUCCESS' });
});

t.test('decode refuses what a channel would not send: unknown channel, wrong media type, malformed bodies', async (t) => {
  const wechat = encodePaymentCallback('wechat', PAID);
  t.equal(decodePaymentCallback('paypal', JSON_TYPE, wechat.raw), null, 'an unknown channel');
  t.equal(decodePaymentCallback('__proto__', JSON_TYPE, wechat.raw), null, 'not even an inherited name');
  t.equal(decodePaymentCallback('wechat', FORM_TYPE, wechat.raw), null, 'wechat does not send forms');
  t.equal(decodePaymentCallback('wechat', undefined, wechat.raw), null, 'no content type');
  t.equal(decodePaymentCallback('unionpay', JSON_TYPE, '{}'), null, 'unionpay does not send JSON');
  for (const raw of ['', '{', '[]', 'null', '"x"', '42']) t.equal(decodePaymentCallback('wechat', JSON_TYPE, raw), null, `body ${raw || '(empty)'}`);
  t.equal(decodePaymentCallback('alipay', FORM_TYPE, `${encodePaymentCallback('alipay', { ...PAID, channel: 'alipay' }).raw}&total_amount=1.00`), null,
    'a repeated form field is ambiguous');

  for (const ch of CHANNELS) {
    const encoded = encodePaymentCallback(ch, { ...PAID, channel: ch });
    const json = encoded.contentType.startsWith(JSON_TYPE);
    const keys = Object.keys(json ? JSON.parse(encoded.raw) : Object.fromEntries(new URLSearchParams(encoded.raw)));
    for (const k of keys) t.equal(patched(ch, encoded, (f) => delete f[k]), null, `${ch} without ${k}`);
    t.equal(patched(ch, encoded, (f) => { f[keys[1]!] = ''; }), null, `${ch} with an empty ${keys[1]}`);
    t.equal(decodeRefundCallback(ch, encoded.contentType, encoded.raw), null, `a ${ch} payment body is no refund`);
    const refund = encodeRefundCallback(ch, { ...REFUNDED, channel: ch });
    t.equal(decodePaymentCallback(ch, refund.contentType, refund.raw), null, `a ${ch} refund body is no payment`);
  }

  const bad: [AsyncChannel, string, (f: Record<string, unknown>) => void][] = [
    ['wechat', 'a fee sent as a string', (f) => { f.total_fee = '29100'; }],
    ['wechat', 'a fractional fee', (f) => { f.total_fee = 291.5; }],
    ['wechat', 'a negative fee', (f) => { f.total_fee = -1; }],
    ['wechat', 'an unknown result code', (f) => { f.result_code = 'MAYBE'; }],
    ['wechat', '30 February', (f) => { f.time_end = '20260230103000'; }],
    ['wechat', 'a time without seconds', (f) => { f.time_end = '202611251030'; }],
    ['alipay', 'a trade still waiting for the buyer', (f) => { f.trade_status = 'WAIT_BUYER_PAY'; }],
    ['alipay', 'an amount with three decimals', (f) => { f.total_amount = '291.000'; }],
    ['alipay', 'a closed trade without its close time', (f) => { f.trade_status = 'TRADE_CLOSED'; }],
    ['unionpay', 'an amount in yuan', (f) => { f.txnAmt = '291.00'; }],
    ['unionpay', 'a refund transaction type', (f) => { f.txnType = '04'; }],
    ['senseless', 'an unknown status', (f) => { f.status = 'PAID'; }],
    ['senseless', 'a time in UTC instead of China time', (f) => { f.deductedAt = '2026-11-25T02:30:00Z'; }],
  ];
  for (const [ch, what, patch] of bad) t.equal(patched(ch, encodePaymentCallback(ch, { ...PAID, channel: ch }), patch), null, `${ch}: ${what}`);
});

t.test('encode refuses a body no channel could carry: that is a bug, so it throws', async (t) => {
  t.throws(() => encodePaymentCallback('alipay', PAID), /wechat callback cannot be sent in the alipay format/);
  t.throws(() => encodePaymentCallback('wechat', { ...PAID, amountFen: 12.5 }), RangeError);
  t.throws(() => encodePaymentCallback('wechat', { ...PAID, amountFen: -1 }), RangeError);
  t.throws(() => encodeRefundCallback('wechat', { ...REFUNDED, refundedAt: 'yesterday' }), RangeError);
});
