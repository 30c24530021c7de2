import type { AnyStateMachine } from 'xstate';
import { latePaymentMachine } from '../../machines/late-payment.machine.ts';
import { paymentLegMachine } from '../../machines/payment-leg.machine.ts';
import { refundLegMachine } from '../../machines/refund-leg.machine.ts';
import { refundMachine } from '../../machines/refund.machine.ts';
import { transactionMachine } from '../../machines/transaction.machine.ts';

/**
 * Every machine of a transaction's actor tree, by the name a parent spawns it under (which is also
 * its machine id): the inspector draws an actor with the statechart of this name.
 */
export const INSPECTED_MACHINES: Record<string, AnyStateMachine> = Object.fromEntries(
  [transactionMachine, paymentLegMachine, refundMachine, refundLegMachine, latePaymentMachine].map((m) => [m.id, m]),
);
