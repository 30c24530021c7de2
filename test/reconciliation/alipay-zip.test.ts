import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { crc32, deflateRawSync } from 'node:zlib';
import { Zip, ZipDeflate } from 'fflate';
import iconv from 'iconv-lite';
import t from 'tap';
import type { BillCheck } from '../../domain/reconciliation/bill-format.ts';
import type { BillRow } from '../../domain/reconciliation/bill-row.ts';
import { parseBill } from '../../domain/reconciliation/parse-bill.ts';

const csv = readFileSync(fileURLToPath(new URL('../fixtures/bills/alipay-day.csv', import.meta.url)));
const DETAIL = '20881234567890120156_20261201_业务明细.csv';
const SUMMARY = '20881234567890120156_20261201_业务明细(汇总).csv';
const summaryCsv = iconv.encode('#支付宝业务汇总查询\n', 'gbk');

interface Entry {
  name: string;
  data: Uint8Array;
  /** 0 stored, 8 deflate, or any other method number (its data then stored as is). */
  method?: number;
  /** Sizes and CRC after the data (flag bit 3), zeros in the local header, as streaming writers do. */
  descriptor?: boolean;
  /** The name in GBK without the UTF-8 flag, as Alipay's own zips are written. */
  gbkName?: boolean;
  /** The name in UTF-8 without the UTF-8 flag, as some tools write it. */
  unflaggedUtf8?: boolean;
  extraFlags?: number;
  /** A CRC-32 to state instead of the data's own. */
  statedCrc?: number;
  /** Zip64: the sizes in the zip64 extra field (header) and 8 bytes wide in the data descriptor. */
  zip64?: boolean;
}

/** A zip written byte by byte from the format (APPNOTE 4.3), so each test controls every field it is about. */
function zipOf(entries: Entry[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const method = e.method ?? 8;
    const body = method === 8 ? deflateRawSync(e.data) : Buffer.from(e.data);
    const name = e.gbkName ? iconv.encode(e.name, 'gbk') : Buffer.from(e.name, 'utf8');
    const flags = (e.gbkName || e.unflaggedUtf8 ? 0 : 0x0800) | (e.descriptor ? 0x0008 : 0) | (e.extraFlags ?? 0);
    const crc = e.statedCrc ?? crc32(e.data);
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(20, 4);
    header.writeUInt16LE(flags, 6);
    header.writeUInt16LE(method, 8);
    header.writeUInt32LE(e.descriptor ? 0 : crc, 14);
    header.writeUInt32LE(e.descriptor ? 0 : e.zip64 ? 0xffffffff : body.length, 18);
    header.writeUInt32LE(e.descriptor ? 0 : e.zip64 ? 0xffffffff : e.data.length, 22);
    header.writeUInt16LE(name.length, 26);
    const extra = Buffer.alloc(e.zip64 ? 20 : 0);
    if (e.zip64) {
      extra.writeUInt16LE(0x0001, 0);
      extra.writeUInt16LE(16, 2);
      extra.writeBigUInt64LE(BigInt(e.descriptor ? 0 : e.data.length), 4);
      extra.writeBigUInt64LE(BigInt(e.descriptor ? 0 : body.length), 12);
    }
    header.writeUInt16LE(extra.length, 28);
    const local = [header, name, extra, body];
    if (e.descriptor && e.zip64) {
      const d = Buffer.alloc(24);
      d.writeUInt32LE(0x08074b50, 0);
      d.writeUInt32LE(crc, 4);
      d.writeBigUInt64LE(BigInt(body.length), 8);
      d.writeBigUInt64LE(BigInt(e.data.length), 16);
      local.push(d);
    } else if (e.descriptor) {
      const d = Buffer.alloc(16);
      d.writeUInt32LE(0x08074b50, 0);
      d.writeUInt32LE(crc, 4);
      d.writeUInt32LE(body.length, 8);
      d.writeUInt32LE(e.data.length, 12);
      local.push(d);
    }
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(flags, 8);
    c.writeUInt16LE(method, 10);
    c.writeUInt32LE(crc, 16);
    c.writeUInt32LE(body.length, 20);
    c.writeUInt32LE(e.data.length, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt32LE(offset, 42);
    central.push(c, name);
    for (const p of local) offset += p.length;
    parts.push(...local);
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, directory, end]);
}

