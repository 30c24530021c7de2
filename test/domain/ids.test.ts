import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import { IdGenerator } from '../../domain/ids.ts';

const run = promisify(execFile);

t.test('numbers from one process strictly increase, even within one millisecond', async (t) => {
  const frozen = new IdGenerator(() => Date.parse('2026-11-25T10:00:00Z'), 'NODE01');
  const ids = Array.from({ length: 25_000 }, () => frozen.next('T'));
  t.equal(new Set(ids).size, ids.length, 'no duplicates');
  t.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]!), 'sorted by creation');
  t.match(ids[0], /^T202611251000000000000NODE01$/);
});

t.test('numbers sort by time across prefixes and a clock that steps back does not reorder them', async (t) => {
  let now = Date.parse('2026-11-25T10:00:00.500Z');
  const gen = new IdGenerator(() => now);
  const a = gen.next('O');
  now -= 400;
  const b = gen.next('O');
  t.ok(b > a);
});

t.test('numbers are unique across processes started in the same instant', async (t) => {
  const script = "import { IdGenerator } from './domain/ids.ts'; const g = new IdGenerator(); const out = []; for (let i = 0; i < 5000; i++) out.push(g.next('T')); console.log(out.join('\\n'));";
  const outputs = await Promise.all(
    Array.from({ length: 4 }, () => run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: new URL('../..', import.meta.url).pathname })),
  );
  const all = outputs.flatMap((o) => o.stdout.trim().split('\n'));
  t.equal(all.length, 20_000);
  t.equal(new Set(all).size, all.length, 'no number was made twice by different processes');
  t.equal(new Set(all.map((id) => id.slice(-6))).size, 4, 'each process has its own node id');
});
