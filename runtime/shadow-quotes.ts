import { TradeError } from '../domain/errors.ts';
import type { Quote } from '../domain/pricing/types.ts';
import { compareQuotes, type LegacyQuoteResult, type PlatformQuoteResult, type PlatformRefusal, type ShadowDiscount, type ShadowMode, type ShadowQuoteRecord } from '../domain/shadow-quote.ts';
import type { ShadowAgreementRow, ShadowFilter, ShadowQuotes } from '../storage/types.ts';
import { parseDuration } from './archiver.ts';
import type { Clock } from './clock.ts';
import type { QuoteRequest, QuoteService } from './quote-service.ts';
import type { RetentionConfig } from './retention-purge.ts';
import { ConfigError } from './systems-config.ts';

/**
 * Ninety days of shadow quotes: a scene's shadow phase runs about a month (DOMAIN.md, Rollout), and
 * its report is read to decide the switch to `live`; older records are let go.
 */
export const DEFAULT_SHADOW_KEEP_MS = 90 * 86_400_000;

export const DEFAULT_SHADOW_RETENTION: RetentionConfig = { retentionMs: DEFAULT_SHADOW_KEEP_MS, purgeEveryMs: 60 * 60_000 };

/**
 * Reads `TRADE_SHADOW_KEEP` (a duration such as `30d`, `12h`), ms, or undefined when it is not
 * set. Throws a {@link ConfigError} naming the key when it is bad.
 */
export function shadowKeepFromEnv(env: Record<string, string | undefined>): number | undefined {
  const raw = env.TRADE_SHADOW_KEEP;
  if (raw === undefined) return undefined;
  const ms = parseDuration(raw);
  if (ms === null) throw new ConfigError([`TRADE_SHADOW_KEEP: not a duration such as 30d or 12h: ${JSON.stringify(raw)}`]);
  return ms;
}

/** A shadow quote as asked for: the sale's quote inputs, the old system's result and when it quoted. */
export interface ShadowQuoteInput extends QuoteRequest {
  scene: string;
  /** When the old system quoted, epoch ms: the platform quotes at this instant too. */
  quotedAtMs: number;
  legacy: LegacyQuoteResult;
}

/** Agreement of one station and scene, with its rate (null: no quotes). */
export interface ShadowAgreement extends ShadowAgreementRow {
  agreementRate: number | null;
}

/** `GET /admin/shadow/report`: agreement per station and scene, in total, and a page of the differences. */
export interface ShadowReport {
  groups: ShadowAgreement[];
  total: Omit<ShadowAgreement, 'stationId' | 'scene'>;
  differences: ShadowQuoteRecord[];
  nextCursor: string | null;
}

const rate = (agreeing: number, total: number) => (total === 0 ? null : Math.round((agreeing / total) * 10_000) / 10_000);

/** The quote's combination the old system's result is compared with: the one for its payment method, else the best. */
function platformResult(quote: Quote, paymentMethod: string | null): PlatformQuoteResult {
  const combo = paymentMethod === null ? quote.combos.find((c) => c.comboId === quote.bestComboId) : quote.combos.find((c) => c.paymentMethod === paymentMethod);
  if (!combo) throw new Error(`quote ${quote.quoteId} has no combination for ${paymentMethod ?? 'its best'}`);
  const discounts = combo.discounts.map((d): ShadowDiscount =>
    d.kind === 'points'
      ? { kind: 'points', id: null, name: null, points: d.points, amountFen: d.amount }
      : { kind: d.kind, id: d.id, name: d.name, points: null, amountFen: d.amount },
  );
  return {
    comboId: combo.comboId,
    paymentMethod: combo.paymentMethod,
    originalAmountFen: quote.originalAmount,
    discounts,
    discountAmountFen: combo.discountAmount,
    payableAmountFen: combo.payableAmount,
    degraded: quote.degraded,
  };
}

/**
 * Shadow quotes (issue 20): the platform quotes a sale the old system quoted, with the same inputs
 * at the same instant, and records both results. It takes no order, locks nothing and creates no
 * transaction: the quote service only reads the downstream systems, and the record goes to the
 * {@link ShadowQuotes} store, never to the snapshot store.
 */
export class ShadowQuoteService {
  constructor(
    private readonly quotes: QuoteService,
    private readonly store: ShadowQuotes,
    private readonly clock: Clock,
  ) {}

  /**
   * Quotes and records the shadow quote `shadowId` (routed `mode` at the station's `group`). A
   * business refusal of the platform (422: an unknown nozzle, no such user, out of stock) is a
   * difference and is recorded; a request error (400) or a core system down (503) is thrown and
   * records nothing. Of two runs of one id the first stored wins: the answer is what it stored.
   */
  async record(shadowId: string, mode: ShadowMode, group: string | null, input: ShadowQuoteInput): Promise<ShadowQuoteRecord> {
    const { legacy } = input;
    if (legacy.paymentMethod !== null && !input.paymentMethods.includes(legacy.paymentMethod)) {
      throw new TradeError('INVALID_REQUEST', `legacy.paymentMethod ${legacy.paymentMethod} is not one of the paymentMethods quoted`, { field: 'legacy.paymentMethod' });
    }
    let platform: PlatformQuoteResult | null = null;
    let refusal: PlatformRefusal | null = null;
    try {
      const quote = await this.quotes.quoteAt(
        { merchantId: input.merchantId, stationId: input.stationId, userId: input.userId, items: input.items, paymentMethods: input.paymentMethods, usePoints: input.usePoints },
        input.quotedAtMs,
      );
      platform = platformResult(quote, legacy.paymentMethod);
    } catch (err) {
      if (!(err instanceof TradeError) || err.status !== 422) throw err;
      refusal = { code: err.code, message: err.message };
    }
    const record: ShadowQuoteRecord = {
      shadowId,
      merchantId: input.merchantId,
      stationId: input.stationId,
      scene: input.scene,
      userId: input.userId,
      group,
      mode,
      quotedAtMs: input.quotedAtMs,
      recordedAtMs: this.clock.now(),
      request: { items: input.items, paymentMethods: input.paymentMethods, usePoints: input.usePoints },
      legacy,
      platform,
      refusal,
      ...compareQuotes(legacy, platform, refusal),
    };
    if (await this.store.put(record)) return record;
    const stored = await this.store.get(shadowId);
    if (!stored) throw new Error(`shadow quote ${shadowId} was stored and is gone`);
    return stored;
  }

  async report(filter: ShadowFilter, limit: number, cursor: string | null): Promise<ShadowReport> {
    const [rows, page] = await Promise.all([this.store.agreement(filter), this.store.differences(filter, limit, cursor)]);
    const total = rows.reduce((a, r) => ({ total: a.total + r.total, agreeing: a.agreeing + r.agreeing }), { total: 0, agreeing: 0 });
    return {
      groups: rows.map((r) => ({ ...r, agreementRate: rate(r.agreeing, r.total) })),
      total: { ...total, agreementRate: rate(total.agreeing, total.total) },
      differences: page.records,
      nextCursor: page.nextCursor,
    };
  }
}
