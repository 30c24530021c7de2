import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import t from 'tap';
import { migrate, migrations } from '../../storage/postgres/migrate.ts';
import { PostgresOrderArchive } from '../../storage/postgres/order-archive.ts';
import { monthOf } from '../../storage/postgres/partitions.ts';
import { createTestDatabase } from '../helpers/postgres.ts';
import { archiveEntry, orderRow, randomOrderRow, seededRandom } from './conformance/archive-fixtures.ts';
import { orderArchiveConformance } from './conformance/order-archive.ts';

t.test('the order archive on PostgreSQL', async (t) => {
  const url = await createTestDatabase(t);
  let schemas = 0;
  // A private schema per test: each starts from an empty, freshly migrated archive.
  orderArchiveConformance(t, async () => new PostgresOrderArchive({ url, schema: `conformance_${++schemas}` }));
});

t.test('PostgreSQL specifics of the archive', async (t) => {
  const url = await createTestDatabase(t);
  const sql = new pg.Client({ connectionString: url });
  await sql.connect();
  t.teardown(() => sql.end());

  t.test('applies each migration once, recorded, when two processes start on one schema at once', async (t) => {
    const a = new PostgresOrderArchive({ url, schema: 'racing' });
    const b = new PostgresOrderArchive({ url, schema: 'racing' });
    t.teardown(async () => {
      await a.close();
      await b.close();
    });
    await Promise.all([a.ping(), b.ping()]);
    const applied = await sql.query<{ version: string }>('SELECT version FROM racing.schema_migrations ORDER BY version');
    t.same(applied.rows.map((r) => r.version), migrations().map((m) => m.version));
    t.ok(applied.rows.length >= 1);
    await a.put([archiveEntry(orderRow('T1'))]);
    t.equal((await b.get('T1'))?.row.txnNo, 'T1', 'both work on the one schema');
    // 004: records and journals are compressed with lz4 (issue 20: a fifth less server CPU per imported order).
    const compression = await sql.query<{ attname: string; attcompression: string }>(
      `SELECT attname, attcompression FROM pg_attribute WHERE attrelid = 'racing.archive_records'::regclass AND attname IN ('record', 'journal') ORDER BY attname`,
    );
    t.same(compression.rows, [{ attname: 'journal', attcompression: 'l' }, { attname: 'record', attcompression: 'l' }]);
    const again = new PostgresOrderArchive({ url, schema: 'racing' });
    await again.ping();
    await again.close();
    t.equal((await sql.query('SELECT 1 FROM racing.schema_migrations')).rowCount, applied.rowCount, 'a restart applies nothing again');
  });

  t.test('migrates once its database answers, when it did not at start', async (t) => {
    const name = `tc_test_late_${process.pid}_${Date.now()}`;
    const server = url.slice(0, url.lastIndexOf('/'));
    const archive = new PostgresOrderArchive({ url: `${server}/${name}`, schema: 'late' });
    t.teardown(async () => {
      await archive.close();
      await sql.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    });
    await t.rejects(archive.ping(), /does not exist/);
    await sql.query(`CREATE DATABASE ${name}`);
    await archive.ping();
    t.same(await archive.put([archiveEntry(orderRow('T1'))]), { written: 1, skipped: 0 });
  });

  t.test('brings a schema made by migration 001 alone up to date, its archived orders kept and summed by method', async (t) => {
    const only001 = mkdtempSync(join(tmpdir(), 'migrations-'));
    t.teardown(() => rmSync(only001, { recursive: true, force: true }));
    const first = migrations()[0]!;
    writeFileSync(join(only001, `${first.version}.sql`), first.sql);
    const pool = new pg.Pool({ connectionString: url, options: '-c search_path=upgraded', max: 1 });
    t.teardown(() => pool.end());
    await migrate(pool, 'upgraded', `${only001}/`);
    // A sale as 001's tables held it: json columns, no tasks, no per-method rows.
    const at = Date.parse('2026-11-20T10:00:00Z');
    await pool.query(`CREATE TABLE archive_orders_y2026m11 PARTITION OF archive_orders FOR VALUES FROM (${Date.UTC(2026, 10, 1)}) TO (${Date.UTC(2026, 11, 1)})`);
    await pool.query(`INSERT INTO archive_records VALUES ('T1', 3, ${at}, '{"txnNo":"T1","version":3}', '[]', 0)`);
    await pool.query(`INSERT INTO archive_orders VALUES ('T1', 3, 'O1', 'platform', NULL, 'M1', 'S1', 'merchant_pos', NULL, 'completed', 1200, 200, 1000, 1000, 300,
      ${at}, ${at}, ${at}, '2026-11-20', '[]', '[]')`);
    await pool.query(`INSERT INTO archive_legs VALUES ('T1', 1, 'wechat', 600, ${at}, 'P1', 'CH1', 'M1', 'S1'), ('T1', 2, 'alipay', 400, ${at}, 'P2', 'CH2', 'M1', 'S1')`);
    await pool.query(`INSERT INTO archive_refund_legs VALUES ('T1', 'RL1', 'P2', 'alipay', 300, ${at + 1}, 'CH2', 'M1', 'S1')`);
    const archive = new PostgresOrderArchive({ url, schema: 'upgraded' });
    t.teardown(() => archive.close());
    t.same((await archive.summary({}, ['method'])).map((s) => [s.method, s.count, s.paidAmountFen, s.refundedAmountFen]), [['alipay', 1, 400, 300], ['wechat', 1, 600, 0]]);
    const got = await archive.get('T1');
    t.same(got?.record, { txnNo: 'T1', version: 3 });
    t.same(got?.tasks, [], 'a transaction archived before tasks were kept has none');
    t.same(await archive.put([archiveEntry(orderRow('T1', { createdAt: at }), 4)]), { written: 1, skipped: 0 }, 'and is archived again at a newer version');
    t.same((await sql.query<{ version: string }>('SELECT version FROM upgraded.schema_migrations ORDER BY version')).rows.map((r) => r.version), migrations().map((m) => m.version));
  });

  t.test('puts each order in the partition of its month, made on demand, even by two processes at once', async (t) => {
    const a = new PostgresOrderArchive({ url, schema: 'months' });
    const b = new PostgresOrderArchive({ url, schema: 'months' });
    t.teardown(async () => {
      await a.close();
      await b.close();
    });
    const nov = Date.parse('2026-11-30T23:59:59.999Z');
    const dec = Date.parse('2026-12-01T00:00:00Z');
    await Promise.all([
      a.put([archiveEntry(orderRow('A1', { createdAt: nov })), archiveEntry(orderRow('A2', { createdAt: dec }))]),
      b.put([archiveEntry(orderRow('B1', { createdAt: dec + 1 })), archiveEntry(orderRow('B2', { createdAt: nov - 1 }))]),
    ]);
    const placed = await sql.query<{ partition: string; txn_no: string }>('SELECT tableoid::regclass::text AS partition, txn_no FROM months.archive_orders ORDER BY txn_no');
    t.same(placed.rows, [
      { partition: `months.${monthOf(nov).name}`, txn_no: 'A1' },
      { partition: `months.${monthOf(dec).name}`, txn_no: 'A2' },
      { partition: `months.${monthOf(dec).name}`, txn_no: 'B1' },
      { partition: `months.${monthOf(nov).name}`, txn_no: 'B2' },
    ]);
    t.equal(monthOf(dec).name, 'archive_orders_y2026m12');
    t.equal((await sql.query('SELECT 1 FROM months.archive_orders_default')).rowCount, 0, 'the default partition stays empty');
  });

  t.test('keeps the newest version when two processes archive one transaction at once', async (t) => {
    const a = new PostgresOrderArchive({ url, schema: 'versions' });
    const b = new PostgresOrderArchive({ url, schema: 'versions' });
    t.teardown(async () => {
      await a.close();
      await b.close();
    });
    await a.ping();
    for (let round = 0; round < 10; round++) {
      const txnNo = `T${round}`;
      const results = await Promise.all([
        a.put([archiveEntry(orderRow(txnNo, { stationId: 'old' }), 3), archiveEntry(orderRow(`X${round}`))]),
        b.put([archiveEntry(orderRow(`X${round}`)), archiveEntry(orderRow(txnNo, { stationId: 'new' }), 4)]),
      ]);
      t.equal((await a.get(txnNo))?.row.stationId, 'new', `round ${round}`);
      t.equal(results.reduce((n, r) => n + r.written, 0) >= 2, true);
    }
    t.same(await a.counts(), { orders: 20, journalEntries: 40 });
  });

  t.test('serves the method filter and reconciliation\'s movements from indexes', async (t) => {
    const archive = new PostgresOrderArchive({ url, schema: 'plans' });
    t.teardown(() => archive.close());
    const random = seededRandom(3);
    const rows = Array.from({ length: 10_000 }, (_, i) => randomOrderRow(random, i));
    for (let i = 0; i < rows.length; i += 5000) await archive.put(rows.slice(i, i + 5000).map((r) => archiveEntry(r)));
    await sql.query('ANALYZE plans.archive_orders, plans.archive_legs, plans.archive_refund_legs');
    const plan = async (query: string) => (await sql.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${query}`)).rows.map((r) => r['QUERY PLAN']).join('\n');
    const day = Date.parse('2026-12-01T00:00:00+08:00');
    t.match(await plan(`SELECT * FROM plans.archive_legs WHERE method = 'wechat' AND captured_at IS NOT NULL AND captured_at >= ${day} AND captured_at < ${day + 86_400_000} ORDER BY captured_at`), /archive_legs_captured/);
    t.match(await plan(`SELECT * FROM plans.archive_refund_legs WHERE method = 'wechat' AND refunded_at IS NOT NULL AND refunded_at >= ${day} AND refunded_at < ${day + 86_400_000} ORDER BY refunded_at`), /archive_refund_legs_refunded/);
    const byMethod = (method: string) => `SELECT o.txn_no FROM plans.archive_orders o WHERE EXISTS (SELECT 1 FROM plans.archive_legs l WHERE l.txn_no = o.txn_no AND l.method = '${method}') ORDER BY o.created_at DESC, o.txn_no DESC LIMIT 50`;
    t.match(await plan(byMethod('cash')), /archive_legs_method/, 'a rare method is found by the method index');
    t.notMatch(await plan(byMethod('wechat')), /Seq Scan on archive_legs/, 'a common one by the legs\' key, newest orders first');
    t.match(await plan(`SELECT o.txn_no FROM plans.archive_orders o WHERE o.merchant_id = 'M1' ORDER BY o.created_at DESC, o.txn_no DESC LIMIT 50`), /archive_orders_\w+_merchant_id_created_at|merchant/);
  });
});
