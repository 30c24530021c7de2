/**
 * JSON with object keys sorted at every depth (and `undefined` members left out), so that two
 * equal values give one string whatever their key order: what a request is compared by when the
 * same idempotency key comes back (the platform's own API and the simulated callees alike), and
 * what an imported OS record's content hash is taken over (once per record of a history import,
 * hence the plain loops: the entries/filter/map/join version cost a third of the import's check).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i) out += ',';
      // An element JSON has no text for (undefined) leaves its place empty, as join did.
      out += canonicalJson(value[i]) ?? '';
    }
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  // The default sort compares UTF-16 code units, as `<` does.
  const keys = Object.keys(record).sort();
  let out = '{';
  let first = true;
  for (const k of keys) {
    const v = record[k];
    if (v === undefined) continue;
    if (!first) out += ',';
    first = false;
    out += `${JSON.stringify(k)}:${canonicalJson(v)}`;
  }
  return `${out}}`;
}
