import { Command, Option } from 'commander';
import { ROUTE_MODES, type RouteMode, type RoutingChange, type RoutingRule } from '../../domain/routing.ts';
import { DEMO_API_KEY } from '../../domain/api-key.ts';
import { table, writeJson, writeLine, type CliIo } from './cli-io.ts';
import { HttpSource } from './http-source.ts';
import { DEFAULT_URL } from './target.ts';

/** Where `trade routing` (and `trade shadow`) talk to: a running server's admin API. */
export interface ServerOptions {
  url?: string;
  key: string;
  json?: boolean;
}

/** Adds `--url`, `--key` and `--json`: these commands go through a server, which journals the change. */
export function withServer(cmd: Command): Command {
  return cmd
    .option('--url <url>', `a running server (env TRADE_URL; default ${DEFAULT_URL})`, process.env.TRADE_URL)
    .option('--key <key>', 'admin API key for every merchant (env TRADE_ADMIN_KEY; default the demo key)', process.env.TRADE_ADMIN_KEY ?? DEMO_API_KEY)
    .option('--json', 'machine-readable JSON instead of tables');
}

interface TableAnswer {
  table: { default: RouteMode; rules: RoutingRule[]; seq: number };
}
type ChangeView = Omit<RoutingChange, 'at'> & { at: string };

function writeTable(io: CliIo, answer: TableAnswer): void {
  writeLine(io, `routing table (change ${answer.table.seq}), default ${answer.table.default}`);
  if (answer.table.rules.length) writeLine(io, table(['scene', 'group', 'mode'], answer.table.rules.map((r) => [r.scene, r.group, r.mode])));
}

/** What one change did, as lines `scene@group: before → after`. */
function changedPairs(c: ChangeView): string[] {
  const key = (r: RoutingRule) => `${r.scene}@${r.group}`;
  const before = new Map(c.before.rules.map((r) => [key(r), r.mode]));
  const after = new Map(c.after.rules.map((r) => [key(r), r.mode]));
  const lines = [...new Set([...before.keys(), ...after.keys()])].sort().flatMap((k) => {
    const b = before.get(k) ?? `(default ${c.before.default})`;
    const a = after.get(k) ?? `(default ${c.after.default})`;
    return b === a ? [] : [`${k}: ${b} → ${a}`];
  });
  if (c.before.default !== c.after.default) lines.unshift(`default: ${c.before.default} → ${c.after.default}`);
  return lines;
}

async function withServerSource<T>(opts: ServerOptions, work: (s: HttpSource) => Promise<T>): Promise<T> {
  return work(new HttpSource(opts.url ?? DEFAULT_URL, opts.key));
}

/** `trade routing show|set`: the rollout routing table (API.md routing), through a running server. */
export function routingCommand(io: CliIo): Command {
  const routing = new Command('routing').description('rollout routing: where a sale of a scene at a station group is taken (legacy, shadow, live)');
  withServer(routing.command('show'))
    .description('the routing table and its latest changes (who, when, what changed)')
    .option('--changes <n>', 'how many of the latest changes to list', (v) => Number(v), 10)
    .action(async (opts: ServerOptions & { changes: number }) => {
      await withServerSource(opts, async (s) => {
        const answer = await s.call<TableAnswer & { changes: ChangeView[] }>('GET', `/admin/routing?limit=${opts.changes}`);
        if (opts.json) return writeJson(io, answer);
        writeTable(io, answer);
        if (answer.changes.length) {
          writeLine(io, table(['#', 'at', 'by', 'changed'], answer.changes.map((c) => [c.seq, c.at, c.by, changedPairs(c).join('\n')])));
        }
      });
    });
  withServer(routing.command('set'))
    .description('route a scene at a station group (journalled); * for every scene or every group')
    .requiredOption('--scene <scene>', 'the scene (senseless, merchant_pos, …) or *')
    .requiredOption('--group <group>', 'the station group or *')
    .addOption(new Option('--mode <mode>', 'where its sales are taken').choices([...ROUTE_MODES]).makeOptionMandatory())
    .action(async (opts: ServerOptions & { scene: string; group: string; mode: RouteMode }) => {
      await withServerSource(opts, async (s) => {
        const answer = await s.call<TableAnswer & { change: ChangeView | null }>('PUT', '/admin/routing', { rules: [{ scene: opts.scene, group: opts.group, mode: opts.mode }] });
        if (opts.json) return writeJson(io, answer);
        writeLine(io, answer.change ? `change ${answer.change.seq} by ${answer.change.by}: ${changedPairs(answer.change).join(', ')}` : 'unchanged: the table already routes it so');
        writeTable(io, answer);
      });
    });
  return routing;
}
