import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import { generateOsOrders } from '../../scripts/generate-os-orders.ts';
import { importOsOrders } from '../../runtime/os-order-import.ts';
import { PostgresOrderArchive } from '../../storage/postgres/order-archive.ts';
import { openSqliteStorage } from '../../storage/sqlite/storage.ts';
import type { OrderArchive } from '../../storage/types.ts';
import { createTestDatabase } from '../helpers/postgres.ts';
import { trade, TRADE } from '../helpers/trade-binary.ts';
import { spawnTethered, STARTUP_DEADLINE_MS } from '../helpers/tethered-spawn.ts';

/*
 * Issue 20, "SIGKILL mid-import and a resume give the same end state": a real `trade import
 * os-orders` process killed with SIGKILL part way, then run again, against one run straight
 * through, into the SQLite archive and into PostgreSQL.
 */

const COUNT = 8000;
const BAD = 16;
const BATCH = '200';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'os-import-kill-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The environment of an import: into PostgreSQL when a URL is given, else (empty) into the SQLite file of `--db`. */
function envOf(archiveUrl: string | null): Record<string, string> {
  return { TRADE_ARCHIVE_URL: archiveUrl ?? '' };
}

interface Target {
  /** `trade import os-orders` arguments naming the archive and the import's state. */
  args: string[];
  /** Over the test's own environment. */
  env: Record<string, string>;
  open(): Promise<{ archive: OrderArchive; close(): Promise<void> }>;
}

async function sqliteTarget(dir: string, name: string): Promise<Target> {
  const db = join(dir, `${name}.db`);
  return {
    args: ['--db', db],
    env: envOf(null),
    open: async () => {
      const storage = openSqliteStorage(db);
      return { archive: storage.archive, close: () => storage.close() };
    },
  };
}

async function postgresTarget(t: Test, dir: string, name: string): Promise<Target> {
  const url = await createTestDatabase(t);
  return {
    args: ['--state', join(dir, `${name}.os-import`)],
    env: envOf(url),
    open: async () => {
      const archive = new PostgresOrderArchive({ url });
      return { archive, close: () => archive.close() };
    },
  };
}

/** What an import leaves in the archive: totals, per day/station/method, and every order's numbers (duplicates would show). */
async function endState(target: Target) {
  const { archive, close } = await target.open();
  try {
    const [totals] = await archive.summary({ origin: 'os-import' }, []);
    const byMethod = await archive.summary({ origin: 'os-import' }, ['day', 'station', 'method']);
    const numbers: string[] = [];
    for (let cursor: string | null = null, first = true; first || cursor !== null; first = false) {
      const page = await archive.search({ origin: 'os-import' }, 1000, cursor);
      numbers.push(...page.rows.map((r) => `${r.stationId}/${r.osOrderNo}/${r.txnNo}`));
      cursor = page.nextCursor;
    }
    return { totals, byMethod, counts: await archive.counts(), numbers: numbers.sort() };
  } finally {
    await close();
  }
}

/** The checkpoint a killed import left: byte offset and line of its last committed batch. */
function checkpointOf(statePath: string): { offset: number; line: number } | undefined {
  const db = new Database(statePath, { readonly: true });
  try {
    return db.prepare<[], { offset: number; line: number }>('SELECT offset, line FROM checkpoints').get();
  } finally {
    db.close();
  }
}

