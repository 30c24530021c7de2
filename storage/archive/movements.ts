import type { OrderMovement } from '../types.ts';

/**
 * Merges two streams each ordered by `at` into one ordered by `at` (payments before refunds at the
 * same instant): the archive backends page payment legs and refund legs separately, each along
 * its own index, and hand reconciliation one stream.
 */
export async function* mergeByAt(payments: AsyncIterable<OrderMovement>, refunds: AsyncIterable<OrderMovement>): AsyncGenerator<OrderMovement> {
  const a = payments[Symbol.asyncIterator]();
  const b = refunds[Symbol.asyncIterator]();
  let x = await a.next();
  let y = await b.next();
  while (!x.done || !y.done) {
    if (!x.done && (y.done || x.value.at <= y.value.at)) {
      yield x.value;
      x = await a.next();
    } else if (!y.done) {
      yield y.value;
      y = await b.next();
    }
  }
}

/** Rows of one ordered query fetched `pageSize` at a time, each page after the last row of the previous one. */
export async function* paged<R>(page: (after: R | null) => Promise<R[]>, pageSize: number): AsyncGenerator<R> {
  let after: R | null = null;
  for (;;) {
    const rows = await page(after);
    yield* rows;
    if (rows.length < pageSize) return;
    after = rows[rows.length - 1]!;
  }
}

/** A movement as both backends' queries name its columns. */
export interface MovementDbRow {
  txn_no: string;
  payment_no: string;
  amount_fen: number;
  channel_trade_no: string | null;
  at: number;
  merchant_id: string;
  station_id: string;
}

export interface PaymentMovementRow extends MovementDbRow {
  leg_no: number;
}

export interface RefundMovementRow extends MovementDbRow {
  refund_leg_no: string;
}

/** A movement of `method` from its row. */
export function movement(kind: OrderMovement['kind'], method: string, r: MovementDbRow, refundLegNo: string | null): OrderMovement {
  return {
    kind,
    txnNo: r.txn_no,
    merchantId: r.merchant_id,
    stationId: r.station_id,
    method,
    paymentNo: r.payment_no,
    refundLegNo,
    amountFen: r.amount_fen,
    channelTradeNo: r.channel_trade_no,
    at: r.at,
  };
}

/** Each row of a stream mapped. */
export async function* mapRows<R, T>(rows: AsyncIterable<R>, map: (r: R) => T): AsyncGenerator<T> {
  for await (const r of rows) yield map(r);
}
