// A stand-in for a test file that dies before its teardown runs (tethered-spawn.test.ts runs it).
// It starts a `trade serve` and a redis-server through the helpers, prints their ports, then ends
// as the first argument says: `hang` (waits to be SIGKILLed, as tap's timeout does) or `exit`
// (leaves through process.exit, as a crashed test does).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedisServer } from '../helpers/redis-server.ts';
import { freePort, startServerProcess } from '../helpers/server-process.ts';

const how = process.argv[2];
const dir = mkdtempSync(join(tmpdir(), 'tc-orphan-'));
const port = await freePort();
await startServerProcess(dir, port);
const redis = await startRedisServer();
process.stdout.write(`${JSON.stringify({ server: port, redis: redis.port })}\n`);
if (how === 'exit') process.exit(1);
setInterval(() => undefined, 60_000);
