import fc from 'fast-check';
import t from 'tap';
import { canonicalJson } from '../../domain/canonical-json.ts';

/** The first, plain definition: the faster one must give exactly its text (stored hashes and fingerprints depend on it). */
function reference(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${reference(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

t.test('canonical JSON is the text of the plain definition, undefined members and elements included (issue 20: the import hashes every record)', async (t) => {
  const value = fc.anything({ withObjectString: true, withNullPrototype: true, withSparseArray: true, withDate: true, maxDepth: 4 });
  fc.assert(fc.property(value, (v) => canonicalJson(v) === reference(v)), { numRuns: 2000 });
  t.equal(canonicalJson({ b: [1, undefined, { d: undefined, c: 'x' }], a: null }), '{"a":null,"b":[1,,{"c":"x"}]}');
});

t.test('canonical JSON does not depend on key order', async (t) => {
  fc.assert(fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (d) => canonicalJson(d) === canonicalJson(Object.fromEntries(Object.entries(d).reverse()))));
  t.pass();
});
