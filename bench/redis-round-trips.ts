/**
 * Counting aid, not part of `npm run bench` (issue 21): what one checkout costs in Redis commands,
 * in writes to Redis's socket (auto-pipelining sends a batch in one: a write is one request
 * flight, the round trips the engine waits on are at most these) and in saves, on a private
 * redis-server with the in-process simulators. MONITOR sees every command of every connection
 * (engine and BullMQ); they are counted by command and by key shape (a transaction's hash tag
 * becomes `{T}`, a station's `{os:S}`). Then one checkout alone, its saves listed with the
 * journal events each stored.
 *   npx tsx bench/redis-round-trips.ts [--checkouts 200] [--concurrency 8] [sqlite]
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { buildApp } from '../http/app.ts';
import { createTradeCenter, DEFAULT_CONFIG } from '../runtime/trade-center.ts';
import * as scripts from '../storage/redis/scripts.ts';
import { loadDataset } from '../systems/sim/index.ts';
import { arg, driveFromWorker } from './drive.ts';
import { startRedisServer, tasksDrained } from './servers.ts';

/** The engine's scripts by SHA1, so EVALSHA lines say which script ran. */
const scriptNames = new Map(Object.entries(scripts).filter(([, v]) => typeof v === 'string').map(([name, lua]) => [createHash('sha1').update(lua as string).digest('hex'), name]));

const CHECKOUTS = arg('checkouts', 200);
const CONCURRENCY = arg('concurrency', 8);
const SQLITE = process.argv.includes('sqlite');

const CHECKOUT = {
  scene: 'merchant_pos', merchantId: 'M1', stationId: 'S1', userId: 'U5',
  items: [{ type: 'fuel', nozzleNo: 1, amount: 15000 }], paymentMethods: ['stored_value'], usePoints: true,
  legs: [{ method: 'stored_value', cardNo: 'C4', amount: 'rest' }],
};

const dataset = loadDataset(new URL('../demo/dataset.json', import.meta.url).pathname);
for (const card of dataset.cards) card.balanceFen = 1_000_000_000_000;
for (const a of dataset.pointsAccounts) a.balance = 1_000_000_000;

const dir = mkdtempSync(join(tmpdir(), 'trade-round-trips-'));
const server = SQLITE ? null : await startRedisServer(dir, ['--save', '', '--appendonly', 'no']);
const port = server?.port ?? 0;
const url = server?.url ?? '';
// Whatever ends this process ends its redis-server too.
process.on('exit', () => server?.stop());

/** Writes to Redis's port from this process, the engine's and BullMQ's connections alike. */
let writes = 0;
const write = Socket.prototype.write;
Socket.prototype.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
  if (this.remotePort === port) writes++;
  return write.apply(this, args);
} as Socket['write'];

