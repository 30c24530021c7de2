import fc from 'fast-check';
import t from 'tap';
import { fenIn, instantIn, LineCells } from '../../domain/reconciliation/bill-cells.ts';
import { chinaTime, fenOf, instantOfChinaTime, yuan } from '../../domain/reconciliation/bill-format.ts';

t.test('every fen amount printed in yuan reads back as exactly that many fen', async (t) => {
  fc.assert(fc.property(fc.integer({ min: -1e12, max: 1e12 }), (fen) => fenOf(yuan(fen)) === fen));
  t.equal(fenOf(' 12.5\t'), 1250, 'one decimal, whitespace around it');
  t.equal(fenOf('7'), 700, 'whole yuan');
  t.equal(Object.is(fenOf('-0.00'), 0), true, 'minus zero is zero');
  for (const bad of ['', '-', '.5', '1.', '1.234', '1,00', '+1.00', '1.0a', '--1', '１.００', '12345678901234.00']) t.equal(fenOf(bad), null, `not an amount: ${JSON.stringify(bad)}`);
});

t.test('every China time a bill prints reads back as its instant, across midnight and month ends', async (t) => {
  const from = Date.parse('2020-01-01T00:00:00Z');
  fc.assert(fc.property(fc.integer({ min: 0, max: 20 * 365 * 86_400 }), (s) => {
    const ms = from + s * 1000;
    return instantOfChinaTime(chinaTime(ms)) === new Date(ms).toISOString();
  }));
  t.equal(instantOfChinaTime('2026-12-01 07:59:59'), '2026-11-30T23:59:59.000Z', 'before 08:00 China time is the UTC day before');
  t.equal(instantOfChinaTime('2026-03-01 00:00:00'), '2026-02-28T16:00:00.000Z', 'the day before a month start');
  t.equal(instantOfChinaTime('2026-12-01T08:00:00'), '2026-12-01T00:00:00.000Z', 'a T between date and time');
  for (const bad of ['2026-02-30 10:00:00', '2026-13-01 10:00:00', '2026-12-01 24:00:00', '2026-12-01 23:60:00', '2026-12-01 10:00', '2026/12/01 10:00:00', '2026-12-01 1a:00:00', '']) {
    t.equal(instantOfChinaTime(bad), null, `not a time: ${JSON.stringify(bad)}`);
  }
});

t.test('a line\'s cells are read in place, the same as splitting it', async (t) => {
  fc.assert(fc.property(fc.array(fc.string({ unit: fc.constantFrom('a', ',', '`', ' ', '汽') }), { minLength: 1, maxLength: 12 }), (fields) => {
    const line = fields.join(',`');
    const cells = new LineCells(8);
    const count = cells.split(line, ',`');
    const parts = line.split(',`');
    return count === parts.length && parts.slice(0, 8).every((p, i) => cells.text(i) === p && cells.trimmed(i) === p.trim());
  }));
  const cells = new LineCells(4);
  cells.split('x,12.30\t,2026-12-01 08:00:01\t', ',');
  t.equal(cells.fen(1), 1230);
  t.equal(cells.instant(2), '2026-12-01T00:00:01.000Z');
  t.equal(fenIn('a12.30b', 1, 6), 1230, 'an amount read from within a longer text');
  t.equal(instantIn('`2026-12-01 08:00:01,', 1, 20), '2026-12-01T00:00:01.000Z');
});
