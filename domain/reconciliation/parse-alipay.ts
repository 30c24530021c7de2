import { Unzip, UnzipInflate, type UnzipFile } from 'fflate';
import iconv from 'iconv-lite';
import { billLineBatches, type BillSource, type StreamDecoder } from './bill-lines.ts';
import { ALIPAY_HEADER, ALIPAY_LIST_END, ALIPAY_LIST_START } from './bill-layouts.ts';
import { checkTotals, fenOf, instantOfChinaTime, TotalsCounter, type BillEvent } from './bill-format.ts';
import type { BillRow, BillRowStatus, BillTotals } from './bill-row.ts';

const COL = Object.fromEntries(ALIPAY_HEADER.map((name, i) => [name, i])) as Record<(typeof ALIPAY_HEADER)[number], number>;
const NOT_SUCCEEDED: Record<string, BillRowStatus> = { TRADE_CLOSED: 'failed', WAIT_BUYER_PAY: 'pending', REFUND_FAILED: 'failed', REFUND_PROCESSING: 'pending' };
const TRADES = /^#交易合计：(\d+)笔，商家实收共(-?\d+\.\d{2})元，服务费共(-?\d+\.\d{2})元/;
const REFUNDS = /^#退款合计：(\d+)笔，商家实收共(-?\d+\.\d{2})元，服务费共(-?\d+\.\d{2})元/;

/** GBK, as Alipay encodes its CSV, decoded chunk by chunk. */
export function gbkDecoder(): StreamDecoder {
  const decoder = iconv.getDecoder('gbk');
  return { write: (bytes) => decoder.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)), end: () => decoder.end() ?? '' };
}

/**
 * The bytes of the 业务明细 CSV inside Alipay's zip, inflated as the zip streams in (the
 * 汇总 file beside it, if any, is skipped). A source that is not a zip is passed through as the CSV.
 */
export async function* alipayCsvBytes(source: BillSource): AsyncGenerator<Uint8Array> {
  const out: Uint8Array[] = [];
  let error: Error | null = null;
  let zipped: boolean | null = null;
  let found = false;
  const unzip = new Unzip((file: UnzipFile) => {
    if (found || !file.name.endsWith('业务明细.csv')) return;
    found = true;
    file.ondata = (err, data) => {
      if (err) error = err;
      else if (data.length > 0) out.push(data);
    };
    file.start();
  });
  unzip.register(UnzipInflate);
  for await (const chunk of source) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    if (zipped === null) zipped = bytes[0] === 0x50 && bytes[1] === 0x4b;
    if (!zipped) {
      yield bytes;
      continue;
    }
    unzip.push(bytes);
    if (error) throw error;
    while (out.length > 0) yield out.shift()!;
  }
  if (zipped) {
    unzip.push(new Uint8Array(0), true);
    if (error) throw error;
    while (out.length > 0) yield out.shift()!;
  }
}

/**
 * Parses an Alipay `trade` bill, streamed: the zip (or its CSV), GBK; the `#` header lines, the
 * 业务明细 column row and rows (业务类型 交易 → a payment, 退款 → a refund keyed by
 * 退款批次号/请求号), the `#-----…业务明细列表结束…` footer and its 交易合计 / 退款合计 totals.
 * A trade's 服务费 is negative on the bill, a refund's positive: the row's fee is its negation.
 * Ends with the check of the totals against the rows; a broken zip is reported, not thrown.
 */
export async function* parseAlipayBill(source: BillSource): AsyncGenerator<BillEvent> {
  const counter = new TotalsCounter();
  const problems: string[] = [];
  let n = 0;
  let phase: 'head' | 'list' | 'foot' = 'head';
  let trades: { n: number; fen: number; fee: number } | null = null;
  let refunds: { n: number; fen: number; fee: number } | null = null;
  try {
    for await (const batch of billLineBatches(alipayCsvBytes(source), gbkDecoder())) for (const line of batch) {
      n++;
      if (line.trim() === '') continue;
      if (phase === 'head') {
        if (line === ALIPAY_LIST_START) phase = 'list';
        continue;
      }
      if (phase === 'foot') {
        const t = TRADES.exec(line) ?? REFUNDS.exec(line);
        if (t) {
          const sum = { n: Number(t[1]), fen: fenOf(t[2]!)!, fee: fenOf(t[3]!)! };
          if (line.startsWith('#交易')) trades = sum;
          else refunds = sum;
        }
        continue;
      }
      if (line === ALIPAY_LIST_END) {
        phase = 'foot';
        continue;
      }
      if (line.startsWith(ALIPAY_HEADER[0])) {
        if (line.split(',').map((c) => c.trim()).join(',') !== ALIPAY_HEADER.join(',')) problems.push(`line ${n}: not the Alipay 业务明细 columns`);
        continue;
      }
      const row = detail(line, n);
      if (typeof row === 'string') problems.push(row);
      else {
        counter.add(row);
        yield { type: 'row', row };
      }
    }
  } catch (err) {
    problems.push(`the bill could not be read: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (phase !== 'foot') problems.push(phase === 'head' ? 'no 业务明细列表 in the bill' : 'the bill ends before 业务明细列表结束');
  let stated: BillTotals | null = null;
  if (trades && refunds) stated = { rows: trades.n + refunds.n, paymentsFen: trades.fen, refundsFen: -refunds.fen, feesFen: -(trades.fee + refunds.fee) };
  yield { type: 'end', check: checkTotals('alipay', counter.totals, stated, problems) };
}

function detail(line: string, n: number): BillRow | string {
  const v = line.split(',').map((c) => c.trim());
  if (v.length !== ALIPAY_HEADER.length) return `line ${n}: ${v.length} fields, expected ${ALIPAY_HEADER.length}`;
  const type = v[COL['业务类型']];
  const at = instantOfChinaTime(v[COL['完成时间']]!);
  const received = fenOf(v[COL['商家实收（元）']]!);
  const fee = fenOf(v[COL['服务费（元）']]!);
  if ((type !== '交易' && type !== '退款') || at === null || received === null || fee === null) return `line ${n}: bad type, time or amount`;
  const notes = v[COL['备注']]!.split(' ').filter(Boolean);
  const flag = notes.find((w) => w in NOT_SUCCEEDED);
  const status: BillRowStatus = flag ? NOT_SUCCEEDED[flag]! : 'succeeded';
  const tradeNo = v[COL['支付宝交易号']]!;
  const paymentNo = v[COL['商户订单号']]!;
  const base = { channel: 'alipay' as const, channelTradeNo: tradeNo, merchantId: v[COL['门店编号']]!, paymentNo, status, feeFen: -fee, at, line: n };
  if (type === '交易') {
    if (received < 0) return `line ${n}: a trade with negative 商家实收`;
    return { ...base, kind: 'payment', merchantRef: paymentNo, channelRef: tradeNo, amountFen: received };
  }
  if (received > 0) return `line ${n}: a refund with positive 商家实收`;
  const refundId = notes.find((w) => !(w in NOT_SUCCEEDED)) ?? tradeNo;
  return { ...base, kind: 'refund', merchantRef: v[COL['退款批次号/请求号']]!, channelRef: refundId, amountFen: -received };
}
