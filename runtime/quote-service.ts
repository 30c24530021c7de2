import type { Logger } from 'pino';
import { TradeError } from '../domain/errors.ts';
import type { IdGenerator } from '../domain/ids.ts';
import { amountFromVolume, volumeFromAmount } from '../domain/money.ts';
import { priceQuote } from '../domain/pricing/promotions.ts';
import type { Quote, QuoteLine } from '../domain/pricing/types.ts';
import { isDownstreamUnavailable, type SystemName } from '../systems/contract.ts';
import type { Systems } from '../systems/index.ts';
import type { Promotion } from '../systems/promotion/port.ts';
import type { Clock } from './clock.ts';
import { withTimeout } from './downstream.ts';

/** A fuel item: a nozzle and exactly one of an amount (fen) or a volume (ml). */
export type FuelItem = { type: 'fuel'; nozzleNo: number; amount: number } | { type: 'fuel'; nozzleNo: number; volumeMl: number };

export interface QuoteRequest {
  merchantId: string;
  stationId: string;
  userId: string;
  items: FuelItem[];
  paymentMethods: string[];
}

export interface QuoteOptions {
  quoteTtlMs: number;
  timeoutMs: number;
}

/**
 * Gathers what a quote needs from the downstream systems, concurrently, and prices it.
 * Core sources (user, fuel catalog) failing → 503 CORE_SYSTEM_UNAVAILABLE; the promotion engine
 * failing degrades the quote (`degraded: ["promotion"]`) instead (DOMAIN.md tiers).
 */
export class QuoteService {
  constructor(
    private readonly systems: Systems,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly options: QuoteOptions,
    private readonly log: Logger,
  ) {}

  async quote(req: QuoteRequest): Promise<Quote> {
    const atMs = this.clock.now();
    const core = <T>(system: SystemName, call: () => Promise<T>) =>
      withTimeout(system, this.options.timeoutMs, call).catch((err: unknown) => {
        if (isDownstreamUnavailable(err)) throw new TradeError('CORE_SYSTEM_UNAVAILABLE', err.message, { system });
        throw err;
      });
    const degraded: string[] = [];
    const promotionsCall = withTimeout('promotion', this.options.timeoutMs, () =>
      this.systems.promotion.listPromotions({ merchantId: req.merchantId, stationId: req.stationId }),
    ).catch((err: unknown): Promotion[] => {
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'promotion engine unavailable: quoting without promotions');
      degraded.push('promotion');
      return [];
    });
    const [user, station, nozzles, promotions] = await Promise.all([
      core('user', () => this.systems.user.getUser(req.userId)),
      core('fuelCatalog', () => this.systems.fuelCatalog.getStation(req.stationId)),
      Promise.all(req.items.map((item) => core('fuelCatalog', () => this.systems.fuelCatalog.getNozzle(req.stationId, item.nozzleNo)))),
      promotionsCall,
    ]);
    if (!station || station.merchantId !== req.merchantId) {
      throw new TradeError('INVALID_REQUEST', `station ${req.stationId} does not belong to merchant ${req.merchantId}`, { field: 'stationId' });
    }
    if (!user) throw new TradeError('UNKNOWN_USER', `no user ${req.userId}`, { field: 'userId' });
    const lines: QuoteLine[] = req.items.map((item, i) => {
      const nozzle = nozzles[i];
      if (!nozzle) throw new TradeError('UNKNOWN_NOZZLE', `station ${req.stationId} has no nozzle ${item.nozzleNo}`, { nozzleNo: item.nozzleNo });
      const byAmount = 'amount' in item;
      const amount = byAmount ? item.amount : amountFromVolume(nozzle.unitPrice, item.volumeMl);
      const volumeMl = byAmount ? volumeFromAmount(item.amount, nozzle.unitPrice) : item.volumeMl;
      return { lineNo: i + 1, type: 'fuel', nozzleNo: nozzle.nozzleNo, grade: nozzle.grade, unitPrice: nozzle.unitPrice, volumeMl, amount };
    });
    const priced = priceQuote({
      lines,
      promotions,
      memberLevel: user.level,
      paymentMethods: req.paymentMethods,
      atMs,
      timeZone: station.timeZone,
    });
    return {
      quoteId: this.ids.next('Q'),
      quotedAt: new Date(atMs).toISOString(),
      expiresAt: new Date(atMs + this.options.quoteTtlMs).toISOString(),
      degraded,
      lines,
      originalAmount: lines.reduce((a, l) => a + l.amount, 0),
      ...priced,
    };
  }
}
