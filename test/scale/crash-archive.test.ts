import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { ArchiveFailpoint } from '../../runtime/archiver.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { createRedisStorage } from '../../storage/redis/storage.ts';
import { openSqliteStorage } from '../../storage/sqlite/storage.ts';
import type { Storage } from '../../storage/types.ts';
import { createTestDatabase } from '../helpers/postgres.ts';
import { startRedisCluster, startRedisServer } from '../helpers/redis-server.ts';
import { PATIENCE_MS, STARTUP_DEADLINE_MS } from '../helpers/deadlines.ts';
import { apiClient, DATASET_PATH, eventually, FUEL_SALE, type Api } from '../helpers/harness.ts';
import { freePort, startServerProcess, type ServerProcess } from '../helpers/server-process.ts';

const SALES = 4;

/** A card sale of 300 yuan of 92#, completed. */
async function cardSale(api: Api): Promise<TransactionView> {
  const started = await api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['stored_value'] });
  const combo = started.body.quote.combos[0]!;
  await api('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: combo.comboId });
  await api('POST', `/v1/transactions/${started.body.txnNo}/payments`, { legs: [{ method: 'stored_value', cardNo: 'C1', amount: combo.payableAmount }] });
  return (await eventually(() => api<TransactionView>('GET', `/v1/transactions/${started.body.txnNo}`), (r) => r.body.state === 'completed')).body;
}

/** The demo world with card C1 rich enough for every sale. */
function richDataset(dir: string): string {
  const dataset = JSON.parse(readFileSync(DATASET_PATH, 'utf8')) as { cards: { cardNo: string; balanceFen: number }[] };
  for (const card of dataset.cards) if (card.cardNo === 'C1') card.balanceFen = 100_000_000;
  const path = join(dir, 'dataset.json');
  writeFileSync(path, JSON.stringify(dataset));
  return path;
}

/** Resolves once the process is gone, with the signal that ended it. */
function exited(server: ServerProcess): Promise<string | null> {
  return new Promise((resolve) => {
    if (server.child.exitCode !== null || server.child.signalCode !== null) return resolve(server.child.signalCode);
    const timer = setTimeout(() => resolve('still running'), PATIENCE_MS);
    server.child.once('exit', (_code, signal) => {
      clearTimeout(timer);
      resolve(signal);
    });
  });
}

/** Opens the storage the servers run on, from the test's side. */
type Open = () => Storage;

/** What the storage holds of the sales: in the hot store, in the archive. */
async function where(open: Open, txnNos: string[]) {
  const storage = open();
  try {
    const hot = (await Promise.all(txnNos.map((x) => storage.snapshots.load(x)))).filter((r) => r !== null).length;
    const archived = (await Promise.all(txnNos.map((x) => storage.archive.get(x)))).filter((e) => e !== null).length;
    return { hot, archived, orders: (await storage.archive.counts()).orders };
  } finally {
    await storage.close();
  }
}

/** The refunded amount of the sale's archived row, once it has left the hot store again. */
async function refundedInArchive(open: Open, txnNo: string): Promise<number | null> {
  const storage = open();
  try {
    if (await storage.snapshots.load(txnNo)) return null;
    return (await storage.archive.get(txnNo))?.row.refundedAmountFen ?? null;
  } finally {
    await storage.close();
  }
}

/** Where the servers keep their state: the SQLite file, or Redis with the archive on PostgreSQL. */
const BACKENDS: Record<string, (t: Test, dir: string) => Promise<{ env: Record<string, string>; open: Open }>> = {
  SQLite: async (_t, dir) => ({ env: {}, open: () => openSqliteStorage(join(dir, 'trade.db')) }),
  'Redis + PostgreSQL': async (t, _dir) => {
    const redis = await startRedisServer({ appendonly: true });
    t.teardown(() => redis.stop());
    const archiveUrl = await createTestDatabase(t);
    const prefix = 'tc-archive-crash';
    return {
      env: { TRADE_STORAGE: 'redis', REDIS_URL: redis.url, TRADE_REDIS_PREFIX: prefix, TRADE_ARCHIVE_URL: archiveUrl },
      open: () => createRedisStorage({ url: redis.url, prefix, archiveUrl }),
    };
  },
  // Every script keeps to one slot: the archive's removals and the index writes after them too.
  'Redis Cluster + PostgreSQL': async (t, _dir) => {
    const cluster = await startRedisCluster(3);
    t.teardown(() => cluster.stop());
    const archiveUrl = await createTestDatabase(t);
    const prefix = 'tc-archive-crash';
    return {
      env: { TRADE_STORAGE: 'redis', REDIS_URL: cluster.url, TRADE_REDIS_CLUSTER: '1', TRADE_REDIS_PREFIX: prefix, TRADE_ARCHIVE_URL: archiveUrl },
      open: () => createRedisStorage({ url: cluster.url, cluster: true, prefix, archiveUrl }),
    };
  },
};

