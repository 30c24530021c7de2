import { Command } from 'commander';
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { MACHINES_BY_KIND } from '../../machines/registry.ts';
import { actorKind, type ActorKind } from '../../runtime/actor-kind.ts';
import { stateText, writeJson, writeLine, type CliIo } from './cli-io.ts';
import type { JournalLine, TradeSource } from './source.ts';
import { withSource, withTarget, type TargetOptions } from './target.ts';

export const ACTIVE_MARK = '▶';

/** True when the state node at `path` is active in the statechart value `value`. */
export function isActive(value: unknown, path: readonly string[]): boolean {
  if (path.length === 0) return true;
  const [head, ...rest] = path;
  if (typeof value === 'string') return rest.length === 0 && value === head;
  if (value && typeof value === 'object' && head !== undefined && head in value) return isActive((value as Record<string, unknown>)[head], rest);
  return false;
}

/** Every active state node's path, dotted (`paying`, `paying.awaitingLegs`). */
export function activePaths(value: unknown, prefix = ''): string[] {
  if (typeof value === 'string') return [`${prefix}${value}`];
  if (value && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).flatMap(([key, sub]) => [`${prefix}${key}`, ...activePaths(sub, `${prefix}${key}.`)]);
  }
  return [];
}

/** The statechart as an indented tree; active states marked `▶`, parallel and final states tagged. */
export function renderTree(machine: AnyStateMachine, value: unknown, indent = ''): string[] {
  const lines: string[] = [];
  const walk = (node: AnyStateNode, depth: number) => {
    for (const child of Object.values(node.states) as AnyStateNode[]) {
      const active = isActive(value, child.path);
      const tag = child.type === 'parallel' ? ' (parallel)' : child.type === 'final' ? ' (final)' : '';
      lines.push(`${indent}${active ? ACTIVE_MARK : ' '} ${'  '.repeat(depth)}${child.key}${tag}`);
      walk(child, depth + 1);
    }
  };
  walk(machine.root, 0);
  return lines;
}

export interface ChildActor {
  id: string;
  machine: ActorKind | 'other';
  /** Its last state value in the journal. */
  state: unknown;
}

/** The child actors a transaction has had and the state each was last in, from its journal. */
export function childActors(journal: JournalLine[]): ChildActor[] {
  const last = new Map<string, unknown>();
  for (const e of journal) if (e.actor !== 'transaction') last.set(e.actor, e.to);
  return [...last].map(([id, state]) => ({ id, machine: actorKind(id), state }));
}

/** `trade viz TXN`: the transaction statechart with its active state(s), then each child actor's. */
export async function runViz(source: TradeSource, io: CliIo, txnNo: string, opts: { json?: boolean }) {
  const [detail, journal] = await Promise.all([source.transaction(txnNo), source.journal(txnNo)]);
  const children = childActors(journal);
  const result = { txnNo, state: detail.state, stateValue: detail.stateValue, active: activePaths(detail.stateValue), children };
  if (opts.json) {
    writeJson(io, result);
    return result;
  }
  writeLine(io, `${txnNo}  ${detail.state}  (${stateText(detail.stateValue)})`);
  writeLine(io, 'transaction');
  for (const line of renderTree(MACHINES_BY_KIND.transaction, detail.stateValue)) writeLine(io, line);
  for (const child of children) {
    writeLine(io);
    writeLine(io, `${child.id} (${child.machine})  ${stateText(child.state)}`);
    if (child.machine !== 'other') for (const line of renderTree(MACHINES_BY_KIND[child.machine], child.state)) writeLine(io, line);
  }
  return result;
}

export function vizCommand(io: CliIo): Command {
  return withTarget(new Command('viz'))
    .description('the statechart as text, the active state marked ▶, with the child actors')
    .argument('<txnNo>', 'the transaction')
    .action(async (txnNo: string, opts: TargetOptions) => {
      await withSource(opts, (source) => runViz(source, io, txnNo, opts));
    });
}
