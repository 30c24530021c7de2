import { Command, InvalidArgumentError } from 'commander';
import { duration, table, writeJson, writeLine, type CliIo } from './cli-io.ts';
import type { ListItem, TradeSource } from './source.ts';
import { withSource, withTarget, type TargetOptions } from './target.ts';

export interface ListOptions {
  state?: string;
  needsAttention?: boolean;
  limit: number;
  cursor?: string;
  /** Page through every match instead of one page. */
  all?: boolean;
  json?: boolean;
}

/** Page size of `--all`: the admin API's largest page. */
const PAGE = 200;

/** `trade list`: transactions newest first, one page or (`--all`) every page. */
export async function runList(source: TradeSource, io: CliIo, opts: ListOptions): Promise<{ items: ListItem[]; nextCursor: string | null }> {
  const filter = { ...(opts.state ? { state: opts.state } : {}), ...(opts.needsAttention ? { needsAttention: true } : {}) };
  let result: { items: ListItem[]; nextCursor: string | null };
  if (opts.all) {
    const items: ListItem[] = [];
    const progress = io.progress('listing', 1);
    let cursor = opts.cursor ?? null;
    let pages = 0;
    do {
      const page = await source.list({ ...filter, limit: PAGE, ...(cursor ? { cursor } : {}) });
      items.push(...page.items);
      cursor = page.nextCursor;
      progress.setTotal(++pages + (cursor ? 1 : 0));
      progress.increment();
    } while (cursor);
    progress.stop();
    result = { items, nextCursor: null };
  } else {
    result = await source.list({ ...filter, limit: opts.limit, ...(opts.cursor ? { cursor: opts.cursor } : {}) });
  }
  if (opts.json) writeJson(io, result);
  else {
    writeLine(io, table(['txnNo', 'state', 'updated', 'idle'], result.items.map((i) => [i.txnNo, i.state, i.updatedAt, duration(io.now() - Date.parse(i.updatedAt))])));
    writeLine(io, `${result.items.length} transaction(s)${result.nextCursor ? `; more with --cursor ${result.nextCursor}` : ''}`);
  }
  return result;
}

export function positiveInteger(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be an integer ≥ 1`);
    return n;
  };
}

export function listCommand(io: CliIo): Command {
  return withTarget(new Command('list'))
    .description('list transactions, newest first')
    .option('--state <state>', 'only this state (quoted, ordered, paying, paid, completed, cancelled, failed, …)')
    .option('--needs-attention', 'only transactions waiting for a person')
    .option('--limit <n>', 'page size (at most 200)', positiveInteger('limit'), 50)
    .option('--cursor <txnNo>', 'continue after this transaction (from the previous page)')
    .option('--all', 'every page (progress on stderr)')
    .action(async (opts: ListOptions & TargetOptions) => {
      await withSource(opts, (source) => runList(source, io, opts));
    });
}
