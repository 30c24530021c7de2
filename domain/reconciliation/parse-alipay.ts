import iconv from 'iconv-lite';
import { LineCells } from './bill-cells.ts';
import { billLineBatches, type BillSource, type StreamDecoder } from './bill-lines.ts';
import { ALIPAY_HEADER, ALIPAY_LIST_END, ALIPAY_LIST_START } from './bill-layouts.ts';
import { ByteQueue, zipEntryBytes } from './zip-entry.ts';
import { checkTotals, fenOf, instantOfChinaTime, TotalsCounter, type BillEvent } from './bill-format.ts';
import type { BillRow, BillRowStatus, BillTotals } from './bill-row.ts';

const COL = Object.fromEntries(ALIPAY_HEADER.map((name, i) => [name, i])) as Record<(typeof ALIPAY_HEADER)[number], number>;
/** The columns the reconciliation reads. */
const C = {
  tradeNo: COL['支付宝交易号'], paymentNo: COL['商户订单号'], type: COL['业务类型'], finishedAt: COL['完成时间'], storeId: COL['门店编号'],
  received: COL['商家实收（元）'], refundNo: COL['退款批次号/请求号'], fee: COL['服务费（元）'], remark: COL['备注'],
};
const NO_NOTES: readonly string[] = [];
const NOT_SUCCEEDED: Record<string, BillRowStatus> = { TRADE_CLOSED: 'failed', WAIT_BUYER_PAY: 'pending', REFUND_FAILED: 'failed', REFUND_PROCESSING: 'pending' };
const TRADES = /^#交易合计：(\d+)笔，商家实收共(-?\d+\.\d{2})元，服务费共(-?\d+\.\d{2})元/;
const REFUNDS = /^#退款合计：(\d+)笔，商家实收共(-?\d+\.\d{2})元，服务费共(-?\d+\.\d{2})元/;

/**
 * GBK, as Alipay encodes its CSV, decoded chunk by chunk: by the runtime's own decoder (ICU's,
 * WHATWG's `gbk` label, a superset of GBK) where there is one, 2–3× faster than iconv-lite, which
 * stays for a Node built without ICU.
 */
export function gbkDecoder(): StreamDecoder {
  let native: TextDecoder | null = null;
  try {
    native = new TextDecoder('gbk');
  } catch {
    native = null;
  }
  if (native) {
    const decoder = native;
    return { write: (bytes) => decoder.decode(bytes, { stream: true }), end: () => decoder.decode() };
  }
  const decoder = iconv.getDecoder('gbk');
  return { write: (bytes) => decoder.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)), end: () => decoder.end() ?? '' };
}

/** The bill's entry in Alipay's zip; the 业务明细(汇总).csv beside it is skipped. */
const DETAIL_ENTRY = {
  accept: (name: string) => name.endsWith('业务明细.csv'),
  describe: 'entry named …业务明细.csv',
  decodeName: unflaggedName,
};

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A name without the zip's UTF-8 flag: Alipay's zips name their entries in GBK so, but some tools
 * write UTF-8 unflagged. Chinese text in GBK is almost never valid UTF-8, so that is tried first.
 */
function unflaggedName(raw: Uint8Array): string {
  try {
    return STRICT_UTF8.decode(raw);
  } catch {
    return iconv.decode(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength), 'gbk');
  }
}

/**
 * The bytes of the 业务明细 CSV inside Alipay's zip, inflated by zlib as the zip streams in
 * ({@link zipEntryBytes}). A source that does not start like a zip (`PK`) is passed through as the CSV.
 */
export async function* alipayCsvBytes(source: BillSource): AsyncGenerator<Uint8Array> {
  const bytes = new ByteQueue(asBytes(source));
  try {
    await bytes.want(2);
    const head = bytes.peek(2);
    if (head[0] === 0x50 && head[1] === 0x4b) yield* zipEntryBytes(bytes, DETAIL_ENTRY);
    else yield* bytes.rest();
  } finally {
    await bytes.close();
  }
}

async function* asBytes(source: BillSource): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) yield typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
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
  const cells = new LineCells(ALIPAY_HEADER.length);
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
      const row = detail(cells, line, n);
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

function detail(v: LineCells, line: string, n: number): BillRow | string {
  const count = v.split(line, ',');
  if (count !== ALIPAY_HEADER.length) return `line ${n}: ${count} fields, expected ${ALIPAY_HEADER.length}`;
  const type = v.trimmed(C.type);
  const at = v.instant(C.finishedAt);
  const received = v.fen(C.received);
  const fee = v.fen(C.fee);
  if ((type !== '交易' && type !== '退款') || at === null || received === null || fee === null) return `line ${n}: bad type, time or amount`;
  const remark = v.trimmed(C.remark);
  const notes = remark === '' ? NO_NOTES : remark.split(' ').filter(Boolean);
  const flag = notes.find((w) => w in NOT_SUCCEEDED);
  const status: BillRowStatus = flag ? NOT_SUCCEEDED[flag]! : 'succeeded';
  const tradeNo = v.trimmed(C.tradeNo);
  const paymentNo = v.trimmed(C.paymentNo);
  const merchantId = v.trimmed(C.storeId);
  if (type === '交易') {
    if (received < 0) return `line ${n}: a trade with negative 商家实收`;
    return { channel: 'alipay', kind: 'payment', merchantRef: paymentNo, paymentNo, channelRef: tradeNo, channelTradeNo: tradeNo, merchantId, status, amountFen: received, feeFen: -fee, at, line: n };
  }
  if (received > 0) return `line ${n}: a refund with positive 商家实收`;
  const refundId = notes.find((w) => !(w in NOT_SUCCEEDED)) ?? tradeNo;
  return {
    channel: 'alipay', kind: 'refund', merchantRef: v.trimmed(C.refundNo), paymentNo, channelRef: refundId, channelTradeNo: tradeNo, merchantId, status,
    amountFen: -received, feeFen: -fee, at, line: n,
  };
}
