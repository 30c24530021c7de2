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
import type { BillChannel } from '../domain/reconciliation/bill-row.ts';
import { parseBill } from '../domain/reconciliation/parse-bill.ts';
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

/** The child: parses one file and prints its figures as JSON. */
async function parseOne(channel: BillChannel, path: string): Promise<void> {
  let rows = 0;
  let peakHeap = 0;
  let ok = false;
  const started = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  for await (const e of parseBill(channel, createReadStream(path, { highWaterMark: 1 << 16 }))) {
    if (e.type === 'row') {
      rows++;
      if ((rows & 0xffff) === 0) peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    } else ok = e.check.ok;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu0);
  // CPU time of the parse: on a shared, loaded machine wall time mostly measures the others.
  const cpuSeconds = (used.user + used.system) / 1e6;
  process.stdout.write(JSON.stringify({ rows, ok, seconds, rowsPerSecond: Math.round(rows / seconds), cpuSeconds, rowsPerCpuSecond: Math.round(rows / cpuSeconds), peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024), peakHeapMb: Math.round(peakHeap / 2 ** 20) }));
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--parse') return parseOne(args[1] as BillChannel, args[2]!);
  const sizes = (args[args.indexOf('--rows') + 1] && args.includes('--rows') ? args[args.indexOf('--rows') + 1]! : '100000,1000000').split(',').map(Number);
  const keep = args.includes('--keep') ? args[args.indexOf('--keep') + 1]! : null;
  const dir = keep ?? mkdtempSync(join(tmpdir(), 'recon-parse-'));
  try {
    const results = [];
    for (const channel of ['wechat', 'alipay'] as const) {
      for (const n of sizes) {
        const path = join(dir, `${channel}-${n}.${channel === 'wechat' ? 'csv' : 'zip'}`);
        await generate(channel, n, path);
        const out = execFileSync(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--parse', channel, path], { encoding: 'utf8', maxBuffer: 1 << 20 });
        const r = JSON.parse(out) as { rows: number; ok: boolean };
        if (r.rows !== n || !r.ok) throw new Error(`${channel} ${n}: parsed ${r.rows} rows, check ok ${r.ok}`);
        results.push({ channel, fileMb: Math.round(statSync(path).size / 2 ** 20), ...r });
        if (!keep) rmSync(path);
      }
    }
    console.table(results);
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
