import { ALIPAY_HEADER, ALIPAY_LIST_END, ALIPAY_LIST_START, CSV_HEADER, WECHAT_HEADER, WECHAT_SUMMARY_HEADER } from '../../../domain/reconciliation/bill-layouts.ts';
import { chinaDayBounds, chinaTime, feeRateText, TotalsCounter, yuan } from '../../../domain/reconciliation/bill-format.ts';
import type { BillChannel, BillRow } from '../../../domain/reconciliation/bill-row.ts';

/** One row the channel puts in its bill, before it is written in the channel's format. */
export interface BillFact extends Omit<BillRow, 'line'> {
  /** Our transaction number (WeChat's 商户数据包, the `attach` we sent). */
  txnNo: string;
  description: string;
}

/** The simulated channel's own accounts, as its bills print them. */
export const CHANNEL_ACCOUNTS = { wechatAppId: 'wx8888888888888888', wechatMchId: '1900000109', alipayAccount: '20881234567890120156' } as const;

/** A cell of a WeChat bill: every field is prefixed by a backtick, so spreadsheets keep long numbers as text. */
const tick = (value: string | number) => `\`${value}`;

const WECHAT_STATUS: Record<BillRow['status'], string> = { succeeded: 'SUCCESS', failed: 'REVOKED', pending: 'USERPAYING' };
const WECHAT_REFUND_STATUS: Record<BillRow['status'], string> = { succeeded: 'SUCCESS', failed: 'FAIL', pending: 'PROCESSING' };

/** The WeChat Pay v3 trade bill (bill_type=ALL), line by line, each ending in `\r\n`. */
export function* renderWechat(facts: Iterable<BillFact>): Generator<string> {
  const counter = new TotalsCounter();
  yield `${WECHAT_HEADER.join(',')}\r\n`;
  for (const f of facts) {
    counter.add(f);
    const payment = f.kind === 'payment';
    const cells = [
      chinaTime(Date.parse(f.at)), CHANNEL_ACCOUNTS.wechatAppId, CHANNEL_ACCOUNTS.wechatMchId, f.merchantId, '',
      f.channelTradeNo, f.paymentNo, `o${f.paymentNo.length}sim`, 'NATIVE',
      payment ? WECHAT_STATUS[f.status] : 'REFUND', 'OTHERS', 'CNY',
      yuan(payment ? f.amountFen : 0), '0.00',
      payment ? '0' : f.channelRef, payment ? '0' : f.merchantRef, yuan(payment ? 0 : f.amountFen), '0.00',
      payment ? '' : 'ORIGINAL', payment ? '' : WECHAT_REFUND_STATUS[f.status],
      f.description.replaceAll(',`', '，`'), f.txnNo, yuan(f.feeFen), feeRateText(f.channel),
      yuan(payment ? f.amountFen : 0), yuan(payment ? 0 : f.amountFen), '',
    ];
    yield `${cells.map(tick).join(',')}\r\n`;
  }
  const t = counter.totals;
  yield `${WECHAT_SUMMARY_HEADER.join(',')}\r\n`;
  yield `${[t.rows, yuan(t.paymentsFen), yuan(t.refundsFen), '0.00', yuan(t.feesFen), yuan(t.paymentsFen), yuan(t.refundsFen)].map(tick).join(',')}\r\n`;
}

const alipayStamp = (ms: number) => {
  const s = chinaTime(ms);
  return `${s.slice(0, 4)}年${s.slice(5, 7)}月${s.slice(8, 10)}日 ${s.slice(11)}`;
};

/**
 * The CSV of an Alipay `trade` bill (业务明细), line by line, as text: the caller encodes it in
 * GBK and zips it. Values end in a tab as Alipay writes them; a refund's 商家实收 is negative, the
 * fee (服务费) is negative on a trade and positive on a refund; 备注 carries the channel's refund
 * id on a refund row and `TRADE_CLOSED` / `REFUND_FAILED` / `WAIT_BUYER_PAY` / `REFUND_PROCESSING`
 * on a row that did not succeed.
 */
export function* renderAlipay(day: string, facts: Iterable<BillFact>): Generator<string> {
  const { startMs, endMs } = chinaDayBounds(day);
  const trades = { n: 0, fen: 0, fee: 0 };
  const refunds = { n: 0, fen: 0, fee: 0 };
  yield '#支付宝业务明细查询\r\n';
  yield `#账号：[${CHANNEL_ACCOUNTS.alipayAccount}]\r\n`;
  yield `#起始日期：[${alipayStamp(startMs)}]   终止日期：[${alipayStamp(endMs)}]\r\n`;
  yield `${ALIPAY_LIST_START}\r\n`;
  yield `${ALIPAY_HEADER.join(',')}\r\n`;
  for (const f of facts) {
    const payment = f.kind === 'payment';
    const sum = payment ? trades : refunds;
    sum.n++;
    sum.fen += f.amountFen;
    sum.fee += f.feeFen;
    const at = chinaTime(Date.parse(f.at));
    const notes = [payment ? '' : f.channelRef, f.status === 'succeeded' ? '' : ALIPAY_NOT_SUCCEEDED[f.kind][f.status]].filter(Boolean).join(' ');
    const cells = [
      // A comma would split the unquoted cell: Alipay's CSV has none inside values.
      f.channelTradeNo, f.paymentNo, payment ? '交易' : '退款', f.description.replaceAll(',', '，'), at, at, f.merchantId, '', '', '',
      'sim***@example.com', yuan(f.amountFen), yuan(payment ? f.amountFen : -f.amountFen), '0.00', '0.00', '0.00', '0.00',
      '0.00', '', '0.00', '0.00', payment ? '' : f.merchantRef, yuan(-f.feeFen), '0.00', notes,
    ];
    yield `${cells.map((c) => `${c}\t`).join(',')}\r\n`;
  }
  yield `${ALIPAY_LIST_END}\r\n`;
  yield `#交易合计：${trades.n}笔，商家实收共${yuan(trades.fen)}元，服务费共${yuan(-trades.fee)}元\r\n`;
  yield `#退款合计：${refunds.n}笔，商家实收共${yuan(-refunds.fen)}元，服务费共${yuan(-refunds.fee)}元\r\n`;
  yield `#导出时间：[${alipayStamp(endMs)}]\r\n`;
}

/** How an Alipay bill's 备注 says a row did not succeed. */
export const ALIPAY_NOT_SUCCEEDED = {
  payment: { failed: 'TRADE_CLOSED', pending: 'WAIT_BUYER_PAY' },
  refund: { failed: 'REFUND_FAILED', pending: 'REFUND_PROCESSING' },
} as const;

/** The documented CSV of UnionPay and senseless (docs/reconciliation-bills.md), line by line. */
export function* renderCsv(channel: Extract<BillChannel, 'unionpay' | 'senseless'>, day: string, facts: Iterable<BillFact>): Generator<string> {
  const counter = new TotalsCounter();
  yield `#bill,${channel},${day}\n`;
  yield `${CSV_HEADER.join(',')}\n`;
  for (const f of facts) {
    counter.add(f);
    yield `${[f.kind, chinaTime(Date.parse(f.at)), f.merchantRef, f.paymentNo, f.channelRef, f.channelTradeNo, f.merchantId, f.status, yuan(f.amountFen), yuan(f.feeFen)].join(',')}\n`;
  }
  const t = counter.totals;
  yield `#total,rows=${t.rows},payments=${yuan(t.paymentsFen)},refunds=${yuan(t.refundsFen)},fees=${yuan(t.feesFen)}\n`;
}
