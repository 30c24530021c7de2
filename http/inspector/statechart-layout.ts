import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk.bundled.js';
import type { StatechartEdge, StatechartGraph, StatechartNode } from '../../runtime/statechart-graph.ts';

/** A state node placed on the page: absolute coordinates in the diagram, in px. */
export interface PlacedNode extends StatechartNode {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A transition routed through the diagram: a polyline plus where its label sits. */
export interface PlacedEdge extends StatechartEdge {
  /** Label as drawn, line by line: the event, then its guards. */
  lines: string[];
  points: { x: number; y: number }[];
  labelBox: { x: number; y: number; width: number; height: number } | null;
}

/** Initial-state markers: a dot inside a compound node pointing at the child entered first. */
export interface PlacedInitial {
  parent: string;
  target: string;
  x: number;
  y: number;
  points: { x: number; y: number }[];
}

/** A statechart laid out for drawing: what the inspector page renders as SVG, without a layout step of its own. */
export interface StatechartLayout {
  machine: string;
  root: string;
  width: number;
  height: number;
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  initials: PlacedInitial[];
}

// Text is measured by estimate: the page draws in a 12 px sans font, whose average glyph is narrower.
const NAME_CHAR_PX = 7.2;
const SMALL_CHAR_PX = 6.2;
const LINE_PX = 15;
const LABEL_LINE_PX = 13;
const INITIAL_DOT = 10;
const INITIAL_SUFFIX = '#initial';

type ElkClass = typeof import('elkjs/lib/elk.bundled.js').default;
let elkClass: Promise<ElkClass> | undefined;

/**
 * The layout engine, loaded on the first layout: its bundle takes seconds of CPU to load, which
 * every `trade` process (a CLI call, a worker, a crash test's server) would otherwise pay at start.
 * The bundle is CommonJS whose `module.exports` is the class itself: Node hands that over as the
 * default import, while its typings describe an ES module with a `default` member.
 */
function loadElk(): Promise<ElkClass> {
  elkClass ??= import('elkjs/lib/elk.bundled.js').then((m) => m.default as unknown as ElkClass);
  return elkClass;
}

/**
 * How an edge label reads, line by line: the event (`PAY`, `done: lockHold`), then its guards in
 * priority order, one a line (`[succeeded]`, `[else]`); an eventless transition shows only its guards.
 */
export function edgeLines(edge: StatechartEdge): string[] {
  const guards = edge.guards.some((g) => g !== null) ? edge.guards.map((g) => `[${g ?? 'else'}]`) : [];
  if (edge.label === 'always') return guards.length ? guards : ['always'];
  return [edge.label, ...guards];
}

function nodeSize(node: StatechartNode): { width: number; height: number } {
  const lines = [node.key.length * NAME_CHAR_PX, ...node.invokes.map((i) => (i.length + 2) * SMALL_CHAR_PX)];
  return { width: Math.max(70, Math.ceil(Math.max(...lines)) + 28), height: 18 + LINE_PX * (1 + node.invokes.length) };
}

/**
 * Lays a statechart out with ELK's layered algorithm, compound states as nested boxes and
 * transitions routed orthogonally across levels. Deterministic: the same machine gives the same
 * picture, so it is computed once per machine and cached by the caller.
 */
export async function layoutStatechart(graph: StatechartGraph): Promise<StatechartLayout> {
  const ELK = await loadElk();
  const elk = new ELK();
  const byParent = new Map<string | null, StatechartNode[]>();
  for (const n of graph.nodes) byParent.set(n.parent, [...(byParent.get(n.parent) ?? []), n]);
  const edges: ElkExtendedEdge[] = graph.edges.map((e) => {
    const lines = edgeLines(e);
    const width = Math.ceil(Math.max(...lines.map((l) => l.length)) * SMALL_CHAR_PX) + 8;
    return { id: e.id, sources: [e.source], targets: [e.target], labels: [{ id: `${e.id}#label`, text: lines.join('\n'), width, height: LABEL_LINE_PX * lines.length }] };
  });
  const build = (node: StatechartNode): ElkNode => {
    const children = byParent.get(node.id) ?? [];
    if (!children.length) return { id: node.id, ...nodeSize(node) };
    const elkChildren = children.map(build);
    if (node.initial) {
      elkChildren.unshift({ id: `${node.id}${INITIAL_SUFFIX}`, width: INITIAL_DOT, height: INITIAL_DOT });
      edges.push({ id: `${node.id}${INITIAL_SUFFIX}|edge`, sources: [`${node.id}${INITIAL_SUFFIX}`], targets: [node.initial] });
    }
    return {
      id: node.id,
      layoutOptions: { 'elk.padding': `[top=${node.parent === null ? 12 : 30},left=14,bottom=14,right=14]` },
      children: elkChildren,
    };
  };
  const rootNode = graph.nodes.find((n) => n.id === graph.root);
  if (!rootNode) throw new Error(`statechart ${graph.machine} has no root node`);
  const laid = await elk.layout({
    ...build(rootNode),
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'DOWN',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.edgeRouting': 'ORTHOGONAL',
      'elk.layered.spacing.nodeNodeBetweenLayers': '34',
      'elk.spacing.nodeNode': '28',
      'elk.spacing.edgeNode': '14',
      'elk.spacing.edgeEdge': '10',
      'elk.spacing.edgeLabel': '4',
      'elk.layered.nodePlacement.strategy': 'BRANDES_KOEPF',
      // States are written in the order a sale goes through them: edges against that order
      // (unwinding back to quoted, a retry) are the ones drawn as going back.
      'elk.layered.cycleBreaking.strategy': 'MODEL_ORDER',
      'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
      'elk.padding': '[top=12,left=12,bottom=12,right=12]',
    },
    edges,
  });

