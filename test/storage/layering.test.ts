import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import ts from 'typescript';

const root = join(import.meta.dirname, '..', '..');
const CONCEPTS = ['SnapshotStore', 'QuoteRecords', 'Journal', 'TransitionFeed', 'IdempotencyRecords', 'TaskStore', 'SentinelIndex', 'AdminQueries', 'OrderArchive', 'ShadowQuotes', 'OsOutbox', 'ReconciliationRecords', 'Storage'];

function filesUnder(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

t.test('no storage interface has an optional member (DESIGN.md rule 9, issue 18)', async (t) => {
  const file = join(root, 'storage', 'types.ts');
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found = new Map<string, string[]>();
  source.forEachChild((node) => {
    if (!ts.isInterfaceDeclaration(node) || !CONCEPTS.includes(node.name.text)) return;
    found.set(node.name.text, node.members.filter((m) => m.questionToken !== undefined).map((m) => m.name?.getText(source) ?? '?'));
  });
  t.same([...found.keys()].sort(), [...CONCEPTS].sort(), 'every concept is an interface of storage/types.ts');
  for (const [name, optional] of found) t.same(optional, [], `${name} has no optional member`);
});

t.test('no file under storage/ reads a snapshot\'s context (DESIGN.md rule 9, issue 18)', async (t) => {
  const files = filesUnder('storage');
  t.ok(files.length > 10, `${files.length} files looked at`);
  for (const file of files) t.notMatch(readFileSync(file, 'utf8'), /\.context\b|\$\.context|context\?\./, file);
});

t.test('the event stream route knows no storage backend (issue 18)', async (t) => {
  const text = readFileSync(join(root, 'http', 'routes', 'events.ts'), 'utf8');
  t.notMatch(text, /redis|sqlite|journalSince|feedId|storage\/(redis|sqlite)/i, 'no backend named, imported or sniffed');
  t.notMatch(text, /\?\.\(|\.follow\?|!== undefined \? .*follow/, 'no optional call into the storage');
});