for (const [backend, setUp] of Object.entries(BACKENDS)) for (const failpoint of ['before-archive-commit', 'after-archive-write'] as ArchiveFailpoint[]) {
  t.test(`${backend}: a trade serve SIGKILLed ${failpoint.replaceAll('-', ' ')} loses nothing and archives nothing twice; the sales stay readable and refundable (issue 18)`, async (t) => {
    const dir = t.testdir();
    const port = await freePort();
    const { env, open } = await setUp(t, dir);
    // Quiet long enough for every sale to be made before the first one is archived.
    const quiet = { ...env, TRADE_ARCHIVE_AFTER: '5s' };
    const args = ['--data', richDataset(dir)];
    const first = await startServerProcess(dir, port, args, { ...quiet, TRADE_ARCHIVE_FAILPOINT: failpoint });
    t.teardown(() => first.crash());
    const api = apiClient(first.url);
    const sales: TransactionView[] = [];
    for (let i = 0; i < SALES; i++) sales.push(await cardSale(api));
    const txnNos = sales.map((s) => s.txnNo);

    t.equal(await exited(first), 'SIGKILL', 'the archiver killed its process at the failpoint');
    const killed = await where(open, txnNos);
    t.equal(killed.hot, SALES, 'the hot store still holds every sale');
    if (failpoint === 'before-archive-commit') t.same([killed.archived, killed.orders], [0, 0], 'nothing reached the archive');
    else t.ok(killed.archived >= 1 && killed.orders === killed.archived, `the batch is in the archive (${killed.archived}) and in the hot store`);

    // After the restart nothing more is sold: a short quiet period only shortens the waits.
    const second = await startServerProcess(dir, port, args, { ...env, TRADE_ARCHIVE_AFTER: '1s' });
    t.teardown(() => second.stop());
    const again = apiClient(second.url);
    // The restarted archiver finds the sales still in the hot store and finishes the job.
    t.same(await eventually(() => where(open, txnNos), (w) => w.hot === 0, STARTUP_DEADLINE_MS), { hot: 0, archived: SALES, orders: SALES }, 'every sale archived, and only once');
    for (const sale of sales) {
      const read = await again<TransactionView>('GET', `/v1/transactions/${sale.txnNo}`);
      t.equal(read.status, 200);
      t.equal(read.body.paidAmount, sale.paidAmount, `${sale.txnNo} readable as it was`);
    }
    const refunded = await again<{ refundNo: string }>('POST', `/v1/transactions/${sales[0]!.txnNo}/refunds`, { amount: 1000, reason: 'after the crash' });
    t.equal(refunded.status, 202, 'an archived sale takes a refund');
    const done = await eventually(() => again<TransactionView>('GET', `/v1/transactions/${sales[0]!.txnNo}`), (r) => r.body.refundedAmount === 1000 && r.body.refunds[0]?.status === 'succeeded');
    t.equal(done.body.refundedAmount, 1000);
    // Archived again once quiet: the archive's row is the refunded version, still one row per sale.
    const refundedRow = await eventually(() => refundedInArchive(open, sales[0]!.txnNo), (n) => n === 1000);
    t.equal(refundedRow, 1000, 'archived again with its refund');
    await second.stop();
    await exited(second);
    const after = await where(open, txnNos);
    t.equal(after.orders, SALES, 'each sale archived once, none twice');
    t.equal(after.archived, SALES);
  });
}
