import { childTimer } from '../durable-timers.ts';
import { planRefund } from '../refund-plan.ts';
import { combo, currentLegs, ENDED, newestLocked, nextLocked, nextPending, QUERY_TIMER, type Done, type TxnArgs } from './context.ts';

/** The transaction machine's guards, named for what they mean (STYLE.md). */
export const transactionGuards = {
  quoteNotOfThisTransaction: ({ context, event }: TxnArgs) => event.type === 'ORDER' && !context.quoteIds.includes(event.quoteId),
  quoteSuperseded: ({ context, event }: TxnArgs) => event.type === 'ORDER' && event.quoteId !== context.quote.quoteId,
  quoteExpired: ({ context, event }: TxnArgs) => event.type === 'ORDER' && event.at >= Date.parse(context.quote.expiresAt),
  comboNotInQuote: ({ context, event }: TxnArgs) => event.type === 'ORDER' && !combo(context, event.comboId),
  // The expiry timer may not have fired yet (it is polled): the deadline is the order's, not the timer's.
  paymentDeadlinePassed: ({ context, event }: TxnArgs) => event.type === 'PAY' && context.expiresAt !== null && event.at >= Date.parse(context.expiresAt),
  legsDoNotAddUp: ({ context, event }: TxnArgs) =>
    event.type === 'PAY' && event.legs.reduce((a, l) => a + l.amount, 0) !== context.order?.payableAmount,
  legMethodNotInCombo: ({ context, event }: TxnArgs) => {
    if (event.type !== 'PAY' || !context.order) return false;
    const allowed = combo(context, context.order.comboId)?.allowedMethods;
    return allowed !== undefined && event.legs.some((l) => !allowed.includes(l.method));
  },
  // One card per payment: a second card would need a stored-value refund to undo a confirm.
  moreThanOneCard: ({ event }: TxnArgs) => event.type === 'PAY' && event.legs.filter((l) => l.method === 'stored_value').length > 1,
  cardLegWithoutCard: ({ event }: TxnArgs) => event.type === 'PAY' && event.legs.some((l) => (l.method === 'stored_value') !== (l.cardNo !== undefined)),
  // DOMAIN.md: a top-up cannot be paid with stored value (the quote offers no such combination,
  // but the legs are the channel's: a card paying its own top-up would mint the bonus).
  cardPaysForTopUp: ({ context, event }: TxnArgs) =>
    event.type === 'PAY' && event.legs.some((l) => l.method === 'stored_value') && context.quote.lines.some((l) => l.type === 'stored_value'),
  isQueryTimer: ({ event }: TxnArgs) => event.type === 'TIMER' && event.name.startsWith(QUERY_TIMER),
  anyLegEndedUnpaid: ({ context }: TxnArgs) => currentLegs(context).some((l) => l.status === 'failed' || l.status === 'closed'),
  legsStillOpen: ({ context }: TxnArgs) => currentLegs(context).some((l) => !ENDED.includes(l.status)),
  unwindingDecided: ({ context }: TxnArgs) => context.unwindTo !== null,
  moneyMovedOrConfirmFailed: ({ context }: TxnArgs) => currentLegs(context).some((l) => l.status === 'succeeded') || context.confirmFailed,
  topUpToCredit: ({ context }: TxnArgs) => context.topUps.some((t) => t.status === 'pending'),
  refundRefused: ({ context, event }: TxnArgs) => event.type === 'REFUND' && !planRefund(context, event).ok,
  isChildTimer: ({ event }: TxnArgs) => childTimer(event) !== null,
  isTimer: ({ event }: TxnArgs, params: { name: string }) => event.type === 'TIMER' && event.name === params.name,
  allLegsSucceeded: ({ context }: TxnArgs) => currentLegs(context).every((l) => l.status === 'succeeded'),
  holdToLockBeforeOrder: ({ context }: TxnArgs) => context.order?.deductionMode === 'pre' && nextPending(context) !== undefined,
  holdToTakeAfterPayment: ({ context }: TxnArgs) => nextPending(context) !== undefined,
  holdToConfirm: ({ context }: TxnArgs) => nextLocked(context) !== undefined,
  holdToRelease: ({ context }: TxnArgs) => newestLocked(context) !== undefined,
  unwindingToQuoted: ({ context }: TxnArgs) => context.unwindTo === 'quoted',
  unwindingToCancelled: ({ context }: TxnArgs) => context.unwindTo === 'cancelled',
  succeeded: (_: TxnArgs, params: Done<unknown>) => params.output.ok,
  unavailable: (_: TxnArgs, params: Done<unknown>) => !params.output.ok && params.output.code === 'UNAVAILABLE',
  refusedBecause: (_: TxnArgs, params: Done<unknown> & { code: string }) => !params.output.ok && params.output.code === params.code,
};
