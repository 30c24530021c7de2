/**
 * Reads a V8 `.cpuprofile` (`node --cpu-prof --cpu-prof-dir=DIR --import tsx bin/trade.ts simulate …`)
 * and prints where the time went: self and inclusive time by function and by file (a package under
 * node_modules counts as one file), or, given `--focus NAME`, who calls the functions whose name or
 * place contains NAME and what they call.
 *
 *   npx tsx scripts/cpuprofile-summary.ts PROFILE [--top 40] [--focus 'saveTx'] [--depth 2]
 *
 * Inclusive time counts a sample once per function (or file) on its stack, so recursion is not
 * counted twice. Caution when reading it: the profile samples wall time, so on a loaded machine a
 * sample taken after the process was descheduled is charged to whatever ran then; a native call
 * (better-sqlite3's statements) shows as the self time of the JS function that made it. `perf
 * record` over the same run tells native and kernel time apart.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Time per key, microseconds. */
type Tally = Map<string, number>;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '40' }, focus: { type: 'string' }, depth: { type: 'string', default: '1' } },
});
const file = positionals[0];
if (!file) {
  process.stderr.write('usage: cpuprofile-summary.ts PROFILE [--top N] [--focus NAME] [--depth N]\n');
  process.exit(2);
}
const top = Number(values.top);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map<number, number>();
for (const n of profile.nodes) for (const child of n.children ?? []) parentOf.set(child, n.id);

/** Microseconds sampled with each node on top of the stack. */
const sampled = new Map<number, number>();
profile.samples.forEach((id, i) => sampled.set(id, (sampled.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...sampled.values()].reduce((a, b) => a + b, 0);

/** A script's place, relative to the working directory; a package's under `nm/`. */
const cwd = `file://${process.cwd()}/`;
const place = (url: string) => (url.startsWith(cwd) ? url.slice(cwd.length) : url).replace(/^.*node_modules\//, 'nm/');
const functionKey = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${place(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
function fileKey(n: ProfileNode): string {
  const url = place(n.callFrame.url);
  if (!url) return n.callFrame.functionName;
  if (!url.startsWith('nm/')) return url;
  const parts = url.split('/');
  return parts.slice(0, parts[1]?.startsWith('@') ? 3 : 2).join('/');
}

function stackOf(id: number): ProfileNode[] {
  const stack: ProfileNode[] = [];
  for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) stack.push(byId.get(at)!);
  return stack;
}

const add = (tally: Tally, key: string, us: number) => tally.set(key, (tally.get(key) ?? 0) + us);

function print(title: string, tally: Tally): void {
  process.stdout.write(`\n== ${title} (of ${(total / 1e3).toFixed(0)} ms sampled)\n`);
  for (const [key, us] of [...tally].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${(us / 1e3).toFixed(0).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)} %  ${key}\n`);
  }
}

if (values.focus) {
  const focus = values.focus;
  const depth = Number(values.depth);
  const callers: Tally = new Map();
  const callees: Tally = new Map();
  for (const [id, us] of sampled) {
    const stack = stackOf(id);
    const at = stack.findIndex((n) => functionKey(n).includes(focus));
    if (at < 0) continue;
    add(callers, stack.slice(at + 1, at + 1 + depth).map(functionKey).join(' <- ') || '(root)', us);
    add(callees, at === 0 ? '(self)' : functionKey(stack[at - 1]!), us);
  }
  print(`callers of ${focus}`, callers);
  print(`what ${focus} calls`, callees);
} else {
  const self: Tally = new Map();
  const inclusive: Tally = new Map();
  const fileSelf: Tally = new Map();
  const fileInclusive: Tally = new Map();
  for (const [id, us] of sampled) {
    const stack = stackOf(id);
    add(self, functionKey(stack[0]!), us);
    add(fileSelf, fileKey(stack[0]!), us);
    for (const key of new Set(stack.map(functionKey))) add(inclusive, key, us);
    for (const key of new Set(stack.map(fileKey))) add(fileInclusive, key, us);
  }
  print('self time by function', self);
  print('inclusive time by function', inclusive);
  print('self time by file', fileSelf);
  print('inclusive time by file', fileInclusive);
}
