import { Command } from 'commander';
import { STUCK_AFTER_IDLE_MS } from '../../runtime/metrics.ts';
import { duration, table, writeJson, writeLine, type CliIo } from './cli-io.ts';
import { positiveInteger } from './list.ts';
import type { ListItem, TradeSource } from './source.ts';
import { withSource, withTarget, type TargetOptions } from './target.ts';

/**
 * Stored (top-level) states a transaction passes through on its way to rest. `quoted` is not
 * one: a quote nobody orders is abandoned, not stuck.
 */
export const MOVING_STATES = ['ordering', 'ordered', 'paying', 'paid', 'unwinding'] as const;

/** Default idle threshold, minutes: the one `tc_transactions_stuck` counts with. */
export const DEFAULT_IDLE_MINUTES = STUCK_AFTER_IDLE_MS / 60_000;

export interface StuckItem extends ListItem {
  reasons: string[];
}

export interface StuckOptions {
  idleMinutes: number;
  json?: boolean;
}

const PAGE = 200;

/**
 * `trade stuck`: transactions waiting for a person (needsAttention: a dead task, a refund leg out
 * of attempts) and transactions on their way to rest that nothing has moved for `idleMinutes`
 * (a lost timer, a crashed worker). Scans page by page, with progress on stderr.
 */
export async function runStuck(source: TradeSource, io: CliIo, opts: StuckOptions): Promise<StuckItem[]> {
  const idleMs = opts.idleMinutes * 60_000;
  const now = io.now();
  const found = new Map<string, StuckItem>();
  const scans: { state?: string; needsAttention?: boolean; reason: (i: ListItem) => string | null }[] = [
    { needsAttention: true, reason: () => 'needs attention' },
    ...MOVING_STATES.map((state) => ({
      state,
      reason: (i: ListItem) => {
        const idle = now - Date.parse(i.updatedAt);
        return idle >= idleMs ? `idle ${duration(idle)} in ${i.state}` : null;
      },
    })),
  ];
  const progress = io.progress('scanning', scans.length);
  let total = scans.length;
  for (const scan of scans) {
    let cursor: string | null = null;
    do {
      const page: { items: ListItem[]; nextCursor: string | null } = await source.list({
        ...(scan.state ? { state: scan.state } : {}),
        ...(scan.needsAttention ? { needsAttention: true } : {}),
        limit: PAGE,
        ...(cursor ? { cursor } : {}),
      });
      for (const item of page.items) {
        const reason = scan.reason(item);
        if (!reason) continue;
        const entry = found.get(item.txnNo) ?? { ...item, reasons: [] };
        entry.reasons.push(reason);
        found.set(item.txnNo, entry);
      }
      cursor = page.nextCursor;
      if (cursor) progress.setTotal(++total);
      progress.increment();
    } while (cursor);
  }
  progress.stop();
  const items = [...found.values()].sort((a, b) => a.updatedAt.localeCompare(b.updatedAt));
  if (opts.json) writeJson(io, { idleMinutes: opts.idleMinutes, items });
  else {
    if (items.length === 0) writeLine(io, `nothing is stuck (idle threshold ${opts.idleMinutes} min)`);
    else {
      writeLine(io, table(['txnNo', 'state', 'updated', 'why'], items.map((i) => [i.txnNo, i.state, i.updatedAt, i.reasons.join('; ')])));
      writeLine(io, `${items.length} stuck transaction(s); \`trade nudge TXN\` re-drives one`);
    }
  }
  return items;
}

export function stuckCommand(io: CliIo): Command {
  return withTarget(new Command('stuck'))
    .description('transactions waiting for a person, or idle on their way to rest')
    .option('--idle <minutes>', 'idle this long counts as stuck', positiveInteger('idle'), DEFAULT_IDLE_MINUTES)
    .action(async (opts: { idle: number } & TargetOptions) => {
      await withSource(opts, (source) => runStuck(source, io, { idleMinutes: opts.idle, ...(opts.json ? { json: true } : {}) }));
    });
}
