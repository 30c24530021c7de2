import { readFileSync } from 'node:fs';
import semver from 'semver';
import t from 'tap';

const root = new URL('../../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: Record<string, string> | string[] }>;
};

/** The `engines.node` of every package `npm ci` installs, as the lock file records it. */
function nodeRanges(): { name: string; range: string }[] {
  const ranges: { name: string; range: string }[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || !entry.engines || Array.isArray(entry.engines)) continue;
    const range = entry.engines.node;
    // npm itself ignores a range it cannot parse ("node >= 0.2.0"), so no warning comes of it.
    if (range && semver.validRange(range)) ranges.push({ name: `${path.replace(/^.*node_modules\//, '')}@${entry.version}`, range });
  }
  return ranges;
}

t.test('the project runs on Node 20, as its engines field says', async (t) => {
  t.ok(semver.intersects(pkg.engines.node, '20.x'), `engines.node ${pkg.engines.node} admits a Node 20`);
  t.ok(semver.satisfies(process.version, pkg.engines.node), `${process.version} satisfies ${pkg.engines.node}`);
});

// Issue 15: cockatiel@4 and cookie@2 want Node >= 22 and made `npm ci` print EBADENGINE.
t.test('every installed package admits the oldest Node the project declares, so npm ci warns of no engine', async (t) => {
  const oldest = semver.minVersion(pkg.engines.node);
  t.ok(oldest, 'engines.node has a lowest version');
  const ranges = nodeRanges();
  t.ok(ranges.length > 100, 'the lock file records engines');
  const refusing = ranges.filter(({ range }) => !semver.satisfies(oldest!, range) || !semver.satisfies(process.version, range));
  t.same(refusing, [], `packages that refuse Node ${oldest} or ${process.version}`);
});
