import { LineCells } from './bill-cells.ts';
import { billLineBatches, type BillSource } from './bill-lines.ts';
import { CSV_HEADER } from './bill-layouts.ts';
import { checkTotals, fenOf, TotalsCounter, type BillEvent } from './bill-format.ts';
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
  const cells = new LineCells(CSV_HEADER.length);
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
    if (cells.split(line, ',') !== CSV_HEADER.length) {
      problems.push(`line ${n}: malformed row`);
      continue;
    }
    const kind = cells.text(0);
    const status = cells.text(7);
    const at = cells.instant(1);
    const amount = cells.fen(8);
    const fee = cells.fen(9);
    const merchantRef = cells.text(2);
    const paymentNo = cells.text(3);
    if ((kind !== 'payment' && kind !== 'refund') || at === null || amount === null || amount < 0 || fee === null
      || !STATUSES.includes(status as BillRowStatus) || !merchantRef || !paymentNo) {
      problems.push(`line ${n}: malformed row`);
      continue;
    }
    const row: BillRow = {
      channel, kind, merchantRef, paymentNo, channelRef: cells.text(4), channelTradeNo: cells.text(5), merchantId: cells.text(6),
      status: status as BillRowStatus, amountFen: amount, feeFen: fee, at, line: n,
    };
    counter.add(row);
    yield { type: 'row', row };
  }
  if (!sawTitle) problems.push('the bill is empty: no title line');
  yield { type: 'end', check: checkTotals(channel, counter.totals, stated, problems) };
}
