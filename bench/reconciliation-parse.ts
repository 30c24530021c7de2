/**
 * Parses 100,000- and 1,000,000-row WeChat and Alipay bills streamed from disk: rows/s and peak
 * memory, to show parsing is streaming (memory flat from 100k to 1M). The files are generated
 * first, outside the timed part, by the simulator's own renderers; each parse runs in a child
 * process of its own so its peak RSS (`resourceUsage().maxRSS`) is the parse's alone.
 *
 *   npx tsx bench/reconciliation-parse.ts [--rows 100000,1000000] [--keep DIR]
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { Zip, ZipDeflate } from 'fflate';
import iconv from 'iconv-lite';
import { channelFeeFen, chinaDayBounds } from '../domain/reconciliation/bill-format.ts';
import type { BillChannel, BillRow } from '../domain/reconciliation/bill-row.ts';
import { EMPTY_CARRY, matchDay, type PlatformRow } from '../domain/reconciliation/match.ts';
import { parseBill, type BillEvent } from '../domain/reconciliation/parse-bill.ts';
import { renderAlipay, renderWechat, type BillFact } from '../systems/payment-gateway/bills/render.ts';

const DAY = '2026-12-01';

/** A day of `n` rows, one refund in ten, spread over the day. */
function* facts(channel: BillChannel, n: number): Generator<BillFact> {
  const { startMs } = chinaDayBounds(DAY);
  for (let i = 0; i < n; i++) {
    const refund = i % 10 === 9;
    const paymentNo = `T${String(i).padStart(10, '0')}-P1`;
    const amountFen = refund ? 500 : 1000 + (i % 50_000);
    yield {
      channel, kind: refund ? 'refund' : 'payment', merchantRef: refund ? `R${paymentNo.slice(0, -3)}-1` : paymentNo, paymentNo,
      channelRef: `42000${String(i).padStart(23, '0')}`, channelTradeNo: `42000${String(i).padStart(23, '0')}`, merchantId: 'M1',
      status: 'succeeded', amountFen, feeFen: channelFeeFen(channel, refund ? 'refund' : 'payment', amountFen),
      at: new Date(startMs + Math.floor((i / n) * 86_399_000)).toISOString(), txnNo: paymentNo.slice(0, -3), description: '92# 汽油',
    };
  }
}

async function write(out: NodeJS.WritableStream, data: Uint8Array | string): Promise<void> {
  if (!out.write(data)) await once(out, 'drain');
}

async function generate(channel: 'wechat' | 'alipay', n: number, path: string): Promise<void> {
  const out = createWriteStream(path);
  if (channel === 'wechat') {
    let batch = '';
    for (const line of renderWechat(facts(channel, n))) {
      batch += line;
      if (batch.length > 1 << 16) { await write(out, batch); batch = ''; }
    }
    await write(out, batch);
  } else {
    const pending: Uint8Array[] = [];
    const zip = new Zip((err, chunk) => { if (err) throw err; pending.push(chunk); });
    const entry = new ZipDeflate(`20881234567890120156_${DAY.replaceAll('-', '')}_业务明细.csv`, { level: 6 });
    zip.add(entry);
    let batch = '';
    const flush = async (final: boolean) => {
      entry.push(iconv.encode(batch, 'gbk'), final);
      batch = '';
      while (pending.length > 0) await write(out, pending.shift()!);
    };
    for (const line of renderAlipay(DAY, facts(channel, n))) {
      batch += line;
      if (batch.length > 1 << 16) await flush(false);
    }
    await flush(true);
    zip.end();
    while (pending.length > 0) await write(out, pending.shift()!);
  }
  out.end();
  await once(out, 'finish');
}

/** Our side of the day the bill was made from, every `MISSING_EVERY`th row left out (the matcher must find those). */
const MISSING_EVERY = 997;

/**
 * Our side of the day as the store hands it to the matcher: streamed in time order, one row at a
 * time (the same rows as {@link facts}, built directly: this runs inside the timed part).
 */
function* platformSide(channel: BillChannel, n: number): Generator<PlatformRow> {
  const { startMs } = chinaDayBounds(DAY);
  for (let i = 0; i < n; i++) {
    if (i % MISSING_EVERY === 0) continue;
    const refund = i % 10 === 9;
    const txnNo = `T${String(i).padStart(10, '0')}`;
    const paymentNo = `${txnNo}-P1`;
    yield {
      kind: refund ? 'refund' : 'payment', channel, txnNo, merchantId: 'M1', paymentNo, refundLegNo: refund ? `R${txnNo}-1` : null,
      amountFen: refund ? 500 : 1000 + (i % 50_000), status: 'succeeded', channelTradeNo: `42000${String(i).padStart(23, '0')}`,
      at: startMs + Math.floor((i / n) * 86_399_000), txnState: 'completed',
    };
  }
}

