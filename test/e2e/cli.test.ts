import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { trade } from '../helpers/trade-binary.ts';



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
