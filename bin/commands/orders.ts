import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { Command } from 'commander';
import { stringify } from 'csv-stringify/sync';
import type { OrderQueryParams, OrderView } from '../../runtime/order-queries.ts';
import type { OrderSummaryRow } from '../../storage/types.ts';
import { table, writeJson, writeLine, yuan, type CliIo } from './cli-io.ts';
import { positiveInteger } from './list.ts';
import type { TradeSource } from './source.ts';
import { withSource, withTarget, type TargetOptions } from './target.ts';

/** The filter flags of `trade orders` and `trade summary` (API.md admin orders). */
export interface OrderFlags {
  merchant?: string;
  station?: string;
  scene?: string;
  state?: string;
  method?: string;
  origin?: 'platform' | 'os-import';
  osOrder?: string;
  from?: string;
  to?: string;
}

export interface OrdersOptions extends OrderFlags {
  limit: number;
  cursor?: string;
  /** Every page to this CSV file, with a progress bar. */
  csv?: string;
  json?: boolean;
}

export interface SummaryOptions extends OrderFlags {
  groupBy?: string;
  csv?: string;
  json?: boolean;
}

/** Page size of a CSV export: the API's largest page. */
const PAGE = 200;

const CSV_COLUMNS = ['txnNo', 'orderNo', 'origin', 'merchantId', 'stationId', 'scene', 'state', 'originalAmountFen', 'discountAmountFen', 'payableAmountFen', 'paidAmountFen', 'refundedAmountFen', 'methods', 'createdAt', 'paidAt', 'finishedAt'] as const;

function queryOf(opts: OrderFlags): OrderQueryParams {
  return {
    ...(opts.merchant ? { merchantId: opts.merchant } : {}),
    ...(opts.station ? { stationId: opts.station } : {}),
    ...(opts.scene ? { scene: opts.scene } : {}),
    ...(opts.state ? { state: opts.state } : {}),
    ...(opts.method ? { method: opts.method } : {}),
    ...(opts.origin ? { origin: opts.origin } : {}),
    ...(opts.osOrder ? { osOrderNo: opts.osOrder } : {}),
    ...(opts.from ? { from: opts.from } : {}),
    ...(opts.to ? { to: opts.to } : {}),
  };
}

const methodsOf = (o: OrderView) => [...new Set(o.legs.map((l) => l.method))].join('+');

function csvLine(o: OrderView): string {
  return stringify([[o.txnNo, o.orderNo, o.origin, o.merchantId, o.stationId, o.scene, o.state, o.originalAmountFen, o.discountAmountFen, o.payableAmountFen, o.paidAmountFen, o.refundedAmountFen, methodsOf(o), o.createdAt, o.paidAt, o.finishedAt]]);
}

/** `trade orders`: one page as a table or JSON, or (`--csv FILE`) every matching order to a file. */
export async function runOrders(source: TradeSource, io: CliIo, opts: OrdersOptions): Promise<{ count: number; nextCursor: string | null }> {
  const query = queryOf(opts);
  if (opts.csv) {
    const file = createWriteStream(opts.csv);
    file.write(stringify([[...CSV_COLUMNS]]));
    // The total is unknown until the last page: the bar grows a page ahead of where it is.
    const progress = io.progress('exporting pages', 1);
    let cursor = opts.cursor ?? null;
    let count = 0;
    let pages = 0;
    do {
      const page = await source.orders(query, PAGE, cursor);
      for (const o of page.items) if (!file.write(csvLine(o))) await once(file, 'drain');
      count += page.items.length;
      cursor = page.nextCursor;
      progress.setTotal(++pages + (cursor ? 1 : 0));
      progress.increment();
    } while (cursor);
    progress.stop();
    file.end();
    await once(file, 'finish');
    writeLine(io, `${count} order(s) written to ${opts.csv}`);
    return { count, nextCursor: null };
  }
  const page = await source.orders(query, opts.limit, opts.cursor ?? null);
  if (opts.json) writeJson(io, page);
  else {
    writeLine(io, table(['txnNo', 'orderNo', 'station', 'scene', 'state', 'methods', 'paid', 'refunded', 'created', 'archived'], page.items.map((o) => [o.txnNo, o.orderNo, o.stationId, o.scene, o.state, methodsOf(o), yuan(o.paidAmountFen), yuan(o.refundedAmountFen), o.createdAt, o.finishedAt ? 'final' : 'in flight'])));
    writeLine(io, `${page.items.length} order(s)${page.nextCursor ? `; more with --cursor ${page.nextCursor}` : ''}`);
  }
  return { count: page.items.length, nextCursor: page.nextCursor };
}

/** `trade summary`: counts and sums by day, station and/or method. */
export async function runSummary(source: TradeSource, io: CliIo, opts: SummaryOptions): Promise<OrderSummaryRow[]> {
  const { groups } = await source.summary(queryOf(opts), opts.groupBy);
  const head = ['day', 'station', 'method', 'count', 'original', 'discount', 'payable', 'paid', 'refunded'];
  const cells = groups.map((g) => [g.day, g.stationId, g.method, g.count, g.originalAmountFen, g.discountAmountFen, g.payableAmountFen, g.paidAmountFen, g.refundedAmountFen]);
  if (opts.csv) {
    const file = createWriteStream(opts.csv);
    file.end(stringify([head.map((h) => (['original', 'discount', 'payable', 'paid', 'refunded'].includes(h) ? `${h}Fen` : h)), ...cells]));
    await once(file, 'finish');
    writeLine(io, `${groups.length} group(s) written to ${opts.csv}`);
  } else if (opts.json) writeJson(io, { groups });
  else writeLine(io, table(head, groups.map((g) => [g.day, g.stationId, g.method, g.count, yuan(g.originalAmountFen), yuan(g.discountAmountFen), yuan(g.payableAmountFen), yuan(g.paidAmountFen), yuan(g.refundedAmountFen)])));
  return groups;
}

function withOrderFilters(cmd: Command): Command {
  return withTarget(cmd)
    .option('--merchant <id>', 'only this merchant (a key limited to others finds none)')
    .option('--station <id>', 'only this station')
    .option('--scene <scene>', 'only this scene')
    .option('--state <state>', 'only this state (completed, cancelled, failed; or an in-flight one)')
    .option('--method <method>', 'only orders with a leg of this payment method')
    .option('--origin <origin>', 'platform or os-import')
    .option('--os-order <no>', "the order imported from OS with this OS order number (with --station: OS numbers are unique per station)")
    .option('--from <when>', 'created at or after (YYYY-MM-DD China time, or an ISO date-time)')
    .option('--to <when>', 'created before (YYYY-MM-DD China time, or an ISO date-time)');
}

export function ordersCommand(io: CliIo): Command {
  return withOrderFilters(new Command('orders'))
    .description('search orders, hot store and archive together, newest first')
    .option('--limit <n>', 'page size (at most 200)', positiveInteger('limit'), 50)
    .option('--cursor <cursor>', 'continue where the previous page ended')
    .option('--csv <file>', 'every matching order to a CSV file (progress on stderr)')
    .action(async (opts: OrdersOptions & TargetOptions) => {
      await withSource(opts, (source) => runOrders(source, io, opts));
    });
}

export function summaryCommand(io: CliIo): Command {
  return withOrderFilters(new Command('summary'))
    .description('count and sum orders, hot store and archive together')
    .option('--group-by <keys>', 'any of day,station,method (comma-separated)')
    .option('--csv <file>', 'the groups to a CSV file')
    .action(async (opts: SummaryOptions & TargetOptions) => {
      await withSource(opts, (source) => runSummary(source, io, opts));
    });
}
