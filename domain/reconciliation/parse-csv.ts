import { billLineBatches, type BillSource } from './bill-lines.ts';
import { CSV_HEADER } from './bill-layouts.ts';
import { checkTotals, fenOf, instantOfChinaTime, TotalsCounter, type BillEvent } from './bill-format.ts';
import type { BillChannel, BillRow, BillRowStatus, BillTotals } from './bill-row.ts';

const STATUSES: readonly BillRowStatus[] = ['succeeded', 'failed', 'pending'];
const TOTAL = /^#total,rows=(\d+),payments=(-?\d+\.\d{2}),refunds=(-?\d+\.\d{2}),fees=(-?\d+\.\d{2})$/;

/**
 * Parses the documented CSV bill of UnionPay or senseless (docs/reconciliation-bills.md),
 * streamed: `#bill,<channel>,<day>`, the column row, one row per payment or refund, and
 * `#total,rows=…,payments=…,refunds=…,fees=…`. Ends with the check of the total against the rows.
 */
export async function* parseCsvBill(channel: Extract<BillChannel, 'unionpay' | 'senseless'>, source: BillSource): AsyncGenerator<BillEvent> {
  const counter = new TotalsCounter();
  const problems: string[] = [];
  let stated: BillTotals | null = null;
  let n = 0;
  let sawTitle = false;
  for await (const batch of billLineBatches(source)) for (const line of batch) {
    n++;
    if (line.trim() === '') continue;
    if (!sawTitle) {
      sawTitle = true;
      if (!line.startsWith(`#bill,${channel},`)) problems.push(`line ${n}: not a ${channel} bill`);
      continue;
    }
    if (line === CSV_HEADER.join(',')) continue;
    if (line.startsWith('#total')) {
      const m = TOTAL.exec(line);
      if (!m) problems.push(`line ${n}: malformed total`);
      else stated = { rows: Number(m[1]), paymentsFen: fenOf(m[2]!)!, refundsFen: fenOf(m[3]!)!, feesFen: fenOf(m[4]!)! };
      continue;
    }
    const v = line.split(',');
    const [kind, time, merchantRef, paymentNo, channelRef, channelTradeNo, merchantId, status, amountText, feeText] = v;
    const at = instantOfChinaTime(time ?? '');
    const amount = fenOf(amountText ?? '');
    const fee = fenOf(feeText ?? '');
    if (v.length !== CSV_HEADER.length || (kind !== 'payment' && kind !== 'refund') || at === null || amount === null || amount < 0 || fee === null
      || !STATUSES.includes(status as BillRowStatus) || !merchantRef || !paymentNo) {
      problems.push(`line ${n}: malformed row`);
      continue;
    }
    const row: BillRow = {
      channel, kind, merchantRef, paymentNo, channelRef: channelRef ?? '', channelTradeNo: channelTradeNo ?? '', merchantId: merchantId ?? '',
      status: status as BillRowStatus, amountFen: amount, feeFen: fee, at, line: n,
    };
    counter.add(row);
    yield { type: 'row', row };
  }
  if (!sawTitle) problems.push('the bill is empty: no title line');
  yield { type: 'end', check: checkTotals(channel, counter.totals, stated, problems) };
}
