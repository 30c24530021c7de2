import { activeNodeIds } from '../../runtime/statechart-graph.ts';
import type { StoredJournalEntry } from '../../storage/types.ts';

/** One actor of a transaction's tree: the transaction itself, a payment leg, a refund, a refund leg, a late-payment check. */
export interface InspectedActor {
  /** Unique in the tree: `transaction`, `leg-1`, `refund-R…`, `refund-R…/rleg-1`. */
  path: string;
  /** The actor's id as its parent named it (and as the journal records it). */
  id: string;
  parent: string | null;
  /** The machine it runs (`transaction`, `paymentLeg`, …): the statechart to draw it with. */
  machine: string;
  value: unknown;
  /** XState's snapshot status: `active`, `done`, `error`, `stopped`. */
  status: string;
  /** State node ids active in `value`, for highlighting. */
  active: string[];
}

/** A journal entry placed in the actor tree, with the state nodes active after it. */
export interface InspectedEntry extends StoredJournalEntry {
  path: string;
  machine: string | null;
  toActive: string[];
}

interface PersistedActor {
  status?: string;
  value?: unknown;
  children?: Record<string, { snapshot?: PersistedActor; src?: unknown } | undefined>;
}

const ROOT = 'transaction';

/**
 * The actor tree of a transaction, from its persisted snapshot: XState keeps every machine child
 * (running or done) in it, under the name its parent gave it; invoked calls (promise actors) have
 * no state value and are left out.
 */
export function actorTree(snapshot: unknown): InspectedActor[] {
  const actors: InspectedActor[] = [];
  const visit = (snap: PersistedActor, path: string, id: string, parent: string | null, machine: string): void => {
    actors.push({ path, id, parent, machine, value: snap.value, status: snap.status ?? 'active', active: activeNodeIds(machine, snap.value) });
    for (const [childId, child] of Object.entries(snap.children ?? {})) {
      if (!child?.snapshot || !('value' in child.snapshot) || typeof child.src !== 'string') continue;
      visit(child.snapshot, path === ROOT ? childId : `${path}/${childId}`, childId, path, child.src);
    }
  };
  visit((snapshot ?? {}) as PersistedActor, ROOT, ROOT, null, ROOT);
  return actors;
}

/**
 * Places each journal entry on its actor. The journal names an actor by its own id, which is
 * unique among the transaction's children but not among grandchildren (every refund has an
 * `rleg-1`): an ambiguous id is given, at each `xstate.init`, to the first of its actors in the
 * tree (refunds in the order they were made) that has not started yet, and its later entries go
 * to that actor. Only two refunds of one transaction running at the same time, each with a leg
 * of the same number, could have their entries mixed up.
 */
export function placeJournal(journal: StoredJournalEntry[], actors: InspectedActor[]): InspectedEntry[] {
  const byId = new Map<string, InspectedActor[]>();
  for (const a of actors) byId.set(a.id, [...(byId.get(a.id) ?? []), a]);
  const started = new Set<string>();
  const current = new Map<string, InspectedActor>();
  return journal.map((entry) => {
    const candidates = byId.get(entry.actor) ?? [];
    let actor = current.get(entry.actor);
    if (entry.event === 'xstate.init' || !actor) {
      actor = candidates.find((a) => !started.has(a.path)) ?? candidates.at(-1);
      if (actor) {
        started.add(actor.path);
        current.set(entry.actor, actor);
      }
    }
    return {
      ...entry,
      path: actor?.path ?? entry.actor,
      machine: actor?.machine ?? null,
      toActive: actor ? activeNodeIds(actor.machine, entry.to) : [],
    };
  });
}
