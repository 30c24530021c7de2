import type { ArchiveEntry, OrderLeg, OrderRefund, OrderRow, StoredJournalEntry, TaskRecord, TransactionRecord } from '../../../storage/types.ts';
import { T0 } from './helpers.ts';

/** Methods the fixtures pay with. */
export const METHODS = ['wechat', 'alipay', 'unionpay', 'stored_value'] as const;

export function leg(legNo: number, over: Partial<OrderLeg> = {}): OrderLeg {
  return {
    legNo,
    paymentNo: `P-${legNo}`,
    method: 'wechat',
    amountFen: 1000,
    status: 'succeeded',
    channelTradeNo: `CH-${legNo}`,
    cardNo: null,
    capturedAt: T0 + 1000,
    ...over,
  };
}

export function orderRow(txnNo: string, over: Partial<OrderRow> = {}): OrderRow {
  const legs = over.legs ?? [leg(1, { paymentNo: `${txnNo}-P1`, channelTradeNo: `${txnNo}-CH1` })];
  const paid = legs.filter((l) => l.capturedAt !== null).reduce((s, l) => s + l.amountFen, 0);
  return {
    txnNo,
    orderNo: `O-${txnNo}`,
    origin: 'platform',
    osOrderNo: null,
    merchantId: 'M1',
    stationId: 'S1',
    scene: 'merchant_pos',
    userId: 'U1',
    state: 'completed',
    originalAmountFen: paid + 200,
    discountAmountFen: 200,
    payableAmountFen: paid,
    paidAmountFen: paid,
    refundedAmountFen: 0,
    legs,
    refunds: [],
    createdAt: T0,
    paidAt: T0 + 1000,
    finishedAt: T0 + 2000,
    ...over,
  };
}

/** An archive entry of `row` at record `version`, with a journal of two transitions. */
export function archiveEntry(row: OrderRow, version = 5): ArchiveEntry {
  const record: TransactionRecord = {
    txnNo: row.txnNo,
    version,
    merchantId: row.merchantId,
    stationId: row.stationId,
    orderNo: row.orderNo,
    state: row.state,
    stateValue: row.state,
    // Opaque to the archive: kept, never read (DESIGN.md rule 9).
    snapshot: { status: 'done', value: row.state, context: { txnNo: row.txnNo, note: 'opaque', nested: [1, { a: 'b' }] } },
    atRest: true,
    working: false,
    needsAttention: false,
    timers: {},
    finalAt: row.finishedAt,
    createdAt: row.createdAt,
    updatedAt: row.finishedAt,
  };
  const journal: StoredJournalEntry[] = [
    { seq: 10, at: row.createdAt, actor: 'transaction', event: 'xstate.init', data: {}, from: null, to: 'quoted' },
    { seq: 11 + version, at: row.finishedAt, actor: 'leg-1', event: 'CAPTURED', data: { amountFen: row.paidAmountFen }, from: { paying: 'x' }, to: row.state },
  ];
  const tasks: TaskRecord[] = [
    { txnNo: row.txnNo, task: 'campaign', kind: 'campaign', system: 'campaign', core: false, maxAttempts: 5, payload: { n: 1 }, status: 'done', attempts: 1, lastError: null, nextRunAt: null, refusals: 0, result: { couponIds: ['CP1'] }, updatedAt: row.finishedAt },
  ];
  return { row, record, journal, tasks };
}

/** A small deterministic generator (mulberry32): fixtures and benchmarks repeat across runs. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * A varied order, numbered `i`: one to three legs of random methods (some never captured),
 * refunds of some captured legs (some not yet accepted), created within `spanMs` after `startMs`.
 */
export function randomOrderRow(random: () => number, i: number, startMs = T0, spanMs = 90 * 86_400_000): OrderRow {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const txnNo = `TX${String(i).padStart(9, '0')}`;
  const createdAt = startMs + Math.floor(random() * spanMs);
  const state = pick(['completed', 'completed', 'completed', 'cancelled', 'failed'] as const);
  const legs: OrderLeg[] = [];
  const legCount = 1 + Math.floor(random() * 3);
  for (let n = 1; n <= legCount; n++) {
    const captured = state === 'completed' || random() < 0.2;
    legs.push({
      legNo: n,
      paymentNo: `${txnNo}-P${n}`,
      method: pick(METHODS),
      amountFen: 1 + Math.floor(random() * 50_000),
      status: captured ? 'succeeded' : 'closed',
      channelTradeNo: captured ? `CH${txnNo}${n}` : null,
      cardNo: null,
      capturedAt: captured ? createdAt + 1000 + n : null,
    });
  }
  const refunds: OrderRefund[] = [];
  for (const l of legs) {
    if (l.capturedAt === null || random() > 0.3) continue;
    const accepted = random() < 0.8;
    const amountFen = 1 + Math.floor(random() * l.amountFen);
    const requestedAt = createdAt + 3_600_000 + Math.floor(random() * 30 * 86_400_000);
    refunds.push({
      refundNo: `${txnNo}-R${refunds.length + 1}`,
      amountFen,
      status: accepted ? 'succeeded' : 'pending',
      requestedAt,
      legs: [{ refundLegNo: `${txnNo}-R${refunds.length + 1}-1`, paymentNo: l.paymentNo, method: l.method, amountFen, status: accepted ? 'succeeded' : 'pending', refundedAt: accepted ? requestedAt + 500 : null }],
    });
  }
  const paid = legs.filter((l) => l.capturedAt !== null).reduce((s, l) => s + l.amountFen, 0);
  const payable = legs.reduce((s, l) => s + l.amountFen, 0);
  const discount = Math.floor(random() * 500);
  const origin = random() < 0.2 ? 'os-import' : 'platform';
  return {
    txnNo,
    orderNo: origin === 'platform' ? `O${txnNo}` : null,
    origin,
    osOrderNo: origin === 'os-import' || random() < 0.5 ? `OS${i}` : null,
    merchantId: pick(['M1', 'M2', 'M3']),
    stationId: pick(['S1', 'S2', 'S3', 'S4']),
    scene: pick(['merchant_pos', 'self_service', 'senseless']),
    userId: random() < 0.9 ? `U${Math.floor(random() * 100)}` : null,
    state,
    originalAmountFen: payable + discount,
    discountAmountFen: discount,
    payableAmountFen: payable,
    paidAmountFen: paid,
    refundedAmountFen: refunds.filter((r) => r.status === 'succeeded').reduce((s, r) => s + r.amountFen, 0),
    legs,
    refunds,
    createdAt,
    paidAt: paid ? createdAt + 1000 : null,
    finishedAt: createdAt + 2000,
  };
}
