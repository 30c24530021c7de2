import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import t, { type Test } from 'tap';
import { STARTUP_DEADLINE_MS, waitUntil } from '../helpers/tethered-spawn.ts';

const FIXTURE = new URL('./leaves-its-servers.ts', import.meta.url).pathname;

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Runs the fixture until it has printed the ports of the servers it started. */
async function runFixture(t: Test, how: 'hang' | 'exit'): Promise<{ fixture: ReturnType<typeof spawn>; ports: { server: number; redis: number } }> {
  const fixture = spawn(process.execPath, ['--import', 'tsx', FIXTURE, how], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (fixture.exitCode === null && fixture.signalCode === null) fixture.kill('SIGKILL');
  });
  const ports = await new Promise<{ server: number; redis: number }>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the fixture did not start its servers:\n${out}`)), STARTUP_DEADLINE_MS);
    fixture.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as { server: number; redis: number });
      }
    });
  });
  return { fixture, ports };
}

// Issue 15: a crash test timed out under load and its `trade serve` (parent PID 1) kept listening after CI ended.
t.test('a test process SIGKILLed by a timeout takes the servers it spawned with it', async (t) => {
  const { fixture, ports } = await runFixture(t, 'hang');
  t.ok(await listening(ports.server), 'the trade serve listens while the test lives');
  t.ok(await listening(ports.redis), 'the redis-server listens while the test lives');
  fixture.kill('SIGKILL');
  await waitUntil('the servers still listen', async () => !(await listening(ports.server)) && !(await listening(ports.redis)), 30_000);
  t.pass('neither listens once the test process is gone');
});

t.test('a test process that exits without its teardown takes the servers it spawned with it', async (t) => {
  const { fixture, ports } = await runFixture(t, 'exit');
  await new Promise<void>((resolve) => (fixture.exitCode !== null ? resolve() : fixture.once('exit', () => resolve())));
  await waitUntil('the servers still listen', async () => !(await listening(ports.server)) && !(await listening(ports.redis)), 30_000);
  t.pass('neither listens once the test process has exited');
});
