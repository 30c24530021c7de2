import { Command } from 'commander';
import { table, writeJson, writeLine, type CliIo } from './cli-io.ts';
import { HttpSource } from './http-source.ts';
import { withServer, type ServerOptions } from './routing.ts';
import { DEFAULT_URL } from './target.ts';

interface CursorView {
  stationId: string;
  group: string | null;
  readsOnline: boolean;
  deliveredSeq: number;
  deliveredAt: string | null;
  headSeq: number;
  pending: number;
  failures: number;
  lastError: string | null;
  retryAt: string | null;
}

interface ChangeView {
  seq: number;
  group: string;
  readsOnline: boolean;
  by: string;
  at: string;
}

function writeCursors(io: CliIo, cursors: CursorView[]): void {
  if (!cursors.length) return writeLine(io, 'no station has OS events yet');
  writeLine(io, table(
    ['station', 'group', 'delivered', 'head', 'pending', 'delivered at', 'state'],
    cursors.map((c) => [
      c.stationId, c.group ?? '-', c.deliveredSeq, c.headSeq, c.pending, c.deliveredAt ?? '-',
      c.readsOnline ? 'reads online (not synced)' : c.failures ? `retrying at ${c.retryAt} after ${c.failures}: ${c.lastError}` : 'ok',
    ]),
  ));
}

/** `trade os cursors|resync|switch`: the OS order sync (issue 20, docs/os-sync.md), through a running server. */
export function osCommand(io: CliIo): Command {
  const os = new Command('os').description('OS order sync: station cursors, resync from a date, the per-group switch');
  const source = (opts: ServerOptions) => new HttpSource(opts.url ?? DEFAULT_URL, opts.key);
  withServer(os.command('cursors'))
    .description("each station's cursor: delivered up to, pending, its group's switch, retries")
    .action(async (opts: ServerOptions) => {
      const answer = await source(opts).call<{ cursors: CursorView[]; readsOnlineGroups: string[] }>('GET', '/admin/os/cursors');
      if (opts.json) return writeJson(io, answer);
      writeCursors(io, answer.cursors);
      if (answer.readsOnlineGroups.length) writeLine(io, `groups reading the online orders: ${answer.readsOnlineGroups.join(', ')}`);
    });
  withServer(os.command('resync'))
    .description("re-deliver a station's order events recorded since a date (OS keeps each once)")
    .requiredOption('--station <stationId>', 'the station')
    .requiredOption('--from <date>', 'a day (2026-12-01, from midnight UTC+8) or a time with its offset')
    .action(async (opts: ServerOptions & { station: string; from: string }) => {
      const answer = await source(opts).call<CursorView>('POST', '/admin/os/resync', { stationId: opts.station, from: opts.from });
      if (opts.json) return writeJson(io, answer);
      writeLine(io, `${answer.stationId}: cursor back to ${answer.deliveredSeq}, ${answer.pending} events to deliver again`);
    });
  withServer(os.command('switch'))
    .description("switch a station group's OS to reading the online orders (syncing stops), or back with --no-reads-online; journalled")
    .requiredOption('--group <group>', 'the station group')
    .option('--reads-online', "the group's OS reads the online orders")
    .option('--no-reads-online', 'sync the group again')
    .action(async (opts: ServerOptions & { group: string; readsOnline?: boolean }) => {
      if (opts.readsOnline === undefined) throw new Error('say --reads-online or --no-reads-online');
      const answer = await source(opts).call<{ change: ChangeView }>('PUT', `/admin/os/groups/${encodeURIComponent(opts.group)}`, { readsOnline: opts.readsOnline });
      if (opts.json) return writeJson(io, answer);
      const c = answer.change;
      writeLine(io, `change ${c.seq} by ${c.by} at ${c.at}: group ${c.group} ${c.readsOnline ? 'reads the online orders: not synced any more' : 'is synced again'}`);
    });
  return os;
}
