import { setup } from 'xstate';
import { calls } from '../calls.ts';
import { latePaymentMachine } from '../late-payment.machine.ts';
import { paymentLegMachine } from '../payment-leg.machine.ts';
import { refundLegMachine } from '../refund-leg.machine.ts';
import { refundMachine } from '../refund.machine.ts';
import type { TxnContext, TxnEmitted, TxnEvent, TxnInput } from '../types.ts';

/**
 * The transaction machine's types and the actors it spawns and invokes (children by name, so they
 * are persisted: DESIGN.md rule 4); its guards and actions are written against this
 * (machines/transaction/guards.ts, actions.ts) and the statechart itself in
 * machines/transaction.machine.ts.
 */
export const transactionSetup = setup({
  types: {
    context: {} as TxnContext,
    input: {} as TxnInput,
    events: {} as TxnEvent,
    emitted: {} as TxnEmitted,
  },
  actors: {
    paymentLeg: paymentLegMachine,
    latePayment: latePaymentMachine,
    refund: refundMachine,
    refundLeg: refundLegMachine,
    creditCard: calls.creditCard,
    createOrder: calls.createOrder,
    cancelOrder: calls.cancelOrder,
    markOrderPaid: calls.markOrderPaid,
    lockHold: calls.lockHold,
    confirmHold: calls.confirmHold,
    releaseHold: calls.releaseHold,
  },
});
