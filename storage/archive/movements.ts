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