try {
  const tc = createTradeCenter(
    {
      ...DEFAULT_CONFIG, dataset, dbPath: join(dir, 'trade.db'), simDbPath: join(dir, 'sim.db'), logLevel: 'silent',
      storage: SQLITE ? { kind: 'sqlite' } : { kind: 'redis', url, prefix: 'rt' },
    },
    { log: pino({ level: 'silent' }) },
  );
  const app = await buildApp(tc);
  await app.listen({ port: 0, host: '127.0.0.1' });
  await tc.start();
  const checkoutUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/v1/checkout`;
  await driveFromWorker(checkoutUrl, CHECKOUT, 50, CONCURRENCY);
  await tasksDrained(tc);

  // Commands clients sent, by shape; commands scripts ran inside Redis (MONITOR's source `lua`) only counted.
  const counts = new Map<string, number>();
  let inScripts = 0;
  const client = server ? new Redis(url) : null;
  const monitor = client ? await client.monitor() : null;
  monitor?.on('monitor', (_time: string, args: string[], source: string) => {
    if (source === 'lua') {
      inScripts++;
      return;
    }
    const key = shapeOf(args);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  });
  const saves0 = { ...tc.host.saves };
  const writes0 = writes;
  await driveFromWorker(checkoutUrl, CHECKOUT, CHECKOUTS, CONCURRENCY);
  await tasksDrained(tc);
  const writesMeasured = writes - writes0;
  // MONITOR's stream trails the commands: an ECHO seen through it marks the end of what was counted.
  if (monitor) {
    const seen = new Promise<void>((resolve) => monitor.on('monitor', (_t: string, args: string[]) => args[0]?.toLowerCase() === 'echo' && args[1] === 'rt-end' && resolve()));
    const marker = new Redis(url);
    await marker.echo('rt-end');
    await seen;
    marker.disconnect();
    monitor.disconnect();
    client?.disconnect();
  }
  const snapshots = (tc.host.saves.snapshots - saves0.snapshots) / CHECKOUTS;
  const quotes = (tc.host.saves.quotes - saves0.quotes) / CHECKOUTS;
  console.log(`${CHECKOUTS} checkouts at ${CONCURRENCY} concurrent on ${SQLITE ? 'SQLite' : 'Redis'}, with their post-payment tasks done:`);
  console.log(`saves per checkout: ${snapshots.toFixed(2)} snapshot saves + ${quotes.toFixed(2)} quote-record saves`);
  if (server) {
    const total = [...counts.values()].reduce((a, b) => a + b, 0) - 1;
    const engine = [...counts.entries()].filter(([k]) => / rt:/.test(k)).reduce((a, [, n]) => a + n, 0);
    console.log(`Redis commands sent per checkout: ${(total / CHECKOUTS).toFixed(1)} (the engine's store ${(engine / CHECKOUTS).toFixed(1)}, BullMQ the rest), and ${(inScripts / CHECKOUTS).toFixed(1)} run inside scripts`);
    console.log(`socket writes to Redis per checkout (all connections): ${(writesMeasured / CHECKOUTS).toFixed(1)}`);
    const rows = [...counts.entries()].filter(([k]) => !k.startsWith('echo')).sort((a, b) => b[1] - a[1]);
    for (const [k, n] of rows) if (n / CHECKOUTS >= 0.05) console.log(`  ${(n / CHECKOUTS).toFixed(2).padStart(6)}  ${k}`);
  }

  // One checkout alone: which journal events each save stored.
  const log: string[] = [];
  const store = tc.storage.snapshots;
  const save = store.save.bind(store);
  store.save = (record, expected, journal) => {
    log.push(`snapshot v${expected + 1} ${record.state}, ${JSON.stringify(record.snapshot).length} B (tasks ${JSON.stringify(record.tasks).length} B): ${journal.map((j) => `${j.actor}:${j.event}`).join(', ')}`);
    return save(record, expected, journal);
  };
  const quoteSave = tc.storage.quotes.save.bind(tc.storage.quotes);
  tc.storage.quotes.save = (record, expected, journal) => {
    log.push(`quote v${expected + 1}, ${JSON.stringify(record.snapshot).length} B: ${journal.map((j) => `${j.actor}:${j.event}`).join(', ')}`);
    return quoteSave(record, expected, journal);
  };
  await driveFromWorker(checkoutUrl, CHECKOUT, 1, 1);
  await tasksDrained(tc);
  console.log(`\none checkout's saves (${log.length}):`);
  for (const line of log) console.log(`  ${line}`);
  await app.close();
  await tc.close();
} finally {
  server?.stop();
  rmSync(dir, { recursive: true, force: true });
}



/** A command and its first key, with transaction, station, task and job names folded. */
function shapeOf(args: string[]): string {
  const command = (args[0] ?? '').toLowerCase();
  let name = command;
  let key = args[1] ?? '';
  if (command === 'evalsha' || command === 'eval') {
    name = `${command} ${scriptNames.get(args[1] ?? '') ?? (command === 'evalsha' ? `bullmq?${(args[1] ?? '').slice(0, 6)}` : 'inline')}`;
    key = Number(args[2]) > 0 ? (args[3] ?? '') : '';
  }
  if (command === 'multi' || command === 'exec') key = '';
  const shaped = key
    .replace(/\{os:[^}]+\}/, '{os:S}')
    .replace(/\{(?!idx\}|os\}|os:S\})[^}]+\}/, '{T}')
    .replace(/:task:.*$/, ':task:<name>')
    .replace(/:[0-9a-f]{8,}.*$/i, ':<id>')
    .replace(/:\d+$/, ':<n>');
  return `${name} ${shaped}`;
}
