import { isImported } from '../machines/post-payment-tasks.ts';
import { capturedLegs, type TxnContext } from '../machines/types.ts';
import type { OsEventSpec } from '../storage/types.ts';
import { isHistoryRefund } from './os-order-entry.ts';

/**
 * The OS order events a transaction has given rise to so far (issue 20, "OS order sync"),
 * derived by the host into the save record (DESIGN.md rule 9) the way tasks are: placed once it
 * has an order (once `ordered`, not while ordering), paid once paid, cancelled once it ended
 * without payment, refunded per refund that succeeded. Each has an id for ever, so every save may list them all; the store keeps the
 * first listing and numbers it. Amounts are integer fen.
 *
 * An order imported from OS's own history (scene `os_terminal`, runtime/os-order-entry.ts) was
 * placed, paid and maybe partly refunded at OS: only the refunds made here are news to OS.
 */
export function osEventsOf(c: TxnContext, state: string): OsEventSpec[] {
  const order = c.order;
  if (!order) return [];
  // While ordering, the order number is ours but the order may not exist yet (pre mode locks the
  // coupons first), and a refusal unwinds to quoted and forgets it: OS must never hear of it (seed
  // 30001 of the simulation: OS held a placed order that nothing cancelled). Unwinding lists
  // nothing either; what it unwinds from listed its events already, and the store keeps them.
  if (state === 'ordering' || state === 'unwinding') return [];
  const { orderNo } = order;
  const imported = isImported(c);
  const events: OsEventSpec[] = [];
  if (!imported) {
    events.push({
      eventId: `${orderNo}:placed`,
      orderNo,
      kind: 'placed',
      payload: { payableFen: order.payableAmount, discountFen: order.discountAmount, orderedAt: order.orderedAt, lines: c.quote.lines },
    });
    if (c.paidAt !== null) {
      const paid = capturedLegs(c.legs);
      events.push({
        eventId: `${orderNo}:paid`,
        orderNo,
        kind: 'paid',
        payload: { amountFen: paid.reduce((a, l) => a + l.amount, 0), paidAt: c.paidAt, legs: paid.map((l) => ({ method: l.method, amountFen: l.amount })) },
      });
    } else if (state === 'cancelled' || state === 'failed') {
      events.push({ eventId: `${orderNo}:cancelled`, orderNo, kind: 'cancelled', payload: { state, outcome: c.outcome } });
    }
  }
  for (const r of c.refunds) {
    if (r.status !== 'succeeded' || (imported && isHistoryRefund(c.txnNo, r.refundNo))) continue;
    events.push({ eventId: `${orderNo}:refunded:${r.refundNo}`, orderNo, kind: 'refunded', payload: { refundNo: r.refundNo, amountFen: r.amount, lines: r.lines } });
  }
  return events;
}
