import { createHash } from 'node:crypto';
import { createActor, type AnyStateMachine, type AnyStateNode } from 'xstate';
import type { LatePaymentInput } from './late-payment.machine.ts';
import type { LegInput } from './payment-leg.machine.ts';
import type { RefundLegInput } from './refund-leg.machine.ts';
import type { RefundInput } from './refund.machine.ts';
import type { MachineId } from './registry.ts';
import type { TxnInput } from './types.ts';

/**
 * What a stored snapshot of a machine depends on: its state nodes (id, type, initial child, tags,
 * invoked actors and their ids, which name running calls in a snapshot), the events it takes,
 * the keys of its context and the child machines it can spawn. Guards, actions and targets may
 * change freely: a stored snapshot does not name them.
 */
export interface MachineShape {
  states: string[];
  events: string[];
  contextKeys: string[];
  children: string[];
}

const TXN_INPUT: TxnInput = {
  txnNo: 'T',
  scene: 'merchant_pos',
  merchantId: 'M',
  stationId: 'S',
  userId: 'U',
  quote: { quoteId: 'Q', quotedAt: '', expiresAt: '', degraded: [], lines: [], originalAmount: 0, combos: [], bestComboId: '' },
  paymentTtlMs: 1,
  queryAfterMs: 1,
  refundPolicy: { kind: 'proportional' },
  createdAt: '',
};
const LEG_INPUT: LegInput = { txnNo: 'T', legId: 'leg-1', paymentNo: 'T-P1', merchantId: 'M', method: 'wechat', amountFen: 1, cardNo: 'C', expiresAt: '' };
const REFUND_LEG_INPUT: RefundLegInput = { txnNo: 'T', refundLegNo: 'R-1', legNo: 1, method: 'wechat', paymentNo: 'T-P1', cardNo: 'C', amountFen: 1, queryAfterMs: 1, round: 1 };
const REFUND_INPUT: RefundInput = { txnNo: 'T', refundNo: 'R', userId: 'U', legs: [], topUpDebits: [], pointsToReturn: 0, couponsToRestore: [], queryAfterMs: 1 };
const LATE_INPUT: LatePaymentInput = { txnNo: 'T', legId: 'leg-1', paymentNo: 'T-P1', merchantId: 'M', amountFen: 1, queryAfterMs: 1 };

/** An input of each machine with every optional field present, so its context shows every key it can start with. */
export const SAMPLE_INPUTS: Record<MachineId, unknown> = {
  transaction: TXN_INPUT,
  paymentLeg: LEG_INPUT,
  refundLeg: REFUND_LEG_INPUT,
  refund: REFUND_INPUT,
  latePayment: LATE_INPUT,
};

/** The shape of `machine` (see {@link MachineShape}); `sampleInput` starts it to read its context's keys. */
export function machineShape(machine: AnyStateMachine, sampleInput: unknown): MachineShape {
  const states: string[] = [];
  const events = new Set<string>();
  const visit = (node: AnyStateNode): void => {
    const invokes = node.invoke.map((i) => `${i.id}=${typeof i.src === 'string' ? i.src : 'inline'}`).sort();
    const initial = node.initial?.target?.map((t: AnyStateNode) => t.key).join(',') ?? '';
    states.push([node.id, node.type, initial, [...node.tags].sort().join(','), invokes.join(',')].join(' | '));
    for (const event of node.ownEvents) events.add(event);
    for (const child of Object.values(node.states) as AnyStateNode[]) visit(child);
  };
  visit(machine.root);
  // Not started: nothing is spawned or invoked, the initial context is only computed.
  const context = createActor(machine, { input: sampleInput }).getSnapshot().context as Record<string, unknown>;
  const actors = (machine.implementations.actors ?? {}) as Record<string, unknown>;
  const children = Object.entries(actors).map(([name, logic]) => `${name}=${isMachine(logic) ? `machine:${logic.id}` : 'call'}`);
  return { states: states.sort(), events: [...events].sort(), contextKeys: Object.keys(context).sort(), children: children.sort() };
}

function isMachine(logic: unknown): logic is AnyStateMachine {
  return typeof logic === 'object' && logic !== null && 'root' in logic && 'id' in logic;
}

/** A short stable hash of a shape: what machines/versions.ts commits next to each version. */
export function shapeHash(shape: MachineShape): string {
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 16);
}
