import type { Combo, Discount, QuoteLine } from '../domain/pricing/types.ts';
import { importedNumbers, type CheckedOsOrder } from '../domain/os-order-record.ts';
import { MACHINE_VERSIONS } from '../machines/versions.ts';
import { ASYNC_METHODS, OS_TERMINAL_SCENE, type LegView, type RefundView, type TxnContext } from '../machines/types.ts';
import type { AsyncChannel } from '../systems/payment-gateway/port.ts';
import type { HistoricPayment } from '../systems/payment-gateway/simulator.ts';
import type { ArchiveEntry, StoredJournalEntry, TransactionRecord } from '../storage/types.ts';
import { orderRowOf } from './order-row.ts';

/** The journal event that opens an imported transaction's journal (its data names the OS order). */
export const IMPORTED_EVENT = 'IMPORTED';

const COMBO_ID = 'c-os';

/** The prefix of the refund numbers of an imported order's refunds made at OS (its history). */
const historyRefundPrefix = (txnNo: string) => `R${txnNo.slice(1)}-H`;

/**
 * Whether a refund of an imported order was made at OS (taken from its history, numbered by
 * {@link importedRefundNo}), not here: a refund made here through the API has the platform's own
 * refund number.
 */
export function isHistoryRefund(txnNo: string, refundNo: string): boolean {
  return refundNo.startsWith(historyRefundPrefix(txnNo));
}

/** Spreads `amount` over lines in proportion to their amounts, largest remainder, to the fen. */
function spread(amount: number, lines: readonly { lineNo: number; amount: number }[]): Record<number, number> {
  const total = lines.reduce((a, l) => a + l.amount, 0);
  const out: Record<number, number> = {};
  if (total === 0) {
    if (lines[0]) out[lines[0].lineNo] = amount;
    return out;
  }
  const exact = lines.map((l) => ({ lineNo: l.lineNo, raw: (amount * l.amount) / total }));
  let given = 0;
  for (const e of exact) given += out[e.lineNo] = Math.floor(e.raw);
  const order = [...exact].sort((a, b) => b.raw - Math.floor(b.raw) - (a.raw - Math.floor(a.raw)) || a.lineNo - b.lineNo);
  for (let i = 0; given < amount; i++, given++) {
    const lineNo = order[i % order.length]!.lineNo;
    out[lineNo] = (out[lineNo] ?? 0) + 1;
  }
  return out;
}

/** The payment number of an imported order's leg `payNo`: the gateway's merchant order number, as for a leg paid here. */
export function importedPaymentNo(txnNo: string, payNo: number): string {
  return `${txnNo}-P${payNo}`;
}

/** The refund number of OS's `index`-th refund (from 0) of an imported order (its history). */
function importedRefundNo(txnNo: string, index: number): string {
  return `${historyRefundPrefix(txnNo)}${index + 1}`;
}

function isChannel(method: string): method is AsyncChannel {
  return (ASYNC_METHODS as readonly string[]).includes(method);
}

/**
 * The channel payments of one checked OS order as the payment gateway must know them to refund
 * them (issue 20): under the imported legs' payment numbers, with the channel transaction id the
 * history recorded and OS's refunds of each (under the refund-leg numbers the archive entry gives
 * them). Pure; the simulator admits them with `admitHistoricPayments`. A channel payment the
 * history gives no transaction id is left out: the gateway does not know it, and a refund of it
 * waits for a person.
 */
export function historicPaymentsOf(checked: CheckedOsOrder, merchantId: string): HistoricPayment[] {
  const { record, createdAtMs, paidAtMs, methods, refundedAtMs } = checked;
  const { txnNo } = importedNumbers(record.stationId, record.osOrderNo, createdAtMs);
  const out: HistoricPayment[] = [];
  record.payments.forEach((p, i) => {
    const method = methods[i] ?? 'cash';
    if (!isChannel(method) || !p.channelTradeNo) return;
    const refunds = record.refunds.flatMap((r, k) =>
      r.payments.flatMap((rp, j) =>
        rp.payNo === p.payNo && rp.amountFen > 0
          ? [{ refundNo: `${importedRefundNo(txnNo, k)}-${j + 1}`, amountFen: rp.amountFen, refundedAt: new Date(refundedAtMs[k] ?? paidAtMs).toISOString() }]
          : [],
      ),
    );
    out.push({ paymentNo: importedPaymentNo(txnNo, p.payNo), txnNo, merchantId, channel: method, amountFen: p.amountFen, channelTradeNo: p.channelTradeNo, paidAt: new Date(paidAtMs).toISOString(), refunds });
  });
  return out;
}

/**
 * The archive entry of one checked OS order (issue 20, history import), pure: a completed
 * transaction of the current machine version that the refund path rehydrates like any archived
 * sale, its numbers derived from (station, OS order number), its journal an `IMPORTED` entry
 * followed by the captures and the refunds OS made, and its flat row derived from both by the
 * same {@link orderRowOf} the archiver uses (so a refund here, archived again, keeps the origin).
 */
