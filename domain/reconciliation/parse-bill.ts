import type { BillSource } from './bill-lines.ts';
import type { BillEvent } from './bill-format.ts';
import type { BillChannel } from './bill-row.ts';
import { parseAlipayBill } from './parse-alipay.ts';
import { parseCsvBill } from './parse-csv.ts';
import { parseWechatBill } from './parse-wechat.ts';

/** The parser of a channel's bill: WeChat's trade bill, Alipay's zip, or the documented CSV. */
export function parseBill(channel: BillChannel, source: BillSource): AsyncGenerator<BillEvent> {
  if (channel === 'wechat') return parseWechatBill(source);
  if (channel === 'alipay') return parseAlipayBill(source);
  return parseCsvBill(channel, source);
}

export type { BillCheck, BillEvent } from './bill-format.ts';
