import { Command } from 'commander';
import { restoreSnapshot, type StoredVersion } from '../../machines/snapshot-versions.ts';
import { MACHINE_VERSIONS } from '../../machines/versions.ts';
import { topState } from '../../runtime/view.ts';
import { recordOfQuote } from '../../runtime/transaction-reads.ts';
import type { QuoteRecord, Storage, TransactionRecord } from '../../storage/types.ts';
import { table, writeJson, writeLine, type CliIo } from './cli-io.ts';

/** What `trade migrate` found (and, with `--apply`, did). */
export interface MigrateReport {
  /** Transactions looked at, in the hot store and the archive. */
  examined: number;
  /** Of them, in the order archive (counted and dry-run; `--apply` leaves the archive as it is). */
  archived: number;
  /** Stored transactions by the versions of the machines in them (`transaction v1, paymentLeg v1`). */
  byVersions: { versions: string; transactions: number }[];
  /** Already at this code's versions. */
  current: number;
  /** Older, and their migration ran cleanly (dry run with `--check`). */
  migratable: number;
  /** Written by a newer version than this code: left alone (a rolled-back deploy). */
  newer: { txnNo: string; where: 'hot' | 'archive'; reason: string }[];
  /** A migration step threw on them. */
  failed: { txnNo: string; where: 'hot' | 'archive'; reason: string }[];
  /** `--apply`: rewritten at this code's versions. */
  rewritten: number;
  /** `--apply`: written by someone else between read and rewrite (compare-and-set): left to them. */
  movedOn: number;
}

const PAGE = 500;

function versionsLabel(versions: StoredVersion[]): string {
  const byMachine = new Map<string, Set<number>>();
  for (const v of versions) byMachine.set(v.machine, (byMachine.get(v.machine) ?? new Set()).add(v.version));
  return [...byMachine].map(([machine, vs]) => `${machine} v${[...vs].sort().join('/')}`).join(', ');
}

/**
 * Counts the stored transactions (hot store and order archive) per version and dry-runs their
 * migrations (`apply: false`), or
 * rewrites the older ones at this code's versions ahead of time (`apply: true`), each by
 * compare-and-set on the version it read: one that moved on meanwhile is skipped (whoever wrote it
 * had it loaded, and a process of this version migrates on load anyway).
 */
export async function runMigrate(storage: Storage, io: CliIo, opts: { apply: boolean; json?: boolean }): Promise<MigrateReport> {
  const report: MigrateReport = { examined: 0, archived: 0, byVersions: [], current: 0, migratable: 0, newer: [], failed: [], rewritten: 0, movedOn: 0 };
  const counts = new Map<string, number>();
  /** `quote`: the quote record `record` was read from (a quoted-only transaction, issue 21), rewritten as one. */
  const examine = async (record: TransactionRecord, where: 'hot' | 'archive', quote: QuoteRecord | null = null): Promise<void> => {
    const restored = restoreSnapshot(record.snapshot);
    const label = `${where === 'archive' ? 'archived: ' : ''}${versionsLabel(restored.versions)}`;
    counts.set(label, (counts.get(label) ?? 0) + 1);
    if (!restored.ok) {
      const reason = restored.reason === 'newer' ? `${restored.path}: ${restored.machine} v${restored.stored}, newer than v${restored.current}` : `${restored.path}: ${restored.machine} v${restored.stored}: ${restored.error}`;
      (restored.reason === 'newer' ? report.newer : report.failed).push({ txnNo: record.txnNo, where, reason });
      return;
    }
    if (!restored.migrated.length) {
      report.current++;
      return;
    }
    report.migratable++;
    // The archive is not rewritten: it keeps what was archived, and a refund that rehydrates an archived transaction migrates it on load.
    if (!opts.apply || where === 'archive') return;
    const { version, ...stored } = record;
    const value = restored.snapshot.value;
    const saved = quote
      ? await storage.quotes.save({ ...quote, snapshot: restored.snapshot, stateValue: value }, version, [])
      : await storage.snapshots.save({ ...stored, snapshot: restored.snapshot, state: topState(value), stateValue: value, tasks: [], osEvents: [] }, version, []);
    if (saved.ok) report.rewritten++;
    else report.movedOn++;
  };
  let before: string | undefined;
  for (;;) {
    const rows = await storage.admin.listTransactions({ limit: PAGE, ...(before ? { before } : {}) });
    for (const row of rows) {
      const record = await storage.snapshots.load(row.txnNo);
      const quote = record ? null : await storage.quotes.load(row.txnNo);
      if (!record && !quote) continue;
      report.examined++;
      await examine(record ?? recordOfQuote(quote!), 'hot', quote);
    }
    if (rows.length < PAGE) break;
    before = rows.at(-1)!.txnNo;
  }
  if (storage.archive.enabled) {
    for (let cursor: string | null = null, first = true; first || cursor; first = false) {
      const page = await storage.archive.search({}, PAGE, cursor);
      for (const row of page.rows) {
        const entry = await storage.archive.get(row.txnNo);
        if (!entry) continue;
        report.examined++;
        report.archived++;
        await examine(entry.record, 'archive');
      }
      cursor = page.nextCursor;
    }
  }
  report.byVersions = [...counts].map(([versions, transactions]) => ({ versions, transactions })).sort((a, b) => a.versions.localeCompare(b.versions));
  if (opts.json) {
    writeJson(io, report);
    return report;
  }
  const current = Object.entries(MACHINE_VERSIONS).map(([id, v]) => `${id} v${v.version}`).join(', ');
  writeLine(io, `this version: ${current}`);
  writeLine(io, table(['stored versions', 'transactions'], report.byVersions.map((v) => [v.versions, v.transactions])));
  writeLine(io, `${report.examined} examined (${report.archived} archived): ${report.current} current, ${report.migratable} ${opts.apply ? 'older' : 'older (migration dry run clean)'}, ${report.newer.length} newer, ${report.failed.length} failed`);
  if (opts.apply) writeLine(io, `${report.rewritten} rewritten, ${report.movedOn} moved on meanwhile (left to their writer)`);
  for (const n of report.newer) writeLine(io, `newer   ${n.txnNo}${n.where === 'archive' ? ' (archived)' : ''}  ${n.reason}`);
  for (const f of report.failed) writeLine(io, `FAILED  ${f.txnNo}${f.where === 'archive' ? ' (archived)' : ''}  ${f.reason}`);
  return report;
}

export function migrateCommand(io: CliIo): Command {
  return new Command('migrate')
    .description('stored snapshots by machine version: --check counts them and dry-runs their migrations, --apply rewrites the older ones now')
    .option('--db <file>', "the platform's SQLite file")
    .option('--redis <url>', 'the Redis store')
    .option('--check', 'count and dry-run only (the default)')
    .option('--apply', 'rewrite older snapshots at this version (run once every process runs this version)')
    .option('--json', 'machine-readable JSON instead of tables')
    .action(async (opts: { db?: string; redis?: string; check?: boolean; apply?: boolean; json?: boolean }) => {
      if (opts.check && opts.apply) throw new Error('give --check or --apply, not both');
      const { openStorage } = await import('../store-access.ts');
      const storage = openStorage({ ...(opts.db ? { db: opts.db } : {}), ...(opts.redis ? { redis: opts.redis } : {}) });
      try {
        const report = await runMigrate(storage, io, { apply: opts.apply === true, ...(opts.json ? { json: true } : {}) });
        // A failed migration is a bug to fix before the deploy; newer snapshots are only reported.
        if (report.failed.length) process.exitCode = 1;
      } finally {
        await storage.close();
      }
    });
}
