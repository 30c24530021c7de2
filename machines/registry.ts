import type { AnyStateMachine } from 'xstate';
import { latePaymentMachine } from './late-payment.machine.ts';
import { paymentLegMachine } from './payment-leg.machine.ts';
import { refundLegMachine } from './refund-leg.machine.ts';
import { refundMachine } from './refund.machine.ts';
import { transactionMachine } from './transaction.machine.ts';

/** The machines of a transaction's actor tree, by machine id (which is also the name a parent spawns it under). */
export type MachineId = 'transaction' | 'paymentLeg' | 'latePayment' | 'refund' | 'refundLeg';

/** A machine's kebab-case name: the CLI's, the journal reader's and the migration files' (`payment-leg-v1-to-v2.ts`). */
export type ActorKind = 'transaction' | 'payment-leg' | 'late-payment' | 'refund' | 'refund-leg';

/** One machine of the tree, written once: what the inspector, `trade viz`, the journal reader and snapshot versions read. */
export interface MachineEntry {
  id: MachineId;
  kind: ActorKind;
  machine: AnyStateMachine;
  /** Prefixes of the child actor ids its parents spawn it under (`leg-1`, `giveback-leg-1`); the root has none. */
  childIdPrefixes: readonly string[];
}

/**
 * The machine registry. Child ids are stable by kind (machines/transaction.machine.ts and
 * refund.machine.ts spawn `leg-<n>`, `late-leg-<n>`, `giveback-leg-<n>`, `redrive-<refundLegNo>`,
 * `refund-<refundNo>`, `rleg-<n>`), so an id says which machine it runs. Longer prefixes are
 * matched first (`late-leg-1` is a late-payment check, not a leg).
 */
export const MACHINES: readonly MachineEntry[] = [
  { id: 'transaction', kind: 'transaction', machine: transactionMachine, childIdPrefixes: [] },
  { id: 'paymentLeg', kind: 'payment-leg', machine: paymentLegMachine, childIdPrefixes: ['leg-'] },
  { id: 'latePayment', kind: 'late-payment', machine: latePaymentMachine, childIdPrefixes: ['late-'] },
  { id: 'refund', kind: 'refund', machine: refundMachine, childIdPrefixes: ['refund-'] },
  { id: 'refundLeg', kind: 'refund-leg', machine: refundLegMachine, childIdPrefixes: ['rleg-', 'giveback-', 'redrive-'] },
];

/** The registry entry of a machine id, or undefined for a name that is none (a promise actor's src). */
export function machineEntry(id: string): MachineEntry | undefined {
  return MACHINES.find((m) => m.id === id);
}

/** Every machine by kind. */
export const MACHINES_BY_KIND = Object.fromEntries(MACHINES.map((m) => [m.kind, m.machine])) as Record<ActorKind, AnyStateMachine>;

/** Every machine by id: the inspector draws an actor with the statechart of its machine id. */
export const MACHINES_BY_ID = Object.fromEntries(MACHINES.map((m) => [m.id, m.machine])) as Record<MachineId, AnyStateMachine>;