for (const backend of ['sqlite', 'postgres'] as const) {
  t.test(`a trade import os-orders killed with SIGKILL part way into ${backend} and run again ends where an import straight through does (issue 20)`, async (t) => {
    const dir = tempDir(t);
    const input = join(dir, 'orders.jsonl');
    const generated = await generateOsOrders({ count: COUNT, seed: 20, bad: BAD, format: 'jsonl', out: input });
    const straight = backend === 'sqlite' ? await sqliteTarget(dir, 'straight') : await postgresTarget(t, dir, 'straight');
    const killed = backend === 'sqlite' ? await sqliteTarget(dir, 'killed') : await postgresTarget(t, dir, 'killed');
    const statePath = backend === 'sqlite' ? join(dir, 'killed.db.os-import') : killed.args[1]!;

    const once = await trade(['import', 'os-orders', input, ...straight.args, '--batch', BATCH, '--rejects', join(dir, 'straight.rejects.csv')], straight.env);
    t.equal(once.code, 0, once.stderr);
    t.match(JSON.parse(once.stdout), { imported: generated.goodCount, rejected: BAD });
    const expected = await endState(straight);
    t.equal(expected.totals?.count, generated.goodCount);
    t.equal(expected.totals?.paidAmountFen, generated.goodPaidFen);

    // Killed once a few batches are committed, while it works on the next ones.
    const child = spawnTethered(process.execPath, [TRADE, 'import', 'os-orders', input, ...killed.args, '--batch', BATCH, '--progress-lines', '--rejects', join(dir, 'killed.rejects.csv')], { env: { ...process.env, ...killed.env } });
    t.teardown(() => child.kill('SIGKILL'));
    let committed = 0;
    const deadline = setTimeout(() => void child.kill('SIGKILL'), STARTUP_DEADLINE_MS);
    for await (const line of createInterface({ input: child.child.stderr! })) {
      if (!line.startsWith('{')) continue;
      const progress = JSON.parse(line) as { records: number };
      if (++committed === 5) {
        t.ok(progress.records < COUNT, 'progress before the end');
        await child.kill('SIGKILL');
        break;
      }
    }
    clearTimeout(deadline);
    await child.exited;
    t.equal(child.child.signalCode, 'SIGKILL', 'the import died by SIGKILL');
    t.equal(committed, 5);
    const checkpoint = checkpointOf(statePath);
    t.ok(checkpoint && checkpoint.line >= 5 * Number(BATCH) && checkpoint.line < COUNT, `the state holds a checkpoint part way (${JSON.stringify(checkpoint)})`);
    const partial = await endState(killed);
    t.ok((partial.totals?.count ?? 0) < generated.goodCount, 'the killed import did not finish');

    const resumed = await trade(['import', 'os-orders', input, ...killed.args, '--batch', BATCH, '--rejects', join(dir, 'killed.rejects.csv')], killed.env);
    t.equal(resumed.code, 0, resumed.stderr);
    const summary = JSON.parse(resumed.stdout) as { resumed: number; read: number; imported: number; alreadyImported: number };
    t.equal(summary.resumed, 1, 'resumed from the checkpoint');
    t.equal(summary.read, COUNT - checkpoint!.line, 'reading from the first uncommitted batch');
    t.same(await endState(killed), expected, 'same orders, sums and journal as the import straight through, none twice');
    t.equal(readFileSync(join(dir, 'killed.rejects.csv'), 'utf8'), readFileSync(join(dir, 'straight.rejects.csv'), 'utf8'), 'the same rejects, each once');

    const again = await trade(['import', 'os-orders', input, ...killed.args, '--batch', BATCH, '--rejects', join(dir, 'killed.rejects.csv')], killed.env);
    t.match(JSON.parse(again.stdout), { imported: 0, alreadyImported: generated.goodCount, rejected: BAD });
    t.same(await endState(killed), expected, 'a third run changes nothing');
  });
}

t.test('an import that fails after a batch is in the archive but before its checkpoint resumes to the same end state (issue 20)', async (t) => {
  const dir = tempDir(t);
  const input = join(dir, 'orders.jsonl');
  await generateOsOrders({ count: 1000, seed: 21, bad: 10, format: 'jsonl', out: input });
  const stations = new Map([['S1', 'M1'], ['S2', 'M1'], ['S3', 'M2']]);
  const run = async (name: string, onImported?: () => Promise<void>) => {
    const storage = openSqliteStorage(join(dir, `${name}.db`));
    try {
      return await importOsOrders({ files: [input], archive: storage.archive, stations, statePath: join(dir, `${name}.state`), rejectsPath: () => join(dir, `${name}.rejects.csv`), batchSize: 100, ...(onImported ? { onImported } : {}) });
    } finally {
      await storage.close();
    }
  };
  const target = (name: string): Target => ({ args: [], env: {}, open: async () => {
    const storage = openSqliteStorage(join(dir, `${name}.db`));
    return { archive: storage.archive, close: () => storage.close() };
  } });
  await run('straight');
  let batches = 0;
  // The third batch's archive write is done when onImported runs; its checkpoint is not.
  await t.rejects(run('failed', async () => {
    if (++batches === 3) throw new Error('died between the archive write and the checkpoint');
  }));
  t.equal((await endState(target('failed'))).totals?.count, 3 * 100 - 3, 'three batches in the archive (one reject in each)');
  const rest = await run('failed');
  t.ok(rest.alreadyImported > 0, 'the third batch is found in the archive, not written again');
  t.same(await endState(target('failed')), await endState(target('straight')));
  t.equal(readFileSync(join(dir, 'failed.rejects.csv'), 'utf8'), readFileSync(join(dir, 'straight.rejects.csv'), 'utf8'));
});
