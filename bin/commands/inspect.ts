import { Command } from 'commander';
import { TradeError } from '../../domain/errors.ts';
import { stateText, table, writeJson, writeLine, yuan, type CliIo } from './cli-io.ts';
import type { JournalLine, TradeSource, TransactionDetail } from './source.ts';
import { withSource, withTarget, type TargetOptions } from './target.ts';
import { activePaths, childActors } from './viz.ts';

/** Everything `trade inspect` knows about one transaction. */
export interface Inspection {
  transaction: TransactionDetail;
  journal: JournalLine[];
}

function section(io: CliIo, title: string, body: string) {
  writeLine(io);
  writeLine(io, title);
  writeLine(io, body);
}

/** `trade inspect TXN`: summary, state tree, legs, refunds (and their top-up debits), tasks and the journal timeline. */
export async function runInspect(source: TradeSource, io: CliIo, txnNo: string, opts: { json?: boolean }): Promise<Inspection> {
  const [transaction, journal] = await Promise.all([source.transaction(txnNo), source.journal(txnNo)]);
  const result = { transaction, journal };
  if (opts.json) {
    writeJson(io, result);
    return result;
  }
  const v = transaction;
  writeLine(io, `${v.txnNo}  ${v.state}${v.needsAttention ? '  NEEDS ATTENTION' : ''}${v.needsReview ? '  needs review' : ''}`);
  writeLine(
    io,
    table(
      ['order', 'scene', 'merchant', 'station', 'user', 'original', 'discount', 'payable', 'paid', 'refunded', 'created', 'updated'],
      [[v.orderNo ?? '-', v.scene, v.merchantId, v.stationId, v.userId, yuan(v.originalAmount), yuan(v.discountAmount), yuan(v.payableAmount), yuan(v.paidAmount), yuan(v.refundedAmount), v.createdAt, v.updatedAt]],
    ),
  );
  if (v.outcome) writeLine(io, `outcome: ${v.outcome.code}: ${v.outcome.message}`);
  const tree = activePaths(v.stateValue).map((p) => `${'  '.repeat(p.split('.').length - 1)}${p.split('.').at(-1)}`);
  const children = childActors(journal).map((c) => `${c.id} (${c.machine}): ${stateText(c.state)}`);
  section(io, 'State', [...tree, ...(children.length ? ['children:', ...children.map((c) => `  ${c}`)] : [])].join('\n'));
  section(io, 'Legs', table(['leg', 'attempt', 'method', 'amount', 'status', 'paymentNo', 'card'], v.legs.map((l) => [l.legNo, l.attempt, l.method, yuan(l.amount), l.status, l.paymentNo, l.cardNo ?? ''])));
  section(
    io,
    'Refunds',
    table(
      ['refundNo', 'amount', 'status', 'legs', 'reason', 'requested'],
      v.refunds.map((r) => [r.refundNo, yuan(r.amount), r.status, r.legs.map((l) => `${l.method} ${yuan(l.amount)} ${l.status}`).join(', '), r.reason, r.requestedAt]),
    ),
  );
  const debits = v.refunds.flatMap((r) => r.topUpDebits.map((d) => [r.refundNo, d.debitNo, d.cardNo, yuan(d.amountFen), d.status]));
  // Only sales with a refunded top-up have any: a table of nothing would be noise on every other sale.
  if (debits.length) section(io, 'Top-up debits', table(['refundNo', 'debitNo', 'card', 'amount', 'status'], debits));
  section(
    io,
    'Tasks',
    table(
      ['task', 'system', 'status', 'attempts', 'last error', 'next run'],
      v.tasks.map((t) => [t.task, t.system, t.status, `${t.attempts}/${t.maxAttempts}`, t.lastError ?? '', t.nextRunAt ?? '']),
    ),
  );
  section(io, 'Timeline', table(['#', 'at', 'actor', 'event', 'from', 'to'], journal.map((e) => [e.seq, e.at, e.actor, e.event, stateText(e.from), stateText(e.to)])));
  return result;
}

/**
 * The transaction of an order imported from OS, found by the OS number at its station (DOMAIN.md
 * "Rollout, OS and history": found by our order number and by the OS number).
 */
export async function txnNoOfOsOrder(source: TradeSource, stationId: string, osOrderNo: string): Promise<string> {
  const page = await source.orders({ stationId, osOrderNo }, 1, null);
  const found = page.items[0];
  if (!found) throw new TradeError('NOT_FOUND', `no order imported from OS with number ${osOrderNo} at station ${stationId}`);
  return found.txnNo;
}

interface InspectOptions extends TargetOptions {
  station?: string;
  osOrder?: string;
}

export function inspectCommand(io: CliIo): Command {
  return withTarget(new Command('inspect'))
    .description('one transaction: state tree, legs, refunds, tasks and its timeline')
    .argument('[txnNo]', 'the transaction (or give --station and --os-order)')
    .option('--station <id>', 'with --os-order: the station whose OS numbered the order')
    .option('--os-order <no>', 'an order imported from OS, by its OS order number (with --station)')
    .action(async (txnNo: string | undefined, opts: InspectOptions) => {
      if ((txnNo === undefined) === (opts.osOrder === undefined) || (opts.osOrder !== undefined) !== (opts.station !== undefined)) {
        throw new Error('give a txnNo, or --station and --os-order');
      }
      await withSource(opts, async (source) => runInspect(source, io, txnNo ?? (await txnNoOfOsOrder(source, opts.station!, opts.osOrder!)), opts));
    });
}
