import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'commander';
import { AT_REST_STATES } from '../../machines/types.ts';
import { table, writeJson, writeLine, type CliIo } from './cli-io.ts';
import { positiveInteger } from './list.ts';
import type { TradeSource, TransactionDetail } from './source.ts';
import { withSource, withTarget, type TargetOptions } from './target.ts';

export interface NudgeOptions {
  /** Longest wait, ms, for the work the nudge started (a gateway query, a retried step) to settle. */
  waitMs: number;
  json?: boolean;
}

/** Polls between checks for settling, ms; the version unchanged over `QUIET_POLLS` polls means settled. */
const POLL_MS = 100;
const QUIET_POLLS = 5;

/**
 * Waits until the transaction is at rest, or its version has not moved for a while, or `waitMs`
 * passed: a nudge starts work (a gateway query, a step retried) that finishes after the answer.
 */
async function settle(source: TradeSource, txnNo: string, first: TransactionDetail, waitMs: number): Promise<TransactionDetail> {
  const deadline = Date.now() + waitMs;
  let current = first;
  let quiet = 0;
  while (!(AT_REST_STATES as readonly string[]).includes(current.state) && quiet < QUIET_POLLS && Date.now() < deadline) {
    await sleep(POLL_MS);
    const next = await source.transaction(txnNo);
    quiet = next.version === current.version ? quiet + 1 : 0;
    current = next;
  }
  return current;
}

/** `trade nudge TXN`: rehydrate and re-drive a transaction (fire its due timers, run its due tasks). */
export async function runNudge(source: TradeSource, io: CliIo, txnNo: string, opts: NudgeOptions): Promise<{ before: string; after: TransactionDetail }> {
  const before = await source.transaction(txnNo);
  const nudged = await source.nudge(txnNo);
  const after = await settle(source, txnNo, nudged, opts.waitMs);
  if (opts.json) writeJson(io, { before: before.state, ...after });
  else {
    writeLine(io, `${txnNo} nudged: ${before.state} → ${after.state}${after.needsAttention ? ' (needs attention)' : ''}`);
    if (after.tasks.length) {
      writeLine(io, table(['task', 'status', 'attempts', 'last error'], after.tasks.map((t) => [t.task, t.status, `${t.attempts}/${t.maxAttempts}`, t.lastError ?? ''])));
    }
  }
  return { before: before.state, after };
}

export function nudgeCommand(io: CliIo): Command {
  return withTarget(new Command('nudge'))
    .description('rehydrate and re-drive a transaction: fire its due timers, run its due tasks')
    .argument('<txnNo>', 'the transaction')
    .option('--wait <ms>', 'wait this long at most for the work it starts to settle', positiveInteger('wait'), 15_000)
    .action(async (txnNo: string, opts: { wait: number } & TargetOptions) => {
      await withSource(opts, (source) => runNudge(source, io, txnNo, { waitMs: opts.wait, ...(opts.json ? { json: true } : {}) }));
    });
}