  const origin = new Map<string, { x: number; y: number }>();
  const placed = new Map<string, { x: number; y: number; width: number; height: number }>();
  const place = (n: ElkNode, dx: number, dy: number): void => {
    const x = dx + (n.x ?? 0);
    const y = dy + (n.y ?? 0);
    origin.set(n.id, { x, y });
    placed.set(n.id, { x, y, width: n.width ?? 0, height: n.height ?? 0 });
    for (const c of n.children ?? []) place(c, x, y);
  };
  place(laid, 0, 0);

  const routed = new Map<string, { points: { x: number; y: number }[]; labelBox: PlacedEdge['labelBox'] }>();
  const collect = (n: ElkNode): void => {
    for (const e of (n.edges ?? []) as (ElkExtendedEdge & { container?: string })[]) {
      // ELK gives an edge's coordinates relative to the node that contains it.
      const base = origin.get(e.container ?? n.id) ?? { x: 0, y: 0 };
      const points = (e.sections ?? []).flatMap((s) => [s.startPoint, ...(s.bendPoints ?? []), s.endPoint]).map((p) => ({ x: p.x + base.x, y: p.y + base.y }));
      const label = e.labels?.[0];
      routed.set(e.id, {
        points,
        labelBox: label ? { x: (label.x ?? 0) + base.x, y: (label.y ?? 0) + base.y, width: label.width ?? 0, height: label.height ?? 0 } : null,
      });
    }
    for (const c of n.children ?? []) collect(c);
  };
  collect(laid);

  return {
    machine: graph.machine,
    root: graph.root,
    width: Math.ceil(laid.width ?? 0),
    height: Math.ceil(laid.height ?? 0),
    nodes: graph.nodes.map((n) => ({ ...n, ...(placed.get(n.id) ?? { x: 0, y: 0, width: 0, height: 0 }) })),
    edges: graph.edges.map((e) => ({ ...e, lines: edgeLines(e), ...(routed.get(e.id) ?? { points: [], labelBox: null }) })),
    initials: graph.nodes.flatMap((n) => {
      if (!n.initial) return [];
      const dot = placed.get(`${n.id}${INITIAL_SUFFIX}`);
      if (!dot) return [];
      return [{ parent: n.id, target: n.initial, x: dot.x + INITIAL_DOT / 2, y: dot.y + INITIAL_DOT / 2, points: routed.get(`${n.id}${INITIAL_SUFFIX}|edge`)?.points ?? [] }];
    }),
  };
}
