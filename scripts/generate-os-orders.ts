import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { stringify } from 'csv-stringify/sync';
import type { OsOrderRecord } from '../domain/os-order-record.ts';
import { OS_CSV_COLUMNS } from '../runtime/os-order-import.ts';
import { Prng } from '../simulation/prng.ts';

/** The kinds of planted bad record, one of each reject reason of docs/os-import.md. */
export const BAD_KINDS = ['unknown station', 'amounts do not add up', 'unmappable method', 'bad time', 'seen with other content'] as const;


const STATIONS = ['S1', 'S2', 'S3'];
const METHODS = ['CASH', 'WXPAY', 'ALIPAY', 'UNIONPAY', 'IC_CARD'] as const;
const BASE_MS = Date.parse('2025-01-01T00:00:00+08:00');

function iso(ms: number): string {
  return new Date(ms + 8 * 3_600_000).toISOString().replace('Z', '+08:00');
}

/** The i-th good record of a seeded history: fuel (and sometimes a shop item), one or two payments, sometimes a refund at OS. */
export function goodRecord(i: number, random: () => number): OsOrderRecord {
  const stationId = STATIONS[i % STATIONS.length]!;
  const createdMs = BASE_MS + i * 30_000;
  const volumeMl = 10_000 + Math.floor(random() * 50_000);
  const fuelFen = Math.round((volumeMl * 750) / 1000);
  const items: OsOrderRecord['items'] = [{ type: 'fuel', name: '92#', grade: '92', nozzleNo: 1 + (i % 4), quantity: volumeMl, unitPriceFen: 750, amountFen: fuelFen }];
  if (random() < 0.3) items.push({ type: 'goods', name: 'water', sku: 'G-WATER', quantity: 2, unitPriceFen: 300, amountFen: 600 });
  const itemsFen = items.reduce((a, x) => a + x.amountFen, 0);
  const discountFen = random() < 0.5 ? Math.floor(itemsFen * 0.03) : 0;
  const payable = itemsFen - discountFen;
  const first = METHODS[Math.floor(random() * METHODS.length)]!;
  const split = random() < 0.2 && payable > 100 ? Math.floor(payable / 3) : 0;
  const pay = (payNo: number, method: (typeof METHODS)[number], amountFen: number) => ({
    payNo,
    method,
    amountFen,
    channelTradeNo: method === 'WXPAY' || method === 'ALIPAY' || method === 'UNIONPAY' ? `CH${stationId}${i}-${payNo}` : null,
    cardNo: method === 'IC_CARD' ? `C${1 + (i % 4)}` : null,
  });
  const payments = split ? [pay(1, 'IC_CARD', split), pay(2, first === 'IC_CARD' ? 'WXPAY' : first, payable - split)] : [pay(1, first, payable)];
  const paidMs = createdMs + 60_000;
  const refunds: OsOrderRecord['refunds'] = random() < 0.05 ? [{ osRefundNo: `OSR${i}`, refundedAt: iso(paidMs + 3_600_000), payments: [{ payNo: 1, amountFen: Math.max(1, Math.floor(payments[0]!.amountFen / 2)) }] }] : [];
  return {
    stationId,
    terminalId: `POS-${1 + (i % 2)}`,
    shiftNo: `${iso(createdMs).slice(0, 10)}-${1 + Math.floor(((createdMs / 3_600_000) % 24) / 8)}`,
    osOrderNo: `OS${String(i).padStart(9, '0')}`,
    createdAt: iso(createdMs),
    paidAt: iso(paidMs),
    items,
    discounts: discountFen ? [{ kind: 'promotion', name: 'member day', amountFen: discountFen }] : [],
    payments,
    refunds,
    member: random() < 0.6 ? { userId: `U${1 + (i % 3)}`, cardNo: null } : null,
  };
}

/** A good record spoiled the way `kind` says (for `seen with other content`: the number of an earlier record, other content). */
export function badRecord(kind: (typeof BAD_KINDS)[number], good: OsOrderRecord, earlier: OsOrderRecord | null): OsOrderRecord {
  switch (kind) {
    case 'unknown station':
      return { ...good, stationId: 'S404' };
    case 'amounts do not add up':
      return { ...good, payments: good.payments.map((p, i) => (i === 0 ? { ...p, amountFen: p.amountFen + 1 } : p)) };
    case 'unmappable method':
      return { ...good, payments: good.payments.map((p, i) => (i === 0 ? { ...p, method: 'BITCOIN' } : p)) };
    case 'bad time':
      return { ...good, createdAt: '2025-13-45 25:61' };
    case 'seen with other content':
      return earlier ? { ...earlier, terminalId: `${earlier.terminalId}-X` } : { ...good, stationId: 'S404' };
  }
}

export interface GenerateOptions {
  count: number;
  seed: number;
  /** Bad records planted among the count (cycling through {@link BAD_KINDS}). */
  bad: number;
  format: 'jsonl' | 'csv';
  out: string;
}

/** Writes a seeded export; returns the 1-based data-record numbers of the planted bad records (the CSV header is line 1, so a CSV record's line is its number + 1). */
export async function generateOsOrders(opts: GenerateOptions): Promise<{ badLines: number[]; goodCount: number; goodPaidFen: number }> {
  const prng = new Prng(opts.seed);
  const random = () => prng.next();
  const file = createWriteStream(opts.out);
  if (opts.format === 'csv') file.write(stringify([[...OS_CSV_COLUMNS]]));
  const every = opts.bad ? Math.floor(opts.count / opts.bad) : 0;
  const badLines: number[] = [];
  let goodCount = 0;
  let goodPaidFen = 0;
  let earlier: OsOrderRecord | null = null;
  let planted = 0;
  for (let i = 0; i < opts.count; i++) {
    const good = goodRecord(i, random);
    let record = good;
    if (every && planted < opts.bad && i % every === every - 1) {
      record = badRecord(BAD_KINDS[planted % BAD_KINDS.length]!, good, earlier);
      planted++;
      badLines.push(i + 1);
    } else {
      goodCount++;
      goodPaidFen += good.payments.reduce((a, p) => a + p.amountFen, 0);
      earlier = good;
    }
    const text = opts.format === 'csv'
      ? stringify([OS_CSV_COLUMNS.map((c) => (typeof record[c] === 'string' ? record[c] : JSON.stringify(record[c])))])
      : `${JSON.stringify(record)}\n`;
    if (!file.write(text)) await once(file, 'drain');
  }
  file.end();
  await once(file, 'finish');
  return { badLines, goodCount, goodPaidFen };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const program = new Command('generate-os-orders')
    .option('--count <n>', 'records', (v) => Number.parseInt(v, 10), 1000)
    .option('--seed <n>', 'seed', (v) => Number.parseInt(v, 10), 1)
    .option('--bad <n>', 'planted bad records', (v) => Number.parseInt(v, 10), 0)
    .option('--format <f>', 'jsonl or csv', 'jsonl')
    .requiredOption('--out <file>', 'output file')
    .parse();
  const o = program.opts<GenerateOptions>();
  const result = await generateOsOrders(o);
  process.stdout.write(`${JSON.stringify({ count: o.count, goodCount: result.goodCount, goodPaidFen: result.goodPaidFen, badLines: result.badLines.length })}\n`);
}
