import type { AnyStateMachine, AnyStateNode } from 'xstate';

/** One state node of a machine, as the inspector draws it. */
export interface StatechartNode {
  /** XState's state node id: `transaction.paying.collecting`; the root is the machine id. */
  id: string;
  key: string;
  parent: string | null;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  /** Id of the child entered first (compound nodes only). */
  initial: string | null;
  /** Named actors invoked while in this state (`lockHold`): the downstream call it waits for. */
  invokes: string[];
  tags: string[];
  /** Events handled here without leaving the state (they only change the context). */
  handles: string[];
}

/** A transition between two state nodes; transitions with the same source, target and event are one edge. */
export interface StatechartEdge {
  id: string;
  source: string;
  target: string;
  /** The event as written in the machine (`PAY`, `xstate.done.actor.…`; `''` for an eventless `always`). */
  event: string;
  /** What a reader calls it: `PAY`, `done: lockHold`, `always`. */
  label: string;
  /** Guards of the merged transitions, in priority order (`null`: unguarded). */
  guards: (string | null)[];
}

/** The structure of a machine: every state node and every state-changing transition. */
export interface StatechartGraph {
  machine: string;
  root: string;
  nodes: StatechartNode[];
  edges: StatechartEdge[];
}

/**
 * Reads the statechart of a machine from its definition (`machine.root`), so the inspector draws
 * exactly what runs. Transitions without a target only change the context: they are listed on
 * their node (`handles`) rather than drawn as self-loops that would bury the diagram.
 */
export function statechartGraph(machine: AnyStateMachine): StatechartGraph {
  const nodes: StatechartNode[] = [];
  const edges = new Map<string, StatechartEdge>();
  const visit = (node: AnyStateNode): void => {
    const invokes = node.invoke.map((i) => (typeof i.src === 'string' ? i.src : i.id));
    const invokeSrc = new Map(node.invoke.map((i) => [i.id, typeof i.src === 'string' ? i.src : i.id]));
    const handles = new Set<string>();
    const transitions = [...node.transitions.values()].flat().concat(node.always ?? []);
    for (const t of transitions) {
      const targets = t.target ?? [];
      const event = String(t.eventType ?? '');
      if (!targets.length) {
        handles.add(eventLabel(event, invokeSrc));
        continue;
      }
      for (const target of targets) {
        const id = `${node.id}|${event}|${target.id}`;
        const edge = edges.get(id) ?? { id, source: node.id, target: target.id, event, label: eventLabel(event, invokeSrc), guards: [] };
        edge.guards.push(guardName(t.guard));
        edges.set(id, edge);
      }
    }
    const children = Object.values(node.states) as AnyStateNode[];
    nodes.push({
      id: node.id,
      key: node.key,
      parent: node.parent?.id ?? null,
      type: node.type,
      initial: children.length && node.type === 'compound' ? (node.initial.target[0]?.id ?? null) : null,
      invokes,
      tags: [...node.tags],
      handles: [...handles],
    });
    for (const child of children) visit(child);
  };
  visit(machine.root);
  return { machine: machine.id, root: machine.root.id, nodes, edges: [...edges.values()] };
}

function eventLabel(event: string, invokeSrc: Map<string, string>): string {
  if (event === '') return 'always';
  const done = /^xstate\.(done|error)\.actor\.(.+)$/.exec(event);
  if (done) return `${done[1]}: ${invokeSrc.get(done[2]!) ?? done[2]}`;
  return event;
}

function guardName(guard: unknown): string | null {
  if (guard === undefined || guard === null) return null;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'object' && 'type' in guard && typeof guard.type === 'string') return guard.type;
  return 'inline guard';
}

/**
 * The ids of the state nodes active in a state value (`{ paying: 'collecting' }` →
 * `transaction`, `transaction.paying`, `transaction.paying.collecting`).
 */
export function activeNodeIds(root: string, value: unknown): string[] {
  const ids = [root];
  const walk = (prefix: string, v: unknown): void => {
    if (typeof v === 'string') {
      ids.push(`${prefix}.${v}`);
    } else if (v && typeof v === 'object') {
      for (const [key, sub] of Object.entries(v)) {
        ids.push(`${prefix}.${key}`);
        walk(`${prefix}.${key}`, sub);
      }
    }
  };
  walk(root, value);
  return ids;
}
