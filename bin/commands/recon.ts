import { Command, InvalidArgumentError, Option } from 'commander';
import { table, writeJson, writeLine, yuan, type CliIo } from './cli-io.ts';
import { HttpSource } from './http-source.ts';
import { withServer, type ServerOptions } from './routing.ts';
import { DEFAULT_URL } from './target.ts';

const CHANNELS = ['wechat', 'alipay', 'unionpay', 'senseless'] as const;

interface DiscrepancyAnswer {
  id: string;
  kind: string;
  ref: string;
  txnNo: string | null;
  status: string;
  evidence: { bill?: { amountFen?: number; feeFen?: number; status?: string } | null; platform?: { amountFen?: number; status?: string } | null; expectedFeeFen?: number };
  resolution: { by: string; accept?: string; note: string; at: string } | null;
  foundAt: string;
}

interface DayAnswer {
  channel: string;
  day: string;
  ranAt: string | null;
  clean: boolean | null;
  totals: Record<string, number> | null;
  open: number;
  byKind: Record<string, number>;
  discrepancies: DiscrepancyAnswer[];
}

/** A calendar day `YYYY-MM-DD` (China time), refused before any request when it is not one. */
function calendarDay(value: string): string {
  const ms = Date.parse(`${value}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value) {
    throw new InvalidArgumentError(`not a calendar day YYYY-MM-DD: ${value}`);
  }
  return value;
}

function withDay(cmd: Command): Command {
  return withServer(cmd)
    .addOption(new Option('--channel <channel>', 'the channel whose bill it is').choices([...CHANNELS]).makeOptionMandatory())
    .requiredOption('--date <day>', 'the China-time day YYYY-MM-DD', calendarDay);
}

/** What each side said: `bill 12.50 / ours 12.40`, `bill paid / ours pending`. */
function sides(d: DiscrepancyAnswer): string {
  const { bill, platform, expectedFeeFen } = d.evidence;
  const side = (row: { amountFen?: number; status?: string } | null | undefined) => (row ? `${row.amountFen !== undefined ? yuan(row.amountFen) : '?'} ${row.status ?? ''}`.trim() : 'none');
  const fee = expectedFeeFen !== undefined && bill?.feeFen !== undefined ? ` (fee ${yuan(bill.feeFen)}, rate gives ${yuan(expectedFeeFen)})` : '';
  return `bill ${side(bill)} / ours ${side(platform)}${fee}`;
}

function writeDay(io: CliIo, day: DayAnswer): void {
  if (day.ranAt === null) {
    writeLine(io, `${day.channel} ${day.day}: never reconciled`);
    return;
  }
  const t = day.totals ?? {};
  const state = day.clean ? 'clean' : `${t.discrepancies ?? 0} discrepancies in the last run, ${day.open} open`;
  writeLine(io, `${day.channel} ${day.day}: ${state} (last run ${day.ranAt}; ${t.matched ?? 0} of ${t.billRows ?? 0} bill rows matched)`);
  writeLine(io, table(['', 'rows', 'payments', 'refunds', 'fees'], [
    ['bill', t.billRows, yuan(t.billPaymentsFen ?? 0), yuan(t.billRefundsFen ?? 0), yuan(t.billFeesFen ?? 0)],
    ['ours', t.platformRows, yuan(t.platformPaymentsFen ?? 0), yuan(t.platformRefundsFen ?? 0), ''],
  ]));
  const kinds = Object.entries(day.byKind).filter(([, n]) => n > 0);
  if (kinds.length) writeLine(io, `by kind: ${kinds.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  if (day.discrepancies.length) {
    writeLine(io, table(['id', 'status', 'txnNo', 'both sides', 'decided'], day.discrepancies.map((d) => [
      d.id, d.status, d.txnNo, sides(d), d.resolution ? `${d.resolution.by}${d.resolution.accept ? ` (${d.resolution.accept})` : ''}: ${d.resolution.note}` : '',
    ])));
  }
}

const source = (opts: ServerOptions) => new HttpSource(opts.url ?? DEFAULT_URL, opts.key);

/**
 * `trade recon run|show|resolve` (issue 19): a channel day's reconciliation through a running
 * server, which downloads the bill, acts through the transactions' own actors and records who
 * decided what.
 */
export function reconCommand(io: CliIo): Command {
  const recon = new Command('recon').description("reconciliation: a channel's daily bill against our payments and refunds");
  withDay(recon.command('run'))
    .description('run (or re-run) a channel day: download and check its bill, match, record and fix what is safe; a re-run changes nothing already found')
    .action(async (opts: ServerOptions & { channel: string; date: string }) => {
      const answer = await source(opts).call<{ day: DayAnswer; added: string[]; autoFixed: string[] }>('POST', `/admin/reconciliation/${opts.channel}/${opts.date}/run`);
      if (opts.json) return writeJson(io, answer);
      writeLine(io, `ran ${opts.channel} ${opts.date}: ${answer.added.length} new discrepancies, ${answer.autoFixed.length} fixed through their transactions`);
      writeDay(io, answer.day);
    });
  withDay(recon.command('show'))
    .description("a channel day as recorded: both sides' totals, discrepancies by kind, each with its evidence and fate")
    .action(async (opts: ServerOptions & { channel: string; date: string }) => {
      const answer = await source(opts).call<DayAnswer>('GET', `/admin/reconciliation/${opts.channel}/${opts.date}`);
      if (opts.json) return writeJson(io, answer);
      writeDay(io, answer);
    });
  withServer(recon.command('resolve'))
    .description("a person's decision on an open discrepancy (journalled with the key that decided)")
    .argument('<id>', 'the discrepancy id, as `trade recon show` lists it')
    .addOption(new Option('--accept <side>', "whose side is right").choices(['channel', 'platform']).makeOptionMandatory())
    .requiredOption('--note <text>', 'why (kept with the decision)')
    .action(async (id: string, opts: ServerOptions & { accept: string; note: string }) => {
      const answer = await source(opts).call<DiscrepancyAnswer>('POST', `/admin/reconciliation/discrepancies/${encodeURIComponent(id)}/resolve`, { accept: opts.accept, note: opts.note });
      if (opts.json) return writeJson(io, answer);
      writeLine(io, `resolved ${answer.id}: ${answer.resolution?.accept} accepted by ${answer.resolution?.by} (${answer.resolution?.note})`);
    });
  return recon;
}
