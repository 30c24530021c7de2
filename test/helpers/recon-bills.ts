import type Database from 'better-sqlite3';
import type { BillChannel, BillRow } from '../../domain/reconciliation/bill-row.ts';
import { chinaDayWindow } from '../../domain/reconciliation/match.ts';
import type { BillSource } from '../../runtime/reconciler.ts';

/** The fee rate the test bills charge: 0.6 % of the amount, rounded; refunds give it back. */
export function testFee(row: Pick<BillRow, 'kind' | 'amountFen'>): number {
  const fee = Math.round(row.amountFen * 0.006);
  return row.kind === 'payment' ? fee : -fee;
}

type PaymentSql = { payment_no: string; merchant_id: string; amount_fen: number; status: string; channel_trade_no: string | null; paid_at: string };
type RefundSql = PaymentSql & { refund_no: string; r_amount: number; r_status: string; channel_refund_no: string; refunded_at: string };

/**
 * A channel day's bill as the gateway simulator's own records have it (until the bill parsers of
 * issue 19 part A are plugged in): its payments paid and refunds settled within the China-time
 * day, at the times the channel stamped them.
 */
export function* billRowsFromGateway(db: Database.Database, channel: BillChannel, day: string): Generator<BillRow> {
  const { fromMs, toMs } = chinaDayWindow(day);
  const from = new Date(fromMs).toISOString();
  const to = new Date(toMs).toISOString();
  let line = 1;
  const payments = db.prepare<[string, string, string], PaymentSql>(
    "SELECT * FROM payments WHERE channel = ? AND status = 'succeeded' AND paid_at >= ? AND paid_at < ? ORDER BY paid_at, payment_no").all(channel, from, to);
  for (const p of payments) {
    line += 1;
    const row: BillRow = {
      channel, kind: 'payment', merchantRef: p.payment_no, paymentNo: p.payment_no, channelRef: p.channel_trade_no ?? '', channelTradeNo: p.channel_trade_no ?? '',
      merchantId: p.merchant_id, status: 'succeeded', amountFen: p.amount_fen, feeFen: 0, at: p.paid_at, line,
    };
    yield { ...row, feeFen: testFee(row) };
  }
  const refunds = db.prepare<[string, string, string], RefundSql>(
    `SELECT p.*, r.refund_no, r.amount_fen AS r_amount, r.status AS r_status, r.channel_refund_no, r.refunded_at
     FROM refunds r JOIN payments p ON p.payment_no = r.payment_no
     WHERE p.channel = ? AND r.status = 'succeeded' AND r.refunded_at >= ? AND r.refunded_at < ? ORDER BY r.refunded_at, r.refund_no`).all(channel, from, to);
  for (const r of refunds) {
    line += 1;
    const row: BillRow = {
      channel, kind: 'refund', merchantRef: r.refund_no, paymentNo: r.payment_no, channelRef: r.channel_refund_no, channelTradeNo: r.channel_trade_no ?? '',
      merchantId: r.merchant_id, status: 'succeeded', amountFen: r.r_amount, feeFen: 0, at: r.refunded_at, line,
    };
    yield { ...row, feeFen: testFee(row) };
  }
}

/** A {@link BillSource} over the simulator's records, each day's rows passed through `tamper` (planting discrepancies). */
export function gatewayBills(db: Database.Database, tamper: (rows: BillRow[], channel: BillChannel, day: string) => BillRow[] = (rows) => rows): BillSource {
  return {
    async *rows(channel, day) {
      yield* tamper([...billRowsFromGateway(db, channel, day)], channel, day);
    },
  };
}
