import type { TxnContext } from '../machines/types.ts';
import type { JournalEntry, OrderRow, OrderState, TransactionRecord } from '../storage/types.ts';
import { apiState, buildView } from './view.ts';

/**
 * An order as `GET /admin/orders` lists it: an archived {@link OrderRow}, or the same derivation of
 * a transaction still in the hot store (any API state, not finished yet).
 */
export type OrderListing = Omit<OrderRow, 'state' | 'finishedAt'> & { state: string; finishedAt: number | null };

const FINAL_STATES: readonly string[] = ['completed', 'cancelled', 'failed'] satisfies OrderState[];

/**
 * The flat row of a transaction (DOMAIN.md "Archive"), pure: from its record (snapshot context,
 * version, finalAt) and its journal. Capture and refund times are those of the events that settled
 * them: a leg's `capturedAt` as the machine recorded it (else its LEG_SUCCEEDED in the journal), a
 * refund leg's the journal time of its RLEG_DONE reporting success.
 */
export function orderListingOf(record: TransactionRecord, journal: readonly JournalEntry[]): OrderListing {
  const snapshot = record.snapshot as { context: TxnContext; value: unknown };
  const context = snapshot.context;
  const view = buildView(context, snapshot.value, record.version, record.updatedAt);
  const captured = new Map<string, number>();
  const refunded = new Map<string, number>();
  for (const j of journal) {
    if (j.event === 'LEG_SUCCEEDED' && typeof j.data.legId === 'string' && !captured.has(j.data.legId)) captured.set(j.data.legId, j.at);
    if (j.event === 'RLEG_DONE' && j.data.status === 'succeeded' && typeof j.data.refundLegNo === 'string' && !refunded.has(j.data.refundLegNo)) refunded.set(j.data.refundLegNo, j.at);
  }
  const paymentNoOf = new Map(context.legs.map((l) => [l.legNo, l.paymentNo]));
  // An order imported from OS's history says so in its first journal entry (runtime/os-order-entry.ts).
  const imported = journal[0]?.event === 'IMPORTED' ? journal[0].data : null;
  return {
    txnNo: context.txnNo,
    orderNo: context.order?.orderNo ?? null,
    origin: imported ? 'os-import' : 'platform',
    osOrderNo: imported && typeof imported.osOrderNo === 'string' ? imported.osOrderNo : null,
    merchantId: context.merchantId,
    stationId: context.stationId,
    scene: context.scene,
    userId: context.userId || null,
    state: apiState(snapshot.value, context),
    originalAmountFen: view.originalAmount,
    discountAmountFen: view.discountAmount,
    payableAmountFen: view.payableAmount,
    paidAmountFen: view.paidAmount,
    refundedAmountFen: view.refundedAmount,
    legs: context.legs.map((l) => ({
      legNo: l.legNo,
      paymentNo: l.paymentNo,
      method: l.method,
      amountFen: l.amount,
      status: l.status,
      channelTradeNo: l.channelTradeNo ?? null,
      cardNo: l.cardNo ?? null,
      // A leg refunded later still captured its money once.
      capturedAt: l.status === 'succeeded' || l.status === 'refunded' ? (captured.get(l.legId) ?? null) : null,
    })),
    refunds: context.refunds.map((r) => ({
      refundNo: r.refundNo,
      amountFen: r.amount,
      status: r.status,
      requestedAt: Date.parse(r.requestedAt),
      legs: r.legs.map((l) => ({
        refundLegNo: l.refundLegNo,
        paymentNo: paymentNoOf.get(l.legNo) ?? '',
        method: l.method,
        amountFen: l.amount,
        status: l.status,
        // A cash refund to pay out at the station counts from when it was recorded.
        refundedAt: l.status === 'succeeded' || l.status === 'to_pay_at_station' ? (refunded.get(l.refundLegNo) ?? null) : null,
      })),
    })),
    createdAt: Date.parse(context.createdAt),
    paidAt: context.paidAt ? Date.parse(context.paidAt) : null,
    finishedAt: record.finalAt,
  };
}

/** The archive's row of a final transaction; null when the record is not final (nothing to archive). */
export function orderRowOf(record: TransactionRecord, journal: readonly JournalEntry[]): OrderRow | null {
  const listing = orderListingOf(record, journal);
  const { state, finishedAt } = listing;
  if (finishedAt === null || !FINAL_STATES.includes(state)) return null;
  return { ...listing, state: state as OrderState, finishedAt };
}
