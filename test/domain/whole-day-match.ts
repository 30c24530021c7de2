import { CARRY_WINDOW_MS, chinaDayWindow, platformCounts, platformRef, txnNoOfPaymentNo, type Discrepancy, type DiscrepancyKind, type MatchInput, type MatchResult, type MatchTotals, type PlatformRow } from '../../domain/reconciliation/match.ts';
import type { BillRow } from '../../domain/reconciliation/bill-row.ts';

/**
 * The matcher as it was before it streamed our side (issue 19, commit 6b93cbf): every row of ours
 * of the day indexed up front, the bill streamed against the index. Kept as the oracle the
 * streaming matcher must agree with, discrepancy for discrepancy.
 */
export async function wholeDayMatch(bill: AsyncIterable<BillRow> | Iterable<BillRow>, input: Omit<MatchInput, 'platform'> & { platform: Iterable<PlatformRow> }): Promise<MatchResult> {
  const { fromMs, toMs } = chinaDayWindow(input.day);
  const lo = fromMs - CARRY_WINDOW_MS;
  const hi = toMs + CARRY_WINDOW_MS;
  // Our rows by slot: a reference's slot, and whether the bill must still list it. One map insert
  // per row of ours; the trade-number index is built only if a bill row misses its reference.
  const slotOf = new Map<string, number>();
  const ourRows: PlatformRow[] = [];
  const required: boolean[] = [];
  let byTradeNo: Map<string, number> | null = null;
  const totals: MatchTotals = { billRows: 0, billPaymentsFen: 0, billRefundsFen: 0, billFeesFen: 0, platformRows: 0, platformPaymentsFen: 0, platformRefundsFen: 0, matched: 0 };
  const alreadyMatched = new Set(input.carryIn.matchedAhead);
  const index = (row: PlatformRow, mustMatch: boolean) => {
    const ref = platformRef(row);
    const slot = slotOf.get(ref);
    if (slot === undefined) {
      slotOf.set(ref, ourRows.length);
      ourRows.push(row);
      required.push(mustMatch);
    } else {
      ourRows[slot] = row;
      if (mustMatch) required[slot] = true;
    }
  };
  const slotOfTradeNo = (tradeNo: string): number | undefined => {
    if (byTradeNo === null) {
      byTradeNo = new Map();
      for (let slot = 0; slot < ourRows.length; slot++) {
        const row = ourRows[slot]!;
        if (row.kind === 'payment' && row.channelTradeNo) byTradeNo.set(row.channelTradeNo, slot);
      }
    }
    return byTradeNo.get(tradeNo);
  };
  for (const row of input.carryIn.platform) index(row, true);
  for (const row of input.platform) {
    if (row.channel !== input.channel || !platformCounts(row) || row.at === null || row.at < lo || row.at >= hi) continue;
    const inDay = row.at >= fromMs && row.at < toMs;
    if (inDay) {
      totals.platformRows += 1;
      if (row.kind === 'payment') totals.platformPaymentsFen += row.amountFen;
      else totals.platformRefundsFen += row.amountFen;
    }
    index(row, inDay && !alreadyMatched.has(platformRef(row)));
  }

  const discrepancies: Discrepancy[] = [];
  const matchedAhead: string[] = [];
  const found = (kind: DiscrepancyKind, ref: string, bill: BillRow | null, platform: PlatformRow | null, extra: Partial<Discrepancy> = {}) =>
    discrepancies.push({ kind, channel: input.channel, ref, txnNo: platform?.txnNo ?? (bill ? txnNoOfPaymentNo(bill.paymentNo) : null), bill, platform, ...extra });

  for await (const row of bill) {
    if (row.channel !== input.channel) continue;
    totals.billRows += 1;
    totals.billFeesFen += row.feeFen;
    if (row.status === 'succeeded') {
      if (row.kind === 'payment') totals.billPaymentsFen += row.amountFen;
      else totals.billRefundsFen += row.amountFen;
    }
    const ref = row.merchantRef;
    // A payment whose echoed number was garbled is still found by the channel's transaction id.
    const slot = slotOf.get(ref) ?? (row.kind === 'payment' ? slotOfTradeNo(row.channelRef) : undefined);
    if (slot !== undefined) {
      const ours = ourRows[slot]!;
      const oursRef = platformRef(ours);
      required[slot] = false;
      if (ours.at !== null && ours.at >= toMs) matchedAhead.push(oursRef);
      if (row.status !== 'succeeded') {
        found('platform_over_status', oursRef, row, ours);
        continue;
      }
      totals.matched += 1;
      if (row.amountFen > ours.amountFen) found('platform_short_amount', oursRef, row, ours);
      else if (row.amountFen < ours.amountFen) found('platform_over_amount', oursRef, row, ours);
      else checkFee(row, ours);
      continue;
    }
    // Nothing counted on our side near this day: what do we know of it at all?
    const other = await input.lookup(row);
    if (row.status !== 'succeeded') {
      // Neither side counts it (a failed payment both know of), or only the channel lists a failure: no money moved.
      if (other && platformCounts(other)) found('platform_over_status', ref, row, other);
      else totals.matched += 1;
      continue;
    }
    if (!other) found('platform_missing', ref, row, null);
    else if (!platformCounts(other)) found('platform_short_status', ref, row, other);
    else if (row.amountFen !== other.amountFen) found(row.amountFen > other.amountFen ? 'platform_short_amount' : 'platform_over_amount', ref, row, other);
    else {
      // Counted by us on a day more than 10 minutes away: the same money, a different day. Matched.
      // Counted later (a leg a query recovered after the day): the next day's run must not miss it on its bill.
      if (other.at !== null && other.at >= toMs) matchedAhead.push(ref);
      totals.matched += 1;
      checkFee(row, other);
    }
  }

  function checkFee(row: BillRow, ours: PlatformRow): void {
    const expected = input.expectedFee?.(row) ?? null;
    if (expected !== null && expected !== row.feeFen) found('fee_mismatch', platformRef(ours), row, ours, { expectedFeeFen: expected });
  }

  const carried: PlatformRow[] = [];
  for (let slot = 0; slot < ourRows.length; slot++) {
    if (!required[slot]) continue;
    const ours = ourRows[slot]!;
    const ref = platformRef(ours);
    if (ours.at !== null && ours.at >= toMs - CARRY_WINDOW_MS && ours.at < toMs) carried.push(ours);
    else found('channel_missing', ref, null, ours);
  }
  return { discrepancies, totals, carry: { platform: carried, matchedAhead } };
}
