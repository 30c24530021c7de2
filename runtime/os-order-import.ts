import { createReadStream, readFileSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import Database from 'better-sqlite3';
import { parse as parseCsv } from 'csv-parse/sync';
import { checkOsOrder, type CheckedOsOrder, type OsOrderRecord } from '../domain/os-order-record.ts';
import { osOrderEntry } from './os-order-entry.ts';
import type { ArchiveEntry, OrderArchive } from '../storage/types.ts';

/** The published record schema (docs/os-import.md). */
export const OS_ORDER_SCHEMA_URL = new URL('../schemas/os-order.schema.json', import.meta.url);

/** Columns of a CSV export, in order; items, discounts, payments, refunds and member hold JSON. */
export const OS_CSV_COLUMNS = ['stationId', 'terminalId', 'shiftNo', 'osOrderNo', 'createdAt', 'paidAt', 'items', 'discounts', 'payments', 'refunds', 'member'] as const;
const JSON_COLUMNS: ReadonlySet<string> = new Set(['items', 'discounts', 'payments', 'refunds', 'member']);

/** Options of {@link importOsOrders}. */
export interface ImportOptions {
  files: string[];
  /** Where the orders go. */
  archive: OrderArchive;
  /** The import's own state: which (station, OS number) it imported with which content, the checkpoint of each file, the rejects. */
  statePath: string;
  /** Station → merchant: a station not listed is unknown. */
  stations: ReadonlyMap<string, string>;
  /** The rejects file of an input (default: `<input>.rejects.csv`). */
  rejectsPath?: (file: string) => string;
  dryRun?: boolean;
  /** Records per archive write. Default 2000. */
  batchSize?: number;
  /** Stop after this many records of this run, dropping the uncommitted batch as a kill would (tests of a resumed import). */
  stopAfter?: number;
  /** Called after each batch, once its checkpoint is committed, with the bytes read so far and the records seen. */
  onProgress?: (bytes: number, totalBytes: number, records: number) => void;
  /**
   * Called with each batch's newly imported orders after their archive write and before the
   * batch's checkpoint (not in a dry run), so a killed import calls it again for that batch: it
   * must be idempotent. `trade import os-orders --admit-sim` admits their channel payments at a
   * simulated gateway here (issue 20, refunds of imported orders).
   */
  onImported?: (orders: readonly { order: CheckedOsOrder; merchantId: string }[]) => Promise<void>;
}

/** What one import did. */
export interface ImportSummary {
  /** Records read in this run (a resumed file from its checkpoint). */
  read: number;
  /** Orders written into the archive. */
  imported: number;
  /** Records imported before with the same content: left alone. */
  alreadyImported: number;
  /** Records refused in this run (each in the rejects file with its line and reason). */
  rejected: number;
  dryRun: boolean;
  /** Files resumed from a checkpoint. */
  resumed: number;
}

interface Reject { line: number; reason: string }

/** A record of the batch in progress that passed the checks: whether it is new is decided per batch. */
interface Pending { line: number; order: CheckedOsOrder }

const ledgerKey = (stationId: string, osOrderNo: string) => `${stationId}\u0000${osOrderNo}`;

/**
 * The import's state, a small SQLite file of its own (not the archive, which may be PostgreSQL):
 * the ledger of imported (station, OS number) with their content hash, each unfinished file's
 * checkpoint (byte offset and line after the last committed batch), and each file's rejects. A
 * batch's ledger rows, rejects and checkpoint are written in one transaction after its archive
 * write, so a killed import resumes at the first uncommitted batch and writes it again (the
 * archive skips what it holds) without a reject listed twice.
 */
class ImportState {
  private readonly db;
  private readonly stmt;
  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS ledger (station_id TEXT NOT NULL, os_order_no TEXT NOT NULL, content_hash TEXT NOT NULL, PRIMARY KEY (station_id, os_order_no)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS checkpoints (file TEXT PRIMARY KEY, size INTEGER NOT NULL, offset INTEGER NOT NULL, line INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS rejects (file TEXT NOT NULL, line INTEGER NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (file, line)) WITHOUT ROWID;`);
    this.stmt = {
      // One statement per batch, the batch's keys as one JSON array of [station, OS number] pairs.
      hashes: this.db.prepare<[string], { station_id: string; os_order_no: string; content_hash: string }>(
        'SELECT l.station_id, l.os_order_no, l.content_hash FROM json_each(?) j JOIN ledger l ON l.station_id = j.value ->> 0 AND l.os_order_no = j.value ->> 1',
      ),
      record: this.db.prepare<[string]>('INSERT OR IGNORE INTO ledger SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?)'),
      checkpoint: this.db.prepare<[string], { size: number; offset: number; line: number }>('SELECT size, offset, line FROM checkpoints WHERE file = ?'),
      setCheckpoint: this.db.prepare('INSERT INTO checkpoints VALUES (?, ?, ?, ?) ON CONFLICT(file) DO UPDATE SET size = excluded.size, offset = excluded.offset, line = excluded.line'),
      clearCheckpoint: this.db.prepare('DELETE FROM checkpoints WHERE file = ?'),
      reject: this.db.prepare('INSERT OR REPLACE INTO rejects VALUES (?, ?, ?)'),
      rejects: this.db.prepare<[string], { line: number; reason: string }>('SELECT line, reason FROM rejects WHERE file = ? ORDER BY line'),
      clearRejects: this.db.prepare('DELETE FROM rejects WHERE file = ?'),
    };
  }
  /** The content hash each of `keys` was imported with, by {@link ledgerKey} (absent: not imported). */
  hashesOf(keys: readonly (readonly [string, string])[]): Map<string, string> {
    const found = new Map<string, string>();
    if (!keys.length) return found;
    for (const r of this.stmt.hashes.all(JSON.stringify(keys))) found.set(ledgerKey(r.station_id, r.os_order_no), r.content_hash);
    return found;
  }
  checkpoint(file: string, size: number): { offset: number; line: number } | null {
    const c = this.stmt.checkpoint.get(file);
    // A file that changed size since is another export: read it from the start.
    return c && c.size === size ? { offset: c.offset, line: c.line } : null;
  }
  startFile(file: string): void {
    this.stmt.clearRejects.run(file);
  }
  commit(file: string, size: number, offset: number, line: number, imported: { stationId: string; osOrderNo: string; hash: string }[], rejects: Reject[]): void {
    this.db.transaction(() => {
      if (imported.length) this.stmt.record.run(JSON.stringify(imported.map((i) => [i.stationId, i.osOrderNo, i.hash])));
      for (const r of rejects) this.stmt.reject.run(file, r.line, r.reason);
      this.stmt.setCheckpoint.run(file, size, offset, line);
    })();
  }
  finish(file: string): Reject[] {
    this.stmt.clearCheckpoint.run(file);
    return this.stmt.rejects.all(file);
  }
  close(): void {
    this.db.close();
  }
}

/** The lines of `file` from byte `offset`, each with the byte offset after it (a record is one physical line in both formats). */
async function* linesOf(file: string, offset: number): AsyncGenerator<{ text: string; end: number }> {
  let pending: Buffer = Buffer.alloc(0);
  let position = offset;
  for await (const chunk of createReadStream(file, { start: offset, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    let buf = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl !== -1; nl = buf.indexOf(10, start)) {
      const text = buf.toString('utf8', start, nl > start && buf[nl - 1] === 13 ? nl - 1 : nl);
      position += nl + 1 - start;
      start = nl + 1;
      yield { text, end: position };
    }
    pending = buf.subarray(start);
    buf = pending;
  }
  if (pending.length) yield { text: pending.toString('utf8'), end: position + pending.length };
}

type Parsed = { ok: true; value: unknown } | { ok: false; reason: string };

function csvRecord(text: string, header: readonly string[]): Parsed {
  let cells: string[];
  try {
    const rows = parseCsv(text) as string[][];
    cells = rows[0] ?? [];
  } catch (e) {
    return { ok: false, reason: `invalid record: not a CSV row (${(e as Error).message})` };
  }
  if (cells.length !== header.length) return { ok: false, reason: `invalid record: ${cells.length} cells, the header has ${header.length}` };
  const out: Record<string, unknown> = {};
  for (let i = 0; i < header.length; i++) {
    const name = header[i]!;
    const cell = cells[i] ?? '';
    if (!JSON_COLUMNS.has(name)) out[name] = cell;
    else {
      try {
        out[name] = JSON.parse(cell === '' ? 'null' : cell);
      } catch {
        return { ok: false, reason: `invalid record: ${name} is not JSON` };
      }
    }
  }
  return { ok: true, value: out };
}

function jsonRecord(text: string): Parsed {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, reason: 'invalid record: not JSON' };
  }
}

function schemaValidator() {
  const ajv = new Ajv2020({ allErrors: false });
  return ajv.compile<OsOrderRecord>(JSON.parse(readFileSync(OS_ORDER_SCHEMA_URL, 'utf8')) as object);
}

const isCsv = (file: string) => /\.csv$/i.test(file);

/**
 * Imports OS order exports into the archive (issue 20, DOMAIN.md "Rollout, OS and history"):
 * streaming, in batches of one archive write each; idempotent by (station, OS order number);
 * resumable from each file's checkpoint; every refused record in the file's rejects file.
 */
export async function importOsOrders(opts: ImportOptions): Promise<ImportSummary> {
  const validate = schemaValidator();
  const state = new ImportState(opts.statePath);
  const batchSize = opts.batchSize ?? 2000;
  const summary: ImportSummary = { read: 0, imported: 0, alreadyImported: 0, rejected: 0, dryRun: opts.dryRun === true, resumed: 0 };
  const totalBytes = opts.files.reduce((a, f) => a + statSync(f).size, 0);
  let bytesBefore = 0;
  try {
    for (const input of opts.files) {
      const file = resolve(input);
      const size = statSync(file).size;
      const checkpoint = opts.dryRun ? null : state.checkpoint(file, size);
      if (checkpoint) summary.resumed++;
      else if (!opts.dryRun) state.startFile(file);
      let header: readonly string[] = [];
      let offset = checkpoint?.offset ?? 0;
      let lineNo = checkpoint?.line ?? 0;
      if (isCsv(file)) {
        const first = await linesOf(file, 0).next();
        if (first.done) continue;
        header = (parseCsv(first.value.text) as string[][])[0] ?? [];
        if (!checkpoint) {
          offset = first.value.end;
          lineNo = 1;
        }
      }
      const dryRejects: Reject[] = [];
      let pending: Pending[] = [];
      let rejects: Reject[] = [];
      let batchEnd = offset;
      let stopped = false;
      // The batch written while the next is read and checked (pipelined: PostgreSQL inserts and
      // SQLite's WAL fsync run while this thread parses), with what its ledger rows will say once
      // committed: a batch checked before the one in flight has committed asks both.
      let inFlight: Promise<void> | null = null;
      let inFlightLedger = new Map<string, string>();
      /** Decides the batch in progress against the ledger and starts its write once the batch before it is committed. */
      const flush = async () => {
        // The ledger is asked once per batch; (station, OS number) seen again inside the batch is decided here too.
        const known = state.hashesOf(pending.map((p) => [p.order.record.stationId, p.order.record.osOrderNo] as const));
        for (const [key, hash] of inFlightLedger) if (!known.has(key)) known.set(key, hash);
        const entries: ArchiveEntry[] = [];
        const imported: { order: CheckedOsOrder; merchantId: string }[] = [];
        const ledger: { stationId: string; osOrderNo: string; hash: string }[] = [];
        const batchLedger = new Map<string, string>();
        const batchRejects = rejects;
        let already = 0;
        for (const { line, order } of pending) {
          const { record, contentHash } = order;
          const key = ledgerKey(record.stationId, record.osOrderNo);
          const seen = known.get(key);
          if (seen === contentHash) already++;
          else if (seen !== undefined) batchRejects.push({ line, reason: `seen with other content: ${record.stationId} order ${record.osOrderNo} was imported with other content` });
          else {
            known.set(key, contentHash);
            batchLedger.set(key, contentHash);
            const merchantId = opts.stations.get(record.stationId) ?? '';
            entries.push(osOrderEntry(order, merchantId));
            imported.push({ order, merchantId });
            ledger.push({ stationId: record.stationId, osOrderNo: record.osOrderNo, hash: contentHash });
          }
        }
        const end = batchEnd;
        const endLine = lineNo;
        pending = [];
        rejects = [];
        if (opts.dryRun) {
          summary.imported += entries.length;
          dryRejects.push(...batchRejects.sort((a, b) => a.line - b.line));
          summary.alreadyImported += already;
          summary.rejected += batchRejects.length;
          opts.onProgress?.(bytesBefore + end, totalBytes, summary.read);
          return;
        }
        await inFlight;
        inFlightLedger = batchLedger;
        const records = summary.read;
        inFlight = (async () => {
          const result = entries.length ? await opts.archive.put(entries) : { written: 0, skipped: 0 };
          if (imported.length) await opts.onImported?.(imported);
          summary.imported += result.written;
          // Written to the archive by a run killed before its checkpoint: already imported.
          summary.alreadyImported += result.skipped + already;
          summary.rejected += batchRejects.length;
          state.commit(file, size, end, endLine, ledger, batchRejects);
          opts.onProgress?.(bytesBefore + end, totalBytes, records);
        })();
        // A failed write fails the import at the next await of it; until then nothing may go unhandled.
        inFlight.catch(() => {});
      };
      try {
        for await (const line of linesOf(file, offset)) {
          lineNo++;
          batchEnd = line.end;
          if (line.text.trim() === '') continue;
          summary.read++;
          const parsed = header.length ? csvRecord(line.text, header) : jsonRecord(line.text);
          if (!parsed.ok) rejects.push({ line: lineNo, reason: parsed.reason });
          else if (!validate(parsed.value)) {
            const e = validate.errors?.[0];
            rejects.push({ line: lineNo, reason: `invalid record: ${e?.instancePath || '/'} ${e?.message ?? ''}`.trim() });
          } else {
            const check = checkOsOrder(parsed.value, (s) => opts.stations.has(s));
            if (!check.ok) rejects.push({ line: lineNo, reason: `${check.code}: ${check.message}` });
            else pending.push({ line: lineNo, order: check.order });
          }
          if (pending.length + rejects.length >= batchSize) await flush();
          if (opts.stopAfter !== undefined && summary.read >= opts.stopAfter) {
            stopped = true;
            break;
          }
        }
        // A stop is a kill in miniature: the batch in progress is lost, the checkpoint is where the last commit left it.
        if (!stopped) await flush();
      } finally {
        // The batch already handed to the archive is seen through (or its failure thrown) before the state closes.
        await inFlight;
      }
      if (stopped) return summary;
      const fileRejects = opts.dryRun ? dryRejects : state.finish(file);
      const rejectsPath = opts.rejectsPath?.(input) ?? `${input}.rejects.csv`;
      if (!opts.dryRun) writeFileSync(rejectsPath, ['line,reason', ...fileRejects.map((r) => `${r.line},"${r.reason.replace(/"/g, '""')}"`)].join('\n') + '\n');
      bytesBefore += size;
    }
    return summary;
  } finally {
    state.close();
  }
}