/** The bill's rows, its check kept in `check`, the heap sampled every 65,536 rows while the match runs. */
async function* rowsOf(events: AsyncIterable<BillEvent>, check: { ok: boolean; peakHeap: number }): AsyncGenerator<BillRow> {
  let rows = 0;
  for await (const e of events) {
    if (e.type === 'row') {
      if ((++rows & 0xffff) === 0) check.peakHeap = Math.max(check.peakHeap, process.memoryUsage().heapUsed);
      yield e.row;
    } else check.ok = e.check.ok;
  }
}

/**
 * The child: parses one file (`--parse`), or parses and matches it against our side of the day
 * (`--match`: our rows streamed in time order as the store's movements come, merge-joined with the
 * bill, every row classified; building our rows is inside the timed part), and prints its figures
 * as JSON.
 */
async function parseOne(mode: '--parse' | '--match', channel: BillChannel, path: string, n: number): Promise<void> {
  let rows = 0;
  let peakHeap = 0;
  let ok = false;
  let found: Record<string, number> | null = null;
  const started = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const bill = parseBill(channel, createReadStream(path, { highWaterMark: 1 << 16 }));
  if (mode === '--parse') {
    for await (const e of bill) {
      if (e.type === 'row') {
        rows++;
        if ((rows & 0xffff) === 0) peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
      } else ok = e.check.ok;
    }
  } else {
    const check = { ok: false, peakHeap: 0 };
    const result = await matchDay(rowsOf(bill, check), {
      channel, day: DAY, platform: platformSide(channel, n), carryIn: EMPTY_CARRY, lookup: async () => null, dayRow: async () => null,
      expectedFee: (row) => channelFeeFen(row.channel, row.kind, row.amountFen),
    });
    rows = result.totals.billRows;
    ok = check.ok;
    found = {};
    for (const d of result.discrepancies) found[d.kind] = (found[d.kind] ?? 0) + 1;
    peakHeap = Math.max(check.peakHeap, process.memoryUsage().heapUsed);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu0);
  // CPU time of the parse: on a shared, loaded machine wall time mostly measures the others.
  const cpuSeconds = (used.user + used.system) / 1e6;
  process.stdout.write(JSON.stringify({
    rows, ok, seconds, rowsPerSecond: Math.round(rows / seconds), cpuSeconds, rowsPerCpuSecond: Math.round(rows / cpuSeconds),
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024), peakHeapMb: Math.round(peakHeap / 2 ** 20), ...(found ? { found } : {}),
  }));
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--parse' || args[0] === '--match') return parseOne(args[0], args[1] as BillChannel, args[2]!, Number(args[3]));
  const sizes = (args[args.indexOf('--rows') + 1] && args.includes('--rows') ? args[args.indexOf('--rows') + 1]! : '100000,1000000').split(',').map(Number);
  const keep = args.includes('--keep') ? args[args.indexOf('--keep') + 1]! : null;
  const dir = keep ?? mkdtempSync(join(tmpdir(), 'recon-parse-'));
  try {
    const results = [];
    for (const channel of ['wechat', 'alipay'] as const) {
      for (const n of sizes) {
        const path = join(dir, `${channel}-${n}.${channel === 'wechat' ? 'csv' : 'zip'}`);
        await generate(channel, n, path);
        for (const mode of ['--parse', '--match'] as const) {
          const out = execFileSync(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, mode, channel, path, String(n)], { encoding: 'utf8', maxBuffer: 1 << 20 });
          const r = JSON.parse(out) as { rows: number; ok: boolean; found?: Record<string, number> };
          if (r.rows !== n || !r.ok) throw new Error(`${channel} ${n}: parsed ${r.rows} rows, check ok ${r.ok}`);
          const missing = Math.ceil(n / MISSING_EVERY);
          if (r.found && (Object.keys(r.found).join() !== 'platform_missing' || r.found.platform_missing !== missing)) {
            throw new Error(`${channel} ${n}: found ${JSON.stringify(r.found)}, planted ${missing} platform_missing`);
          }
          results.push({ channel, mode: mode.slice(2), fileMb: Math.round(statSync(path).size / 2 ** 20), ...r, found: r.found ? r.found.platform_missing : '' });
        }
        if (!keep) rmSync(path);
      }
    }
    console.table(results);
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
