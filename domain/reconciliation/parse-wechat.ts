import { billLineBatches, type BillSource } from './bill-lines.ts';
import { WECHAT_HEADER, WECHAT_SUMMARY_HEADER } from './bill-layouts.ts';
import { checkTotals, fenOf, instantOfChinaTime, TotalsCounter, type BillEvent } from './bill-format.ts';
import type { BillRow, BillRowStatus, BillTotals } from './bill-row.ts';

const COL = Object.fromEntries(WECHAT_HEADER.map((name, i) => [name, i])) as Record<(typeof WECHAT_HEADER)[number], number>;
const PAYMENT_STATUS: Record<string, BillRowStatus> = { SUCCESS: 'succeeded', REVOKED: 'failed', PAYERROR: 'failed', CLOSED: 'failed', NOTPAY: 'pending', USERPAYING: 'pending' };
const REFUND_STATUS: Record<string, BillRowStatus> = { SUCCESS: 'succeeded', PROCESSING: 'pending', FAIL: 'failed', CHANGE: 'failed', REFUNDCLOSE: 'failed' };

/** The fields of a WeChat bill line: each starts with a backtick, so `,\`` separates them. */
function cells(line: string): string[] {
  return line.slice(1).split(',`');
}

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
      const v = cells(line);
      const rows = Number(v[0]);
      const [payments, refunds, fees] = [fenOf(v[1] ?? ''), fenOf(v[2] ?? ''), fenOf(v[4] ?? '')];
      if (line[0] !== '`' || v.length !== WECHAT_SUMMARY_HEADER.length || !Number.isInteger(rows) || payments === null || refunds === null || fees === null) {
        problems.push(`line ${n}: malformed summary row`);
      } else if (stated !== null) problems.push(`line ${n}: a second summary row`);
      else stated = { rows, paymentsFen: payments, refundsFen: refunds, feesFen: fees };
      continue;
    }
    const row = detail(line, n);
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

function detail(line: string, n: number): BillRow | string {
  if (line[0] !== '`') return `line ${n}: a detail row must start with a backtick`;
  const v = cells(line);
  if (v.length !== WECHAT_HEADER.length) return `line ${n}: ${v.length} fields, expected ${WECHAT_HEADER.length}`;
  const at = instantOfChinaTime(v[COL['交易时间']]!);
  const fee = fenOf(v[COL['手续费']]!);
  if (at === null || fee === null) return `line ${n}: bad time or fee`;
  const state = v[COL['交易状态']]!;
  const base = { channel: 'wechat' as const, channelTradeNo: v[COL['微信订单号']]!, merchantId: v[COL['特约商户号']]!, paymentNo: v[COL['商户订单号']]!, feeFen: fee, at, line: n };
  if (state === 'REFUND') {
    const amount = fenOf(v[COL['退款金额']]!);
    const status = REFUND_STATUS[v[COL['退款状态']]!];
    if (amount === null || amount < 0 || status === undefined) return `line ${n}: bad refund amount or status`;
    return { ...base, kind: 'refund', merchantRef: v[COL['商户退款单号']]!, channelRef: v[COL['微信退款单号']]!, status, amountFen: amount };
  }
  const amount = fenOf(v[COL['应结订单金额']]!);
  const status = PAYMENT_STATUS[state];
  if (amount === null || amount < 0 || status === undefined) return `line ${n}: bad payment amount or status ${state}`;
  return { ...base, kind: 'payment', merchantRef: base.paymentNo, channelRef: base.channelTradeNo, status, amountFen: amount };
}
