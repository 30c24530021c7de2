import { createReadStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { BillCheck } from '../../domain/reconciliation/bill-format.ts';
import type { BillChannel, BillRow } from '../../domain/reconciliation/bill-row.ts';
import { parseBill } from '../../domain/reconciliation/parse-bill.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/bills/${name}`, import.meta.url));

/** A golden file streamed from disk in small chunks, so characters and lines straddle chunk ends. */
async function parseFile(channel: BillChannel, name: string): Promise<{ rows: BillRow[]; check: BillCheck }> {
  const rows: BillRow[] = [];
  let check: BillCheck | null = null;
  let ends = 0;
  for await (const e of parseBill(channel, createReadStream(fixture(name), { highWaterMark: 64 }))) {
    if (e.type === 'row') rows.push(e.row);
    else {
      check = e.check;
      ends++;
    }
  }
  if (!check || ends !== 1) throw new Error('a parser must end with exactly one check');
  return { rows, check };
}

t.test('a WeChat trade bill: backticked fields, a BOM, payments and a refund row, its summary checked', async (t) => {
  const { rows, check } = await parseFile('wechat', 'wechat-day.csv');
  t.equal(check.ok, true, check.problems.join('; '));
  t.same(check.stated, { rows: 3, paymentsFen: 28550, refundsFen: 10000, feesFen: 112 });
  t.same(rows[0], {
    channel: 'wechat', kind: 'payment', merchantRef: 'T20261201A-P1', paymentNo: 'T20261201A-P1', channelRef: '4200000001202612010000000001',
    channelTradeNo: '4200000001202612010000000001', merchantId: 'M1', status: 'succeeded', amountFen: 27300, feeFen: 164,
    at: '2026-12-01T00:15:02.000Z', line: 2,
  }, 'China time 08:15:02 is 00:15:02 UTC; 273.00 yuan is 27300 fen; a comma inside a field stays in it');
  t.match(rows[2], {
    kind: 'refund', merchantRef: 'RT20261201A-1', paymentNo: 'T20261201A-P1', channelRef: '50300000012026120100000001', amountFen: 10000,
    feeFen: -60, status: 'succeeded', at: '2026-12-01T15:58:31.000Z',
  }, 'a refund is a row of its own, at the time the channel accepted it, its fee given back');
});

t.test('an empty WeChat day has a header, a zero summary and no rows, and is fine', async (t) => {
  const { rows, check } = await parseFile('wechat', 'wechat-empty.csv');
  t.equal(rows.length, 0);
  t.equal(check.ok, true);
  t.same(check.stated, { rows: 0, paymentsFen: 0, refundsFen: 0, feesFen: 0 });
});

t.test('a WeChat bill whose summary does not add up is reported, not thrown, with the rows still yielded', async (t) => {
  const { rows, check } = await parseFile('wechat', 'wechat-bad-totals.csv');
  t.equal(rows.length, 2);
  t.equal(check.ok, false);
  t.match(check.problems.join('\n'), /states rows 3, its rows add up to 2/);
  t.match(check.problems.join('\n'), /refundsFen 10000, its rows add up to 0/);
  const cut = await parseFile('wechat', 'wechat-no-summary.csv');
  t.equal(cut.check.ok, false, 'a bill cut before its summary is not ok');
  t.match(cut.check.problems, [/summary lines missing/]);
});

t.test('an Alipay trade bill: a zip of the GBK CSV, 交易 and 退款 rows, the 业务明细列表结束 footer totals checked', async (t) => {
  const { rows, check } = await parseFile('alipay', 'alipay-day.zip');
  t.equal(check.ok, true, check.problems.join('; '));
  t.same(check.stated, { rows: 3, paymentsFen: 30880, refundsFen: 5000, feesFen: 155 });
  t.same(rows.map((r) => [r.kind, r.merchantRef, r.paymentNo, r.amountFen, r.feeFen]), [
    ['payment', 'T20261201C-P1', 'T20261201C-P1', 30000, 180],
    ['payment', 'T20261201D-P1', 'T20261201D-P1', 880, 5],
    ['refund', 'RT20261201C-1', 'T20261201C-P1', 5000, -30],
  ], 'GBK decoded; a refund keyed by its 退款批次号, its negative 商家实收 a positive amount');
  t.equal(rows[2]?.channelRef, '2089000000000000000000000001', 'the refund id from 备注');
  t.equal(rows[0]?.at, '2026-12-01T01:00:05.000Z', '完成时间 is when the channel counted it');
  const plain = await parseFile('alipay', 'alipay-day.csv');
  t.same(plain.rows, rows, 'the CSV outside its zip parses the same');
});

t.test('an empty Alipay day, a bill whose totals differ and a truncated zip are each a check, not a throw', async (t) => {
  const empty = await parseFile('alipay', 'alipay-empty.zip');
  t.equal(empty.rows.length, 0);
  t.equal(empty.check.ok, true, empty.check.problems.join('; '));
  const bad = await parseFile('alipay', 'alipay-bad-totals.zip');
  t.equal(bad.check.ok, false);
  t.match(bad.check.problems.join('\n'), /states rows 3, its rows add up to 2/);
  const cut = await parseFile('alipay', 'alipay-truncated.zip');
  t.equal(cut.check.ok, false);
  t.ok(cut.check.problems.length > 0, cut.check.problems.join('; '));
});

t.test('the documented UnionPay and senseless CSV: rows, a refund, an empty day', async (t) => {
  const { rows, check } = await parseFile('unionpay', 'unionpay-day.csv');
  t.equal(check.ok, true, check.problems.join('; '));
  t.same(rows.map((r) => [r.kind, r.merchantRef, r.amountFen, r.feeFen, r.channelRef]), [
    ['payment', 'T20261201E-P1', 20000, 100, '622500000001'],
    ['refund', 'RT20261201E-1', 2000, -10, '622600000001'],
  ]);
  const empty = await parseFile('senseless', 'senseless-empty.csv');
  t.equal(empty.rows.length, 0);
  t.equal(empty.check.ok, true);
  const wrong = await parseFile('senseless', 'unionpay-day.csv');
  t.equal(wrong.check.ok, false, 'a UnionPay bill is not taken for a senseless one');
});
