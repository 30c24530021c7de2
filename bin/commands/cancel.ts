import { Command } from 'commander';
import type { TransactionView } from '../../runtime/view.ts';
import { writeJson, writeLine, type CliIo } from './cli-io.ts';
import type { TradeSource } from './source.ts';
import { withSource, withTarget, type TargetOptions } from './target.ts';

/** `trade cancel TXN`: cancel before payment completes; every lock is released. */
export async function runCancel(source: TradeSource, io: CliIo, txnNo: string, opts: { reason?: string; json?: boolean }): Promise<TransactionView> {
  const view = await source.cancel(txnNo, opts.reason);
  if (opts.json) writeJson(io, view);
  else writeLine(io, `${txnNo} ${view.state}${view.outcome ? `: ${view.outcome.message}` : ''}`);
  return view;
}

export function cancelCommand(io: CliIo): Command {
  return withTarget(new Command('cancel'))
    .description('cancel a transaction before its payment completes')
    .argument('<txnNo>', 'the transaction')
    .option('--reason <text>', 'why (kept in the transaction)')
    .action(async (txnNo: string, opts: { reason?: string } & TargetOptions) => {
      await withSource(opts, (source) => runCancel(source, io, txnNo, opts));
    });
}