export function osOrderEntry(checked: CheckedOsOrder, merchantId: string): ArchiveEntry {
  const { record, createdAtMs, paidAtMs, methods, refundedAtMs } = checked;
  const { txnNo, orderNo, quoteId } = importedNumbers(record.stationId, record.osOrderNo, createdAtMs);
  const createdAt = new Date(createdAtMs).toISOString();
  const paidAt = new Date(paidAtMs).toISOString();
  const lines: QuoteLine[] = record.items.map((item, i) =>
    item.type === 'fuel'
      ? { lineNo: i + 1, type: 'fuel', nozzleNo: item.nozzleNo ?? 1, grade: item.grade ?? item.name, unitPrice: item.unitPriceFen, volumeMl: item.quantity, amount: item.amountFen }
      : { lineNo: i + 1, type: 'goods', sku: item.sku ?? item.name, name: item.name, category: 'os', unitPrice: item.unitPriceFen, quantity: item.quantity, amount: item.amountFen },
  );
  const originalAmount = lines.reduce((a, l) => a + l.amount, 0);
  // OS gives discounts per order: spread over the lines, so a refund by lines has a net per line.
  const discounts: Discount[] = record.discounts.map((d, i) => ({ kind: 'promotion', id: `os-${d.kind}-${i + 1}`, name: d.name, amount: d.amountFen, byLine: spread(d.amountFen, lines) }));
  const discountAmount = discounts.reduce((a, d) => a + d.amount, 0);
  const lineNets: Record<number, number> = {};
  for (const l of lines) lineNets[l.lineNo] = l.amount - discounts.reduce((a, d) => a + (d.byLine[l.lineNo] ?? 0), 0);
  const combo: Combo = { comboId: COMBO_ID, paymentMethod: null, discounts, couponIds: [], points: 0, discountAmount, payableAmount: originalAmount - discountAmount, lineNets, topUpBonuses: [] };

  const legs: LegView[] = record.payments.map((p, i) => ({
    legNo: p.payNo,
    attempt: 1,
    legId: `leg-${p.payNo}`,
    paymentNo: importedPaymentNo(txnNo, p.payNo),
    method: methods[i] ?? 'cash',
    amount: p.amountFen,
    ...(p.cardNo ? { cardNo: p.cardNo } : {}),
    status: 'succeeded',
    started: true,
    ...(p.channelTradeNo ? { channelTradeNo: p.channelTradeNo } : {}),
  }));
  const refunds: RefundView[] = record.refunds.map((r, i) => {
    const refundNo = importedRefundNo(txnNo, i);
    return {
      refundNo,
      amount: r.payments.reduce((a, p) => a + p.amountFen, 0),
      reason: `refunded at OS (${r.osRefundNo})`,
      status: 'succeeded',
      requestedAt: new Date(refundedAtMs[i] ?? paidAtMs).toISOString(),
      legs: r.payments.map((p, j) => ({ legNo: p.payNo, refundLegNo: `${refundNo}-${j + 1}`, method: methods[p.payNo - 1] ?? 'cash', amount: p.amountFen, status: 'succeeded' })),
      lines: [],
      pointsReturned: 0,
      couponsRestored: [],
      couponsExpired: [],
      topUpDebitFen: 0,
      topUpDebits: [],
      reversals: [],
    };
  });

  const context: TxnContext = {
    txnNo,
    scene: OS_TERMINAL_SCENE,
    merchantId,
    stationId: record.stationId,
    userId: record.member?.userId ?? '',
    quote: { quoteId, quotedAt: createdAt, expiresAt: createdAt, degraded: [], lines, originalAmount, combos: [combo], bestComboId: COMBO_ID },
    paymentTtlMs: 0,
    queryAfterMs: 30_000,
    refundPolicy: { kind: 'proportional' },
    createdAt,
    quoteIds: [quoteId],
    order: { orderNo, quoteId, comboId: COMBO_ID, deductionMode: 'pre', payableAmount: combo.payableAmount, discountAmount, orderedAt: createdAt },
    holds: [],
    needsReview: false,
    unwindTo: null,
    expiresAt: null,
    legs,
    timers: {},
    pendingRequestId: null,
    reply: null,
    outcome: null,
    attempts: {},
    paidAt,
    lateLegs: [],
    confirmFailed: false,
    topUps: [],
    refunds,
    needsAttention: false,
    // Post-payment work (points, settlement, invoice, …) happened at OS: nothing to run or reverse here.
    taskNames: [],
    deadTasks: [],
    redrives: {},
  };
  const finalAt = Math.max(paidAtMs, ...refundedAtMs);
  const snapshot = { status: 'active', value: 'completed', historyValue: {}, context, children: {}, machineVersion: MACHINE_VERSIONS.transaction.version };
  const recordOut: TransactionRecord = {
    txnNo,
    version: 1,
    merchantId,
    stationId: record.stationId,
    orderNo,
    state: 'completed',
    stateValue: 'completed',
    snapshot,
    atRest: true,
    working: false,
    needsAttention: false,
    timers: {},
    finalAt,
    createdAt: createdAtMs,
    updatedAt: finalAt,
  };
  const journal: StoredJournalEntry[] = [
    {
      seq: 1,
      at: createdAtMs,
      actor: 'transaction',
      event: IMPORTED_EVENT,
      data: { origin: 'os-import', stationId: record.stationId, osOrderNo: record.osOrderNo, terminalId: record.terminalId, shiftNo: record.shiftNo, member: record.member, contentHash: checked.contentHash },
      from: null,
      to: 'completed',
    },
    ...legs.map((l) => ({ at: paidAtMs, actor: 'transaction', event: 'LEG_SUCCEEDED', data: { legId: l.legId, channelTradeNo: l.channelTradeNo ?? null }, from: 'completed', to: 'completed' })),
    ...refunds.flatMap((r, i) => r.legs.map((l) => ({ at: refundedAtMs[i] ?? paidAtMs, actor: 'transaction', event: 'RLEG_DONE', data: { legNo: l.legNo, refundLegNo: l.refundLegNo, status: 'succeeded' }, from: 'completed', to: 'completed' }))),
  ].map((j, i) => ({ ...j, seq: i + 1 }));
  const row = orderRowOf(recordOut, journal);
  if (!row) throw new Error(`imported order ${txnNo} is not final`);
  return { row, record: recordOut, journal, tasks: [] };
}
