/**
 * Rollout routing (DOMAIN.md "Rollout, OS and history"): where a sale of a scene at a station of
 * a group is taken. `legacy`: by the old system (the platform refuses it with 409 NOT_ROUTED, so
 * no sale is taken twice); `shadow`: by the old system, the platform quotes beside it and
 * records both results; `live`: here. Pure: no I/O.
 */
export type RouteMode = 'legacy' | 'shadow' | 'live';

export const ROUTE_MODES: readonly RouteMode[] = ['legacy', 'shadow', 'live'];

/** Matches every scene, or every station group, in a {@link RoutingRule}. */
export const ANY = '*';

/** One entry of the table: a scene (or `*`) at the stations of a group (or `*`). */
export interface RoutingRule {
  scene: string;
  group: string;
  mode: RouteMode;
}

/**
 * The routing table. A sale takes the mode of the most specific rule that matches it: scene and
 * group, then scene at any group, then any scene at the group, then `default`. A station without
 * a group matches only the `*` group.
 */
export interface RoutingTable {
  default: RouteMode;
  rules: RoutingRule[];
}

/** What the platform does with no routing file: every sale is taken here, as before routing existed. */
export const ALL_LIVE: RoutingTable = { default: 'live', rules: [] };

/** The mode of a sale of `scene` at a station of `group` (null: the station has no group). */
export function routeOf(table: RoutingTable, scene: string, group: string | null): RouteMode {
  const find = (s: string, g: string) => table.rules.find((r) => r.scene === s && r.group === g)?.mode;
  return (group !== null ? find(scene, group) : undefined)
    ?? find(scene, ANY)
    ?? (group !== null ? find(ANY, group) : undefined)
    ?? find(ANY, ANY)
    ?? table.default;
}

/** Whether the answer depends on the station's group: only then must a sale look its station up. */
export function needsGroup(table: RoutingTable): boolean {
  return table.rules.some((r) => r.group !== ANY);
}

/**
 * The table with `changes` applied: a change replaces the rule of its (scene, group) pair or adds
 * one; rules stay sorted by scene and group, so equal tables are equal as JSON.
 */
export function withChanges(table: RoutingTable, changes: RoutingRule[], defaultMode?: RouteMode): RoutingTable {
  const byPair = new Map(table.rules.map((r) => [`${r.scene}\u0000${r.group}`, r]));
  for (const c of changes) byPair.set(`${c.scene}\u0000${c.group}`, { scene: c.scene, group: c.group, mode: c.mode });
  return { default: defaultMode ?? table.default, rules: sortedRules([...byPair.values()]) };
}

function sortedRules(rules: RoutingRule[]): RoutingRule[] {
  return [...rules].sort((a, b) => (a.scene === b.scene ? cmp(a.group, b.group) : cmp(a.scene, b.scene)));
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const NAME = /^(\*|[A-Za-z0-9][A-Za-z0-9_-]{0,63})$/;

/**
 * Reads a routing file's JSON (config/routing.example.json): `{ "default"?, "rules": [...] }`,
 * where any object may carry a `_comment` (JSON has no comments). Returns the table or the
 * problems, each with its JSON path; a pair named twice is a problem, not a silent override.
 */
export function parseRoutingTable(json: unknown): { ok: true; table: RoutingTable } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { ok: false, problems: ['/ must be an object'] };
  const top = json as Record<string, unknown>;
  for (const k of Object.keys(top)) if (!['default', 'rules', '_comment', '$schema'].includes(k)) problems.push(`/${k} is not a field of a routing file`);
  const mode = (v: unknown, path: string): RouteMode | null => {
    if (typeof v === 'string' && (ROUTE_MODES as readonly string[]).includes(v)) return v as RouteMode;
    problems.push(`${path} must be one of ${ROUTE_MODES.join(', ')}`);
    return null;
  };
  const defaultMode = top.default === undefined ? 'live' : mode(top.default, '/default');
  const rules: RoutingRule[] = [];
  const seen = new Set<string>();
  if (top.rules !== undefined && !Array.isArray(top.rules)) problems.push('/rules must be an array');
  const list: unknown[] = Array.isArray(top.rules) ? top.rules : [];
  list.forEach((r, i) => {
    const path = `/rules/${i}`;
    if (typeof r !== 'object' || r === null || Array.isArray(r)) return void problems.push(`${path} must be an object`);
    const rule = r as Record<string, unknown>;
    for (const k of Object.keys(rule)) if (!['scene', 'group', 'mode', '_comment'].includes(k)) problems.push(`${path}/${k} is not a field of a rule`);
    const name = (field: 'scene' | 'group'): string | null => {
      const v = rule[field];
      if (typeof v === 'string' && NAME.test(v)) return v;
      problems.push(`${path}/${field} must be a name or *`);
      return null;
    };
    const scene = name('scene');
    const group = name('group');
    const m = mode(rule.mode, `${path}/mode`);
    if (scene === null || group === null || m === null) return;
    const pair = `${scene}\u0000${group}`;
    if (seen.has(pair)) return void problems.push(`${path} names scene ${scene} at group ${group} a second time`);
    seen.add(pair);
    rules.push({ scene, group, mode: m });
  });
  if (problems.length || defaultMode === null) return { ok: false, problems };
  return { ok: true, table: { default: defaultMode, rules: sortedRules(rules) } };
}

/** One journalled change of the table: who made it, when, and the table before and after. */
export interface RoutingChange {
  /** Order of the changes, from 1. */
  seq: number;
  /** Epoch ms. */
  at: number;
  /** The API key id, `file:<path>` for the routing file read at start, or the CLI's operator. */
  by: string;
  before: RoutingTable;
  after: RoutingTable;
}
