import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { Ajv, type ErrorObject } from 'ajv';
import { ALL_MERCHANTS, DEMO_API_KEY, SCOPES, type ApiKey, type Scope } from '../domain/api-key.ts';
import { ConfigError } from './systems-config.ts';

/** SHA-256 of a secret, lowercase hex: what a keys file stores instead of the secret. */
export function sha256Hex(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** The demo key as a key entry; accepted only in demo mode. */
export const DEMO_KEY_ENTRY: ApiKey = {
  id: 'demo',
  system: 'demo',
  secretSha256: sha256Hex(DEMO_API_KEY),
  scopes: [...SCOPES],
  merchants: [ALL_MERCHANTS],
};

const Identifier = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]*$' });

/** One entry of the keys file (see {@link ApiKey}). */
export const ApiKeyEntrySchema = Type.Object(
  {
    id: Identifier,
    system: Identifier,
    secretSha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the secret, 64 lowercase hex digits' }),
    scopes: Type.Array(Type.Unsafe<Scope>({ type: 'string', enum: [...SCOPES] }), { minItems: 1, uniqueItems: true }),
    merchants: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, uniqueItems: true }),
  },
  { additionalProperties: false },
);

/** `TRADE_API_KEYS_FILE`: `{"keys": [entry, …]}`. */
export const ApiKeysFileSchema = Type.Object({ keys: Type.Array(ApiKeyEntrySchema, { minItems: 1 }) }, { additionalProperties: false });
type ApiKeysFile = Static<typeof ApiKeysFileSchema>;

let validator: ((value: unknown) => value is ApiKeysFile) & { errors?: ErrorObject[] | null } | null = null;

/** Where a problem lies, named by its entry's id when it has one: `keys[2] (id "pos-old")`. */
function place(value: unknown, err: ErrorObject): string {
  const [, , index, ...rest] = err.instancePath.split('/');
  if (index === undefined || !/^\d+$/.test(index)) return `${err.instancePath || '/'} ${err.message ?? 'is invalid'}`;
  const entry = (value as { keys: unknown[] }).keys[Number(index)];
  const id = entry && typeof entry === 'object' && typeof (entry as { id?: unknown }).id === 'string' ? ` (id ${JSON.stringify((entry as { id: string }).id)})` : '';
  const field = rest.length ? `.${rest.join('.')}` : '';
  const extra =
    err.keyword === 'additionalProperties' ? `: ${String(err.params.additionalProperty)}`
    : err.keyword === 'enum' ? ` (${(err.params.allowedValues as string[]).join(', ')})`
    : '';
  return `keys[${index}]${id}${field} ${err.message ?? 'is invalid'}${extra}`;
}

/**
 * Checks parsed keys-file content: the schema, then what a schema cannot say (ids unique; no
 * secret shared by two entries, which would make a caller's identity ambiguous). Throws a
 * {@link ConfigError} naming each bad entry.
 */
export function validateApiKeys(value: unknown, source: string): ApiKey[] {
  validator ??= new Ajv({ allErrors: true }).compile(ApiKeysFileSchema);
  if (!validator(value)) {
    throw new ConfigError([...new Set((validator.errors ?? []).map((err) => `${source}: ${place(value, err)}`))].slice(0, 10));
  }
  const problems: string[] = [];
  const ids = new Map<string, number>();
  const hashes = new Map<string, number>();
  value.keys.forEach((k, i) => {
    const sameId = ids.get(k.id);
    if (sameId !== undefined) problems.push(`${source}: keys[${i}] (id ${JSON.stringify(k.id)}) repeats the id of keys[${sameId}]`);
    if (k.secretSha256 === DEMO_KEY_ENTRY.secretSha256) problems.push(`${source}: keys[${i}] (id ${JSON.stringify(k.id)}) is the public demo key ${DEMO_API_KEY}: make a new one with trade keys new`);
    const sameSecret = hashes.get(k.secretSha256);
    if (sameSecret !== undefined) problems.push(`${source}: keys[${i}] (id ${JSON.stringify(k.id)}) has the secret of keys[${sameSecret}]`);
    ids.set(k.id, i);
    hashes.set(k.secretSha256, i);
  });
  if (problems.length) throw new ConfigError(problems);
  return value.keys.map((k) => ({ ...k, scopes: [...k.scopes], merchants: [...k.merchants] }));
}

/** Reads and validates a keys file (`TRADE_API_KEYS_FILE`, `trade serve --keys`). */
export function loadApiKeysFile(path: string): ApiKey[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError([`TRADE_API_KEYS_FILE ${path} is not readable JSON: ${(err as Error).message}`]);
  }
  return validateApiKeys(parsed, path);
}

/**
 * The keys a server accepts, looked up by the secret a request presents. The presented secret is
 * hashed and compared with every key's hash in constant time, all of them every time, so neither
 * the comparison nor the number of keys tried tells a caller how close a guess came.
 */
export class KeyRing {
  private readonly hashes: { key: ApiKey; digest: Buffer }[];

  constructor(keys: readonly ApiKey[]) {
    this.hashes = keys.map((key) => ({ key, digest: Buffer.from(key.secretSha256, 'hex') }));
  }

  /** The key whose secret this is, or null. */
  find(secret: string): ApiKey | null {
    const digest = createHash('sha256').update(secret, 'utf8').digest();
    let found: ApiKey | null = null;
    for (const { key, digest: stored } of this.hashes) {
      if (timingSafeEqual(digest, stored) && !found) found = key;
    }
    return found;
  }

  get size(): number {
    return this.hashes.length;
  }
}

/** A fresh key: its secret (shown once, never stored) and the entry for the keys file. */
export function newApiKey(opts: { system: string; scopes: Scope[]; merchants: string[]; id?: string }): { secret: string; entry: ApiKey } {
  const secret = `tc_${opts.system}_${randomBytes(24).toString('base64url')}`;
  const entry: ApiKey = {
    id: opts.id ?? `${opts.system}-${randomBytes(4).toString('hex')}`,
    system: opts.system,
    secretSha256: sha256Hex(secret),
    scopes: [...opts.scopes],
    merchants: [...opts.merchants],
  };
  // The same checks a server applies at start: an entry printed here is one it accepts.
  validateApiKeys({ keys: [entry] }, 'the new key');
  return { secret, entry };
}
