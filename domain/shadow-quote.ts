/**
 * Shadow quotes (DOMAIN.md "Rollout, OS and history", issue 20): for a scene at a station group
 * in `shadow` mode the old system sells, and the platform quotes the same sale beside it with the
 * same inputs and time; both results are recorded, and whether they agree. Pure: no I/O.
 */

/** One discount of either side, as the comparison sees it. Money in fen. */
export interface ShadowDiscount {
  kind: 'promotion' | 'coupon' | 'points';
  /** The promotion's or coupon's id; null for points. */
  id: string | null;
  /** As the side named it; null when it gave none. */
  name: string | null;
  /** Points used, for a points discount; null otherwise. */
  points: number | null;
  amountFen: number;
}

/** What the old system quoted (the body's `legacy`). */
export interface LegacyQuoteResult {
  /** The old system's own number of its quote or order, to find the sale there; null when not given. */
  ref: string | null;
  /** The payment method it quoted for; null: compare with the platform's best combination. */
  paymentMethod: string | null;
  /** Its original (undiscounted) amount, when it gave one: a different price list shows here. */
  originalAmountFen: number | null;
  discounts: ShadowDiscount[];
  payableAmountFen: number;
}

/** What the platform quoted for the same sale, at the same time: the combination compared. */
export interface PlatformQuoteResult {
  comboId: string;
  paymentMethod: string | null;
  originalAmountFen: number;
  discounts: ShadowDiscount[];
  discountAmountFen: number;
  payableAmountFen: number;
  /** Non-core sources that failed while quoting (`promotion`, `coupon`, …): a difference may be that outage. */
  degraded: string[];
}

/** The platform refused to quote the sale the old system quoted (an unknown nozzle, say). */
export interface PlatformRefusal {
  code: string;
  message: string;
}

/**
 * One way the two results differ. `missing-in-legacy`: the platform gave a discount the old system
 * did not; `missing-in-platform`: the other way round. A discount both gave with other amounts is
 * no difference by itself (the payable shows it); the side-by-side breakdown lists the amounts.
 */
export type ShadowDifference =
  | { kind: 'payable'; legacyFen: number; platformFen: number }
  | { kind: 'original'; legacyFen: number; platformFen: number }
  | { kind: 'missing-in-legacy'; discount: string; platformFen: number }
  | { kind: 'missing-in-platform'; discount: string; legacyFen: number }
  | { kind: 'platform-refused'; code: string };

/** Where a shadow quote was taken: `shadow`, or `live` (accepted and recorded too, docs/shadow-quotes.md). */
export type ShadowMode = 'shadow' | 'live';

/** The quote inputs, kept with the record so a difference can be replayed. */
export interface ShadowRequest {
  items: unknown[];
  paymentMethods: string[];
  usePoints: boolean;
}

/**
 * A stored shadow quote: both results, whether they agree, and what a store indexes (merchant,
 * station, scene, time, agreement), derived here and not read out of the results (DESIGN.md rule 9).
 */
export interface ShadowQuoteRecord {
  shadowId: string;
  merchantId: string;
  stationId: string;
  scene: string;
  userId: string;
  /** The station's group when routing looked it up; null when no rule names a group. */
  group: string | null;
  mode: ShadowMode;
  /** When the old system quoted, epoch ms: the time the platform quoted at too. */
  quotedAtMs: number;
  /** When the platform recorded it, epoch ms. */
  recordedAtMs: number;
  request: ShadowRequest;
  legacy: LegacyQuoteResult;
  /** Null when the platform refused (see `refusal`). */
  platform: PlatformQuoteResult | null;
  refusal: PlatformRefusal | null;
  /** Payable equal and the same set of discounts (promotions and coupons by id, points or none). */
  agrees: boolean;
  differences: ShadowDifference[];
}

/** A discount's identity in the comparison: `promotion:P1`, `coupon:CP9`, `points`. */
export function discountKey(d: Pick<ShadowDiscount, 'kind' | 'id'>): string {
  return d.kind === 'points' ? 'points' : `${d.kind}:${d.id ?? ''}`;
}

/** Sums a side's discounts per key (a side naming one twice counts it once, with both amounts). */
function byKey(discounts: ShadowDiscount[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const d of discounts) {
    const key = discountKey(d);
    out.set(key, (out.get(key) ?? 0) + d.amountFen);
  }
  return out;
}

/** Compares the two results (DOMAIN.md "Rollout": agree = payable equal and the same discount set). */
export function compareQuotes(legacy: LegacyQuoteResult, platform: PlatformQuoteResult | null, refusal: PlatformRefusal | null): { agrees: boolean; differences: ShadowDifference[] } {
  if (!platform) return { agrees: false, differences: [{ kind: 'platform-refused', code: refusal?.code ?? 'UNKNOWN' }] };
  const differences: ShadowDifference[] = [];
  if (legacy.payableAmountFen !== platform.payableAmountFen) differences.push({ kind: 'payable', legacyFen: legacy.payableAmountFen, platformFen: platform.payableAmountFen });
  if (legacy.originalAmountFen !== null && legacy.originalAmountFen !== platform.originalAmountFen) {
    differences.push({ kind: 'original', legacyFen: legacy.originalAmountFen, platformFen: platform.originalAmountFen });
  }
  const theirs = byKey(legacy.discounts);
  const ours = byKey(platform.discounts);
  for (const [key, fen] of [...ours].sort(([a], [b]) => cmp(a, b))) if (!theirs.has(key)) differences.push({ kind: 'missing-in-legacy', discount: key, platformFen: fen });
  for (const [key, fen] of [...theirs].sort(([a], [b]) => cmp(a, b))) if (!ours.has(key)) differences.push({ kind: 'missing-in-platform', discount: key, legacyFen: fen });
  const setsDiffer = differences.some((d) => d.kind === 'missing-in-legacy' || d.kind === 'missing-in-platform');
  return { agrees: legacy.payableAmountFen === platform.payableAmountFen && !setsDiffer, differences };
}

/** One row of the side-by-side breakdown: a discount (or `payable`, `original`) and each side's fen (null: that side has none). */
export interface BreakdownRow {
  item: string;
  name: string | null;
  legacyFen: number | null;
  platformFen: number | null;
}

/** Both results side by side: every discount either side gave (platform order first), then the original and payable amounts. */
export function sideBySide(record: Pick<ShadowQuoteRecord, 'legacy' | 'platform'>): BreakdownRow[] {
  const { legacy, platform } = record;
  const theirs = byKey(legacy.discounts);
  const ours = byKey(platform?.discounts ?? []);
  const names = new Map<string, string | null>();
  for (const d of [...(platform?.discounts ?? []), ...legacy.discounts]) if (!names.get(discountKey(d))) names.set(discountKey(d), d.name);
  const rows: BreakdownRow[] = [...names.keys()].map((key) => ({ item: key, name: names.get(key) ?? null, legacyFen: theirs.get(key) ?? null, platformFen: ours.get(key) ?? null }));
  rows.push({ item: 'original', name: null, legacyFen: legacy.originalAmountFen, platformFen: platform?.originalAmountFen ?? null });
  rows.push({ item: 'payable', name: null, legacyFen: legacy.payableAmountFen, platformFen: platform?.payableAmountFen ?? null });
  return rows;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
