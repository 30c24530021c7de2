import { readFileSync } from 'node:fs';
import type { MachineShape } from '../machines/machine-shape.ts';
import type { ActorKind } from '../machines/registry.ts';

/** Where each version's committed shape lives: `machines/shapes/<kind>.v<N>.json`. */
export function shapeFile(kind: ActorKind, version: number): string {
  return new URL(`../machines/shapes/${kind}.v${version}.json`, import.meta.url).pathname;
}

/** The shape committed for a machine's version, or null when none was. */
export function committedShape(kind: ActorKind, version: number): MachineShape | null {
  try {
    return JSON.parse(readFileSync(shapeFile(kind, version), 'utf8')) as MachineShape;
  } catch {
    return null;
  }
}
