import { Command } from 'commander';
import { writeJson, writeLine, type CliIo } from './cli-io.ts';
import type { TaskView, TradeSource } from './source.ts';
import { withSource, withTarget, type TargetOptions } from './target.ts';

/** `trade retry TXN TASK`: a dead post-payment task back to work, run now. */
export async function runRetry(source: TradeSource, io: CliIo, txnNo: string, task: string, opts: { json?: boolean }): Promise<TaskView> {
  const result = await source.retry(txnNo, task);
  if (opts.json) writeJson(io, result);
  else writeLine(io, `${txnNo} task ${result.task}: ${result.status} (attempt ${result.attempts}/${result.maxAttempts})${result.lastError ? `; last error: ${result.lastError}` : ''}`);
  return result;
}

export function retryCommand(io: CliIo): Command {
  return withTarget(new Command('retry'))
    .description('retry a dead post-payment task now (settlement, invoice, …)')
    .argument('<txnNo>', 'the transaction')
    .argument('<task>', 'the task, as `trade inspect` lists it')
    .action(async (txnNo: string, task: string, opts: TargetOptions) => {
      await withSource(opts, (source) => runRetry(source, io, txnNo, task, opts));
    });
}