function* chunks(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function parse(source: Iterable<Uint8Array>): Promise<{ rows: BillRow[]; check: BillCheck }> {
  const rows: BillRow[] = [];
  let check: BillCheck | null = null;
  for await (const e of parseBill('alipay', source)) {
    if (e.type === 'row') rows.push(e.row);
    else check = e.check;
  }
  if (!check) throw new Error('the parser ended without its check');
  return { rows, check };
}

const golden = await parse([csv]);

t.test('the golden day parses (3 rows, totals ok) as the reference of the zips below', async (t) => {
  t.equal(golden.check.ok, true, golden.check.problems.join('; '));
  t.equal(golden.rows.length, 3);
});

t.test('a stored (method 0) entry is read as it is, in chunks of any size', async (t) => {
  const zip = zipOf([{ name: SUMMARY, data: summaryCsv, method: 0 }, { name: DETAIL, data: csv, method: 0 }]);
  for (const size of [1, 7, 64, zip.length]) {
    const { rows, check } = await parse(chunks(zip, size));
    t.equal(check.ok, true, `chunks of ${size}: ${check.problems.join('; ')}`);
    t.same(rows, golden.rows, `chunks of ${size}: the rows of the CSV itself`);
  }
});

t.test('deflated entries with their sizes after the data are inflated to their end, the 汇总 before them inflated and skipped', async (t) => {
  const zip = zipOf([{ name: SUMMARY, data: summaryCsv, descriptor: true }, { name: DETAIL, data: csv, descriptor: true }]);
  for (const size of [1, 5, 64, zip.length]) {
    const { rows, check } = await parse(chunks(zip, size));
    t.equal(check.ok, true, `chunks of ${size}: ${check.problems.join('; ')}`);
    t.same(rows, golden.rows, `chunks of ${size}`);
  }
});

t.test('zip64 entries, their sizes in the zip64 extra field or 8 bytes wide after the data, are read', async (t) => {
  for (const descriptor of [false, true]) {
    const zip = zipOf([{ name: SUMMARY, data: summaryCsv, zip64: true, descriptor }, { name: DETAIL, data: csv, zip64: true, descriptor }]);
    const { rows, check } = await parse(chunks(zip, 9));
    t.equal(check.ok, true, `descriptor ${descriptor}: ${check.problems.join('; ')}`);
    t.same(rows, golden.rows, `descriptor ${descriptor}`);
  }
  const stored = await parse([zipOf([{ name: SUMMARY, data: summaryCsv, zip64: true, method: 0 }, { name: DETAIL, data: csv, zip64: true, method: 0 }])]);
  t.equal(stored.check.ok, true, stored.check.problems.join('; '));
  t.same(stored.rows, golden.rows, 'stored, its size in the zip64 field');
});

t.test('a zip written as a stream (fflate, like Java ZipOutputStream: data descriptors) parses the same', async (t) => {
  const parts: Uint8Array[] = [];
  const zip = new Zip((err, chunk) => {
    if (err) throw err;
    parts.push(chunk);
  });
  const entry = new ZipDeflate(DETAIL, { level: 6 });
  zip.add(entry);
  for (const part of chunks(csv, 100)) entry.push(part);
  entry.push(new Uint8Array(0), true);
  zip.end();
  const { rows, check } = await parse(parts);
  t.equal(check.ok, true, check.problems.join('; '));
  t.same(rows, golden.rows);
});

t.test('an entry named in GBK without the UTF-8 flag, as Alipay writes them, is found (and one in unflagged UTF-8)', async (t) => {
  const { rows, check } = await parse([zipOf([{ name: SUMMARY, data: summaryCsv, gbkName: true }, { name: DETAIL, data: csv, gbkName: true }])]);
  t.equal(check.ok, true, check.problems.join('; '));
  t.same(rows, golden.rows);
  const utf8 = await parse([zipOf([{ name: SUMMARY, data: summaryCsv, unflaggedUtf8: true }, { name: DETAIL, data: csv, unflaggedUtf8: true }])]);
  t.equal(utf8.check.ok, true, `a UTF-8 name without the flag is found too: ${utf8.check.problems.join('; ')}`);
  t.same(utf8.rows, golden.rows);
});

t.test('a zip cut short anywhere is a check that is not ok, never a throw nor a hang', async (t) => {
  for (const method of [0, 8]) {
    const zip = zipOf([{ name: SUMMARY, data: summaryCsv, method }, { name: DETAIL, data: csv, method }]);
    const detailAt = zip.indexOf(Buffer.from(DETAIL, 'utf8')) - 30;
    const cuts = [2, 20, detailAt + 10, detailAt + 80, detailAt + 300, zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) - 3];
    for (const cut of cuts) {
      const { check } = await parse(chunks(zip.subarray(0, cut), 16));
      t.equal(check.ok, false, `method ${method}, cut at ${cut}`);
      t.match(check.problems[0], /truncated/, `method ${method}, cut at ${cut}: ${check.problems[0]}`);
    }
  }
});

