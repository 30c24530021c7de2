/**
 * OS history import throughput (issue 20): a seeded export generated, then imported by the same
 * code as `trade import os-orders` into the SQLite archive and into PostgreSQL (a database of its
 * own, dropped after). Reports records/s of the whole import (parse, check, map, archive write).
 *
 *   npx tsx bench/os-import.ts [--count 100000] [--pg postgres://postgres@127.0.0.1:5432]
 *   OS_IMPORT_BENCH_PG=off skips PostgreSQL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { importOsOrders } from '../runtime/os-order-import.ts';
import { generateOsOrders } from '../scripts/generate-os-orders.ts';
import { PostgresOrderArchive } from '../storage/postgres/order-archive.ts';
import { openSqliteStorage } from '../storage/sqlite/storage.ts';
import type { OrderArchive } from '../storage/types.ts';

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
};
const COUNT = Number(arg('--count') ?? 100_000);
const PG_SERVER = arg('--pg') ?? process.env.TRADE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432';
const STATIONS = new Map([['S1', 'M1'], ['S2', 'M1'], ['S3', 'M2']]);

async function timed(label: string, archive: OrderArchive, input: string, dir: string): Promise<void> {
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const summary = await importOsOrders({ files: [input], archive, stations: STATIONS, statePath: join(dir, `${label}.state`), rejectsPath: () => join(dir, `${label}.rejects.csv`) });
  const s = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  // This process's CPU only (a PostgreSQL server's work is in its own processes): the machine is shared, wall time is not all ours.
  const cpuUsPerRecord = (cpu.user + cpu.system) / Math.max(1, summary.read);
  const [totals] = await archive.summary({ origin: 'os-import' }, []);
  console.log(`${label}: ${summary.imported} imported of ${summary.read} read in ${s.toFixed(1)} s = ${Math.round(summary.read / s)} records/s, ${cpuUsPerRecord.toFixed(0)} µs of this process's CPU per record (archive holds ${totals?.count ?? 0} orders, ${totals?.paidAmountFen ?? 0} fen paid; load ${loadavg()[0]?.toFixed(1)})`);
}

const dir = mkdtempSync(join(tmpdir(), 'os-import-bench-'));
try {
  const input = join(dir, 'orders.jsonl');
  const generated = await generateOsOrders({ count: COUNT, seed: 1, bad: 0, format: 'jsonl', out: input });
  console.log(`# ${COUNT} OS orders (${generated.goodPaidFen} fen), load ${loadavg()[0]?.toFixed(1)} on this machine`);
  const storage = openSqliteStorage(join(dir, 'trade.db'));
  try {
    await timed('sqlite', storage.archive, input, dir);
  } finally {
    await storage.close();
  }
  if (process.env.OS_IMPORT_BENCH_PG !== 'off') {
    const name = `os_import_bench_${process.pid}`;
    const admin = new pg.Client({ connectionString: `${PG_SERVER}/postgres` });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const archive = new PostgresOrderArchive({ url: `${PG_SERVER}/${name}` });
    try {
      await timed('postgres', archive, input, dir);
    } finally {
      await archive.close();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
