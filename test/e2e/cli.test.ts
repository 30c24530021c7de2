import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { STARTUP_DEADLINE_MS } from '../helpers/deadlines.ts';

const run = promisify(execFile);
const TRADE = new URL('../../bin/trade.js', import.meta.url).pathname;

async function trade(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [TRADE, ...args], { timeout: STARTUP_DEADLINE_MS });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

// Issue 15: `trade --version` was missing.
t.test('trade --version prints the version of package.json and exits 0', async (t) => {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) t.same(await trade([flag]), { code: 0, stdout: `${version}\n`, stderr: '' }, flag);
});

t.test('trade serve with a missing dataset says which file and exits 1, without a stack trace', async (t) => {
  const dir = t.testdir();
  const res = await trade(['serve', '--port', '0', '--data', join(dir, 'nope.json'), '--db', join(dir, 'a.db'), '--sim-db', join(dir, 'b.db')]);
  t.equal(res.code, 1);
  t.match(res.stderr, /^trade: invalid dataset .*nope\.json/);
  t.notMatch(res.stderr, /at .*\.ts:\d+/);
});

t.test('trade refuses a bad option value and an unknown command', async (t) => {
  const port = await trade(['serve', '--port', 'abc']);
  t.not(port.code, 0);
  t.match(port.stderr, /port must be an integer/);
  const unknown = await trade(['bogus']);
  t.not(unknown.code, 0);
  t.match(unknown.stderr, /unknown command 'bogus'/);
});
