import { LineCells } from './bill-cells.ts';
import { billLineBatches, type BillSource } from './bill-lines.ts';
import { WECHAT_HEADER, WECHAT_SUMMARY_HEADER } from './bill-layouts.ts';
import { checkTotals, fenOf, instantOfChinaTime, TotalsCounter, type BillEvent } from './bill-format.ts';
import type { BillRow, BillRowStatus, BillTotals } from './bill-row.ts';

const COL = Object.fromEntries(WECHAT_HEADER.map((name, i) => [name, i])) as Record<(typeof WECHAT_HEADER)[number], number>;
/** The columns the reconciliation reads. */
const C = {
  time: COL['交易时间'], merchantId: COL['特约商户号'], tradeNo: COL['微信订单号'], paymentNo: COL['商户订单号'], state: COL['交易状态'],
  settledAmount: COL['应结订单金额'], wechatRefundNo: COL['微信退款单号'], refundNo: COL['商户退款单号'], refundAmount: COL['退款金额'],
  refundStatus: COL['退款状态'], fee: COL['手续费'],
};
/** Every field starts with a backtick, so `,\`` separates them (a comma inside a field stays in it). */
const SEPARATOR = ',`';
const PAYMENT_STATUS: Record<string, BillRowStatus> = { SUCCESS: 'succeeded', REVOKED: 'failed', PAYERROR: 'failed', CLOSED: 'failed', NOTPAY: 'pending', USERPAYING: 'pending' };
const REFUND_STATUS: Record<string, BillRowStatus> = { SUCCESS: 'succeeded', PROCESSING: 'pending', FAIL: 'failed', CHANGE: 'failed', REFUNDCLOSE: 'failed' };

/**
 * Parses a WeChat Pay v3 trade bill (bill_type=ALL), streamed: the header row, detail rows with
 * every field prefixed by a backtick, the summary header and its row. A payment row (交易状态
 * SUCCESS, REVOKED, …) yields a payment of 应结订单金额; a REFUND row yields a refund of 退款金额
 * keyed by 商户退款单号. Ends with the check of the summary against the rows.
 */
export async function* parseWechatBill(source: BillSource): AsyncGenerator<BillEvent> {
  const counter = new TotalsCounter();
  const problems: string[] = [];
  let stated: BillTotals | null = null;
  let n = 0;
  let sawHeader = false;
  let inSummary = false;
  const cells = new LineCells(WECHAT_HEADER.length);
  for await (const batch of billLineBatches(source)) for (const line of batch) {
    n++;
    if (line.trim() === '') continue;
    if (!sawHeader) {
      sawHeader = true;
      if (line !== WECHAT_HEADER.join(',')) problems.push(`line ${n}: not the WeChat trade bill header`);
      continue;
    }
    if (line === WECHAT_SUMMARY_HEADER.join(',')) {
      inSummary = true;
      continue;
    }
    if (inSummary) {
      const count = line[0] === '`' ? cells.split(line, SEPARATOR, 1) : 0;
      const rows = count > 0 ? Number(cells.text(0)) : Number.NaN;
      const [payments, refunds, fees] = count > 0 ? [cells.fen(1), cells.fen(2), cells.fen(4)] : [null, null, null];
      if (count !== WECHAT_SUMMARY_HEADER.length || !Number.isInteger(rows) || payments === null || refunds === null || fees === null) {
        problems.push(`line ${n}: malformed summary row`);
      } else if (stated !== null) problems.push(`line ${n}: a second summary row`);
      else stated = { rows, paymentsFen: payments, refundsFen: refunds, feesFen: fees };
      continue;
    }
    const row = detail(cells, line, n);
    if (typeof row === 'string') {
      problems.push(row);
      continue;
    }
    counter.add(row);
    yield { type: 'row', row };
  }
  if (!sawHeader) problems.push('the bill is empty: no header row');
  yield { type: 'end', check: checkTotals('wechat', counter.totals, stated, problems) };
}

function detail(v: LineCells, line: string, n: number): BillRow | string {
  if (line[0] !== '`') return `line ${n}: a detail row must start with a backtick`;
  const count = v.split(line, SEPARATOR, 1);
  if (count !== WECHAT_HEADER.length) return `line ${n}: ${count} fields, expected ${WECHAT_HEADER.length}`;
  const at = v.instant(C.time);
  const fee = v.fen(C.fee);
  if (at === null || fee === null) return `line ${n}: bad time or fee`;
  const state = v.text(C.state);
  if (state === 'REFUND') {
    const amount = v.fen(C.refundAmount);
    const status = REFUND_STATUS[v.text(C.refundStatus)];
    if (amount === null || amount < 0 || status === undefined) return `line ${n}: bad refund amount or status`;
    return {
      channel: 'wechat', kind: 'refund', merchantRef: v.text(C.refundNo), paymentNo: v.text(C.paymentNo), channelRef: v.text(C.wechatRefundNo),
      channelTradeNo: v.text(C.tradeNo), merchantId: v.text(C.merchantId), status, amountFen: amount, feeFen: fee, at, line: n,
    };
  }
  const amount = v.fen(C.settledAmount);
  const status = PAYMENT_STATUS[state];
  if (amount === null || amount < 0 || status === undefined) return `line ${n}: bad payment amount or status ${state}`;
  const paymentNo = v.text(C.paymentNo);
  const tradeNo = v.text(C.tradeNo);
  return {
    channel: 'wechat', kind: 'payment', merchantRef: paymentNo, paymentNo, channelRef: tradeNo,
    channelTradeNo: tradeNo, merchantId: v.text(C.merchantId), status, amountFen: amount, feeFen: fee, at, line: n,
  };
}
