import { fsync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { openSqliteStorage } from '../../storage/sqlite/storage.ts';
import type { SaveRecord } from '../../storage/types.ts';

function record(txnNo: string): SaveRecord {
  return {
    txnNo, merchantId: 'M1', stationId: 'S1', orderNo: null, state: 'quoted', stateValue: 'quoted', snapshot: { value: 'quoted' },
    atRest: false, working: false, needsAttention: false, finalAt: null, timers: {}, tasks: [], osEvents: [], createdAt: 1, updatedAt: 1,
  };
}

type Done = (error: NodeJS.ErrnoException | null) => void;

/** An fsync the test releases (or fails) by hand; it counts the calls and checks the descriptor. */
function heldSync() {
  const held: { fd: number; done: Done }[] = [];
  return {
    held,
    sync: (fd: number, done: Done) => void held.push({ fd, done }),
    /** Runs the oldest held fsync for real. */
    release: () => new Promise<void>((resolve, reject) => {
      const next = held.shift();
      if (!next) return reject(new Error('no fsync is held'));
      fsync(next.fd, (error) => {
        next.done(error);
        resolve();
      });
    }),
  };
}

const settledYet = async (p: Promise<unknown>) => {
  let settled = false;
  void p.then(() => (settled = true), () => (settled = true));
  await new Promise((r) => setTimeout(r, 20));
  return settled;
};

t.test('a write is acknowledged only once the WAL holding it has been fsynced', async (t) => {
  const path = join(t.testdir(), 'trade.db');
  const sync = heldSync();
  const store = openSqliteStorage(path, { syncFile: sync.sync });
  t.teardown(() => store.close().catch(() => undefined));
  const saved = store.snapshots.save(record('T1'), 0, []);
  t.equal(await settledYet(saved), false, 'committed, not yet synced: not acknowledged');
  t.equal(sync.held.length, 1, 'one fsync asked for');
  const reader = new Database(path, { readonly: true });
  t.teardown(() => reader.close());
  t.ok(reader.prepare('SELECT version FROM transactions WHERE txn_no = ?').get('T1'), 'the commit itself is done');
  await sync.release();
  t.same(await saved, { ok: true, version: 1 });
});

t.test('writes committed during an fsync wait for the next one, which starts after it', async (t) => {
  const sync = heldSync();
  const store = openSqliteStorage(join(t.testdir(), 'trade.db'), { syncFile: sync.sync });
  t.teardown(() => store.close().catch(() => undefined));
  const first = store.snapshots.save(record('T1'), 0, []);
  await new Promise((r) => setImmediate(r));
  const second = store.snapshots.save(record('T2'), 0, []);
  const third = store.idempotency.claimIdempotencyKey('k', 'f', 1, { owner: 'A', leaseUntil: Number.MAX_SAFE_INTEGER, runId: 'r' });
  await new Promise((r) => setTimeout(r, 20));
  t.equal(sync.held.length, 1, 'no second fsync while the first runs');
  await sync.release();
  t.same(await first, { ok: true, version: 1 });
  t.equal(await settledYet(second), false, 'the first fsync may have started before this commit');
  t.equal(sync.held.length, 1, 'the next fsync starts once the first is done, for both later writes');
  await sync.release();
  t.same(await second, { ok: true, version: 1 });
  t.same(await third, { status: 'claimed' });
});

t.test('a failed fsync fails the writes it was to make durable', async (t) => {
  const sync = heldSync();
  const store = openSqliteStorage(join(t.testdir(), 'trade.db'), { syncFile: sync.sync });
  t.teardown(() => store.close().catch(() => undefined));
  const saved = store.snapshots.save(record('T1'), 0, []);
  await new Promise((r) => setTimeout(r, 10));
  const io = Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
  sync.held.shift()!.done(io);
  await t.rejects(saved, /EIO/);
});

t.test('the sentinel\'s own writes wait for the fsync too', async (t) => {
  const sync = heldSync();
  const store = openSqliteStorage(join(t.testdir(), 'trade.db'), { syncFile: sync.sync });
  t.teardown(() => store.close().catch(() => undefined));
  const saving = store.snapshots.save(record('T1'), 0, []);
  await new Promise((r) => setTimeout(r, 10));
  await sync.release();
  await saving;
  const nudged = store.sentinel.recordNudge('T1', 1);
  t.equal(await settledYet(nudged), false);
  await sync.release();
  t.equal(await nudged, 1);
});

t.test('TRADE_SQLITE_SYNC=NORMAL does not fsync', async (t) => {
  const before = process.env.TRADE_SQLITE_SYNC;
  process.env.TRADE_SQLITE_SYNC = 'NORMAL';
  t.teardown(() => {
    if (before === undefined) delete process.env.TRADE_SQLITE_SYNC;
    else process.env.TRADE_SQLITE_SYNC = before;
  });
  const sync = heldSync();
  const store = openSqliteStorage(join(t.testdir(), 'trade.db'), { syncFile: sync.sync });
  t.teardown(() => store.close());
  t.same(await store.snapshots.save(record('T1'), 0, []), { ok: true, version: 1 });
  t.equal(sync.held.length, 0);
});

t.test('close waits for an fsync in flight', async (t) => {
  const sync = heldSync();
  const store = openSqliteStorage(join(t.testdir(), 'trade.db'), { syncFile: sync.sync });
  const saved = store.snapshots.save(record('T1'), 0, []);
  await new Promise((r) => setTimeout(r, 10));
  const closed = store.close();
  t.equal(await settledYet(closed), false, 'still syncing');
  await sync.release();
  await closed;
  t.same(await saved, { ok: true, version: 1 });
});
