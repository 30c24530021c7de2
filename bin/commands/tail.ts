import { Command } from 'commander';
import { stateText, writeLine, type CliIo } from './cli-io.ts';
import { positiveInteger } from './list.ts';
import type { LiveGap, LiveTransition, TradeSource } from './source.ts';
import { withSource, withTarget, type TargetOptions } from './target.ts';

export interface TailOptions {
  /** Only this transaction's transitions. */
  txnNo?: string;
  /** Stop after this many transitions (for scripts); otherwise until `signal` aborts. */
  count?: number;
  json?: boolean;
  signal: AbortSignal;
  /** Called once the source listens: transitions from then on are seen. */
  onOpen?: () => void;
}

/** `trade tail`: live transitions, one line each (`--json`: one JSON object per line). */
export async function runTail(source: TradeSource, io: CliIo, opts: TailOptions): Promise<number> {
  let seen = 0;
  const stop = new AbortController();
  const abort = () => stop.abort();
  opts.signal.addEventListener('abort', abort, { once: true });
  try {
    for await (const t of source.transitions(stop.signal, () => opts.onOpen?.())) {
      if (t.type === 'disconnected') {
        io.err.write(`connection lost (${t.reason}); reconnecting to resume where it stopped\n`);
        continue;
      }
      if (t.type === 'gap') {
        // Said on stderr for a person, and kept in the JSON lines for a script reading them.
        io.err.write(`${gapWarning(t)}\n`);
        if (opts.json) writeLine(io, JSON.stringify(t));
        continue;
      }
      if (opts.txnNo && t.txnNo !== opts.txnNo) continue;
      writeLine(io, opts.json ? JSON.stringify(t) : line(t));
      if (opts.count !== undefined && ++seen >= opts.count) break;
    }
  } finally {
    opts.signal.removeEventListener('abort', abort);
    stop.abort();
  }
  return seen;
}

function gapWarning(g: LiveGap): string {
  const why = g.reason === 'trimmed' ? 'the server no longer keeps what followed it' : 'the server does not know it (another deployment, or its store was replaced)';
  return `warning: transitions may be missing: could not resume after event ${g.lastEventId}, ${why}; following live again from ${g.at} (each transaction's journal has them all: trade inspect TXN)`;
}

function line(t: LiveTransition): string {
  return `${t.at}  ${t.txnNo}  ${t.actor.padEnd(11)}  ${t.event.padEnd(24)}  ${stateText(t.from) || '·'} → ${stateText(t.to)}`;
}

export function tailCommand(io: CliIo): Command {
  return withTarget(new Command('tail'))
    .description('follow transitions live (server: its event stream, resumed after a dropped connection; --redis: the feed of every process; --db: polls the journal)')
    .option('--txn <txnNo>', 'only this transaction')
    .option('--count <n>', 'stop after this many transitions', positiveInteger('count'))
    .option('--interval <ms>', 'journal polling interval with --db', positiveInteger('interval'), 500)
    .action(async (opts: { txn?: string; count?: number; interval: number } & TargetOptions) => {
      const controller = new AbortController();
      const onSignal = () => controller.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await withSource(
          opts,
          (source) =>
            runTail(source, io, {
              signal: controller.signal,
              ...(opts.txn ? { txnNo: opts.txn } : {}),
              ...(opts.count ? { count: opts.count } : {}),
              ...(opts.json ? { json: true } : {}),
              onOpen: () => io.err.write(`following ${source.name} (Ctrl-C to stop)\n`),
            }),
          opts.interval,
        );
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
