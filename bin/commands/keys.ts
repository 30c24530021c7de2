import { Command, InvalidArgumentError } from 'commander';
import { SCOPES, type Scope } from '../../domain/api-key.ts';
import { writeLine, type CliIo } from './cli-io.ts';

function list(name: string) {
  return (value: string): string[] => {
    const items = value.split(',').map((s) => s.trim()).filter(Boolean);
    if (!items.length) throw new InvalidArgumentError(`${name}: give at least one, comma-separated`);
    return items;
  };
}

function scopes(value: string): Scope[] {
  const items = list('--scopes')(value);
  const unknown = items.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length) throw new InvalidArgumentError(`unknown scope ${unknown.join(', ')} (scopes: ${SCOPES.join(', ')})`);
  return items as Scope[];
}

/**
 * `trade keys new`: a fresh secret, printed once (only its SHA-256 is kept anywhere), and the
 * entry to add to the keys file. The secret goes to stdout's first line for a script to take;
 * the entry follows as JSON.
 */
export function keysCommand(io: CliIo): Command {
  const keys = new Command('keys').description('API keys for TRADE_API_KEYS_FILE');
  keys
    .command('new')
    .description('make a new API key: prints its secret once and the entry to add to the keys file')
    .requiredOption('--system <name>', 'the calling system (pos, app, …); its keys share idempotency records, so a rotated key replays')
    .requiredOption('--scopes <list>', `comma-separated: ${SCOPES.join(', ')}`, scopes)
    .requiredOption('--merchants <list>', 'comma-separated merchant ids, or * for every merchant', list('--merchants'))
    .option('--id <id>', 'the entry id (default: <system>-<random>)')
    .option('--json', 'one JSON object {secret, entry}')
    .action(async (opts: { system: string; scopes: Scope[]; merchants: string[]; id?: string; json?: boolean }) => {
      const { newApiKey } = await import('../../runtime/api-keys.ts');
      const { secret, entry } = newApiKey({ system: opts.system, scopes: opts.scopes, merchants: opts.merchants, ...(opts.id ? { id: opts.id } : {}) });
      if (opts.json) {
        writeLine(io, JSON.stringify({ secret, entry }));
        return;
      }
      writeLine(io, secret);
      io.err.write('The secret above is shown only now: give it to the calling system (Authorization: Bearer <secret>).\n');
      io.err.write('Add this entry to the "keys" list of the keys file, then restart the server:\n');
      writeLine(io, JSON.stringify(entry, null, 2));
    });
  return keys;
}
