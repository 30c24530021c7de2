import { Command } from 'commander';
import type { CheckedOsOrder } from '../../domain/os-order-record.ts';
import type { historicPaymentsOf as HistoricPaymentsOf } from '../../runtime/os-order-entry.ts';
import type { OrderArchive } from '../../storage/types.ts';
import { writeJson, type CliIo } from './cli-io.ts';

interface CommandOptions {
  db?: string;
  data?: string;
  state?: string;
  rejects?: string;
  dryRun?: boolean;
  batch: number;
  admitSim?: string;
  progressLines?: boolean;
}

/**
 * What `--admit-sim` does with each batch of imported orders: their channel payments admitted at
 * the simulated gateway, which the real channel knows and the simulator does not (issue 20).
 */
function admitAt(simUrl: string, paymentsOf: typeof HistoricPaymentsOf) {
  const token = process.env.TRADE_SIM_ADMIN_TOKEN;
  return async (orders: readonly { order: CheckedOsOrder; merchantId: string }[]): Promise<void> => {
    const payments = orders.flatMap((o) => paymentsOf(o.order, o.merchantId));
    if (!payments.length) return;
    const res = await fetch(`${simUrl.replace(/\/$/, '')}/sim/historic-payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ payments }),
    });
    if (!res.ok) throw new Error(`admitting ${payments.length} historic payments at ${simUrl}: HTTP ${res.status} ${await res.text()}`);
  };
}

/** `trade import os-orders FILE…`: OS history into the archive (SQLite `--db`, or PostgreSQL with `TRADE_ARCHIVE_URL`). */
export function importCommand(io: CliIo): Command {
  const cmd = new Command('import').description('import history from other systems');
  cmd
    .command('os-orders')
    .description('import OS order exports (JSON Lines or CSV, docs/os-import.md) into the order archive')
    .argument('<files...>', '.jsonl or .csv exports')
    .option('--db <file>', 'the platform SQLite file whose archive receives the orders (without TRADE_ARCHIVE_URL)')
    .option('--data <file>', 'dataset whose stations are known (default: the demo dataset)')
    .option('--state <file>', "the import's ledger and checkpoints (default: <db>.os-import, or os-import.state beside the first file)")
    .option('--rejects <file>', 'rejects file (one input only; default: <input>.rejects.csv)')
    .option('--dry-run', 'check and count, write nothing')
    .option('--batch <n>', 'records per archive write', (v) => Number.parseInt(v, 10), 2000)
    .option('--progress-lines', 'one JSON line on stderr per committed batch (bytes, records, records/s): progress for logs and supervisors, where no terminal shows the bar')
    .option('--admit-sim <url>', 'demo/sim mode: admit the channel payments of the imported orders at this `trade sim` (POST /sim/historic-payments, Bearer TRADE_SIM_ADMIN_TOKEN when set), so they can be refunded')
    .action(async (files: string[], opts: CommandOptions) => {
      const url = process.env.TRADE_ARCHIVE_URL;
      if (!url && !opts.db) throw new Error('give --db <file> or set TRADE_ARCHIVE_URL');
      // Loaded on demand: the importer brings the storage backends, which other commands do not need.
      const [{ importOsOrders }, { historicPaymentsOf }, { SingleBar }, { PostgresOrderArchive }, { openSqliteStorage }, { DEMO_DATASET_URL, loadDataset }] = await Promise.all([
        import('../../runtime/os-order-import.ts'),
        import('../../runtime/os-order-entry.ts'),
        import('cli-progress'),
        import('../../storage/postgres/order-archive.ts'),
        import('../../storage/sqlite/storage.ts'),
        import('../../systems/sim/index.ts'),
      ]);
      const dataset = loadDataset(opts.data ?? DEMO_DATASET_URL);
      const stations = new Map(dataset.stations.map((s) => [s.stationId, s.merchantId]));
      const sqlite = url ? null : openSqliteStorage(opts.db ?? '');
      const archive: OrderArchive = url
        ? new PostgresOrderArchive({ url, ...(process.env.TRADE_ARCHIVE_SCHEMA ? { schema: process.env.TRADE_ARCHIVE_SCHEMA } : {}) })
        : sqlite!.archive;
      const statePath = opts.state ?? (opts.db ? `${opts.db}.os-import` : `${files[0]}.os-import.state`);
      const started = Date.now();
      const bar = process.stderr.isTTY
        ? new SingleBar({ stream: process.stderr, format: 'importing [{bar}] {percentage}% | {records} records | {rate} records/s | ETA {eta_formatted}', hideCursor: true, clearOnComplete: true })
        : null;
      bar?.start(1, 0, { records: 0, rate: 0 });
      try {
        const summary = await importOsOrders({
          files,
          archive,
          statePath,
          stations,
          ...(opts.rejects ? { rejectsPath: () => opts.rejects! } : {}),
          dryRun: opts.dryRun === true,
          ...(opts.admitSim ? { onImported: admitAt(opts.admitSim, historicPaymentsOf) } : {}),
          batchSize: opts.batch,
          onProgress: (bytes, total, records) => {
            bar?.setTotal(total);
            const rate = Math.round(records / Math.max(0.001, (Date.now() - started) / 1000));
            bar?.update(bytes, { records, rate });
            // Written after the batch's checkpoint is committed: a line says that much is safely in.
            if (opts.progressLines) io.err.write(`${JSON.stringify({ bytes, totalBytes: total, records, recordsPerSecond: rate })}\n`);
          },
        });
        bar?.stop();
        const ms = Date.now() - started;
        writeJson(io, { ...summary, ms, recordsPerSecond: Math.round(summary.read / Math.max(0.001, ms / 1000)) });
      } finally {
        bar?.stop();
        await (sqlite ? sqlite.close() : archive.close());
      }
    });
  return cmd;
}