t.test('corrupt deflate data or a CRC-32 unlike the data is reported as a corrupt zip', async (t) => {
  const zip = zipOf([{ name: DETAIL, data: csv }]);
  const garbled = Buffer.from(zip);
  const dataAt = 30 + Buffer.byteLength(DETAIL);
  for (let i = dataAt; i < dataAt + 40; i++) garbled[i] = 0xff;
  const bad = await parse([garbled]);
  t.equal(bad.check.ok, false);
  t.match(bad.check.problems[0], /the zip is corrupt/, bad.check.problems.join('; '));

  const wrongCrc = await parse(chunks(zipOf([{ name: DETAIL, data: csv, method: 0, statedCrc: (crc32(csv) ^ 1) >>> 0 }]), 64));
  t.equal(wrongCrc.check.ok, false, 'every row was read, but the bytes are not the ones the zip states');
  t.match(wrongCrc.check.problems[0], /CRC-32 .* not the stated .*: the zip is corrupt/, wrongCrc.check.problems.join('; '));
});

t.test('an encrypted entry, an unsupported method or a stored entry sized after its data each say so', async (t) => {
  const cases: [Entry, RegExp][] = [
    [{ name: DETAIL, data: csv, extraFlags: 0x0001 }, /is encrypted/],
    [{ name: DETAIL, data: csv, method: 12 }, /method 12 \(bzip2\); only stored and deflate entries can be read/],
    [{ name: DETAIL, data: csv, method: 0, descriptor: true }, /stored with its size after the data/],
  ];
  for (const [entry, problem] of cases) {
    const { check } = await parse([zipOf([entry])]);
    t.equal(check.ok, false);
    t.match(check.problems[0], problem, check.problems.join('; '));
  }
  const skipped = await parse([zipOf([{ name: SUMMARY, data: summaryCsv, method: 12 }, { name: DETAIL, data: csv }])]);
  t.equal(skipped.check.ok, true, 'an entry not wanted is passed over whatever its method, when its size is stated');
  t.same(skipped.rows, golden.rows);
});

t.test('a zip without the 业务明细 entry says which entry it lacks', async (t) => {
  const { rows, check } = await parse([zipOf([{ name: SUMMARY, data: summaryCsv }])]);
  t.equal(rows.length, 0);
  t.equal(check.ok, false);
  t.match(check.problems[0], /the zip has no entry named …业务明细\.csv/);
});
