import type { Logger } from 'pino';
import { TradeError } from '../domain/errors.ts';
import type { IdGenerator } from '../domain/ids.ts';
import { amountFromVolume, volumeFromAmount } from '../domain/money.ts';
import { optimize } from '../domain/pricing/optimizer.ts';
import type { PricingInput, Quote, QuoteLine } from '../domain/pricing/types.ts';
import { isDownstreamUnavailable, type SystemName } from '../systems/contract.ts';
import type { Coupon } from '../systems/coupon/port.ts';
import type { Nozzle, Station } from '../systems/fuel-catalog/port.ts';
import type { Systems } from '../systems/index.ts';
import type { Promotion } from '../systems/promotion/port.ts';
import type { User } from '../systems/user/port.ts';
import type { Clock } from './clock.ts';
import type { Downstream } from './downstream.ts';
import { FULFILMENT_HOOKS } from './fulfilment.ts';
import { TtlCache } from './ttl-cache.ts';

/** What a channel may sell (API.md "Start / re-quote"). Amounts in fen, volumes in ml. */
export type Item =
  | { type: 'fuel'; nozzleNo: number; amount: number }
  | { type: 'fuel'; nozzleNo: number; volumeMl: number }
  | { type: 'goods'; sku: string; quantity: number }
  | { type: 'stored_value'; cardNo: string; amount: number }
  | { type: 'virtual'; code: string; name: string; amount: number };

export interface QuoteRequest {
  merchantId: string;
  stationId: string;
  userId: string;
  items: Item[];
  paymentMethods: string[];
  usePoints: boolean;
}

export interface QuoteOptions {
  quoteTtlMs: number;
  /** How long user and fuel-catalog reads may be served from cache. */
  cacheTtlMs: number;
  maxCouponsPerOrder: number;
  /**
   * Service tiers (DOMAIN.md): a source a quote can do without degrades the quote when it fails,
   * unless configured `core`, in which case its failure fails the quote with 503.
   */
  tiers: Partial<Record<SystemName, 'core' | 'non-core'>>;
}

/**
 * Gathers what a quote needs from the downstream systems, all at once, and prices it with the
 * optimizer (DOMAIN.md "Quote"). Tiers decide what a failure does: a core source (user, fuel
 * catalog, goods when goods are bought, the card of a top-up) fails the quote with 503
 * CORE_SYSTEM_UNAVAILABLE; a non-core one (promotion engine, coupons, points, level) is left out
 * and named in `degraded`. No order system call happens while quoting.
 */
export class QuoteService {
  private readonly users: TtlCache<User | null>;
  private readonly stations: TtlCache<Station | null>;
  private readonly nozzles: TtlCache<Nozzle | null>;

  constructor(
    private readonly systems: Systems,
    private readonly downstream: Downstream,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly options: QuoteOptions,
    private readonly log: Logger,
  ) {
    this.users = new TtlCache(clock, options.cacheTtlMs);
    this.stations = new TtlCache(clock, options.cacheTtlMs);
    this.nozzles = new TtlCache(clock, options.cacheTtlMs);
  }

  /** Quotes `req` now (the server clock, DOMAIN.md "Quote"). */
  quote(req: QuoteRequest): Promise<Quote> {
    return this.quoteAt(req, this.clock.now());
  }

  /**
   * Quotes `req` as at `atMs` (epoch ms): time windows, weekdays and validity are judged at that
   * instant; what the systems hold (coupons, balances, stock) is read as it is now. A shadow quote
   * prices the sale at the time the old system quoted it.
   */
  async quoteAt(req: QuoteRequest, atMs: number): Promise<Quote> {
    const degraded = new Set<string>();
    const core = <T>(system: SystemName, call: () => Promise<T>): Promise<T> =>
      this.downstream.call(system, call).catch((err: unknown) => {
        if (isDownstreamUnavailable(err)) throw new TradeError('CORE_SYSTEM_UNAVAILABLE', `${system} is unavailable`, { system });
        throw err;
      });
    const optional = <T>(system: SystemName, label: string, fallback: T, call: () => Promise<T>): Promise<T> =>
      this.downstream.call(system, call).catch((err: unknown) => {
        if (this.options.tiers[system] === 'core' && isDownstreamUnavailable(err)) throw new TradeError('CORE_SYSTEM_UNAVAILABLE', `${system} is unavailable`, { system });
        this.log.warn({ system, err: err instanceof Error ? err.message : String(err) }, 'non-core source failed: quote degraded');
        degraded.add(label);
        return fallback;
      });

    const fuel = req.items.flatMap((i) => (i.type === 'fuel' ? [i] : []));
    const goods = req.items.flatMap((i) => (i.type === 'goods' ? [i] : []));
    const topUps = req.items.flatMap((i) => (i.type === 'stored_value' ? [i] : []));
    const [user, level, station, nozzles, shelf, cards, promotions, coupons, points] = await Promise.all([
      core('user', () => this.users.get(req.userId, () => this.systems.user.getUser(req.userId))),
      optional('level', 'level', null, () => this.systems.level.getLevel(req.userId)),
      core('fuelCatalog', () => this.stations.get(req.stationId, () => this.systems.fuelCatalog.getStation(req.stationId))),
      Promise.all(
        fuel.map((f) => core('fuelCatalog', () => this.nozzles.get(`${req.stationId}:${f.nozzleNo}`, () => this.systems.fuelCatalog.getNozzle(req.stationId, f.nozzleNo)))),
      ),
      goods.length ? core('goods', () => this.systems.goods.getGoods(req.stationId, [...new Set(goods.map((g) => g.sku))])) : Promise.resolve([]),
      Promise.all(topUps.map((s) => core('storedValue', () => this.systems.storedValue.getCard(s.cardNo)))),
      optional('promotion', 'promotion', [] as Promotion[], () => this.systems.promotion.listPromotions({ merchantId: req.merchantId, stationId: req.stationId })),
      optional('coupon', 'coupon', [] as Coupon[], () => this.systems.coupon.listCoupons(req.userId)),
      req.usePoints ? optional('points', 'points', null, () => this.systems.points.getAccount(req.userId)) : Promise.resolve(null),
    ]);

    if (!station || station.merchantId !== req.merchantId) {
      throw new TradeError('INVALID_REQUEST', `station ${req.stationId} does not belong to merchant ${req.merchantId}`, { field: 'stationId' });
    }
    if (!user) throw new TradeError('UNKNOWN_USER', `no user ${req.userId}`, { field: 'userId' });
    if (topUps.length && req.paymentMethods.length && req.paymentMethods.every((m) => m === 'stored_value')) {
      throw new TradeError('INVALID_REQUEST', 'a stored-value top-up cannot be paid with stored value', { field: 'paymentMethods' });
    }

    let fuelIndex = 0;
    let topUpIndex = 0;
    const lines: QuoteLine[] = req.items.map((item, i): QuoteLine => {
      const lineNo = i + 1;
      if (item.type === 'fuel') {
        const nozzle = nozzles[fuelIndex++];
        if (!nozzle) throw new TradeError('UNKNOWN_NOZZLE', `station ${req.stationId} has no nozzle ${item.nozzleNo}`, { nozzleNo: item.nozzleNo });
        const byAmount = 'amount' in item;
        const amount = byAmount ? item.amount : amountFromVolume(nozzle.unitPrice, item.volumeMl);
        const volumeMl = byAmount ? volumeFromAmount(item.amount, nozzle.unitPrice) : item.volumeMl;
        return { lineNo, type: 'fuel', nozzleNo: nozzle.nozzleNo, grade: nozzle.grade, unitPrice: nozzle.unitPrice, volumeMl, amount };
      }
      if (item.type === 'goods') {
        const sku = shelf.find((g) => g.sku === item.sku);
        if (!sku) throw new TradeError('UNKNOWN_SKU', `station ${req.stationId} does not sell ${item.sku}`, { sku: item.sku });
        const wanted = goods.filter((g) => g.sku === item.sku).reduce((a, g) => a + g.quantity, 0);
        if (wanted > sku.availableStock) throw new TradeError('OUT_OF_STOCK', `${sku.name}: ${sku.availableStock} left, ${wanted} asked`, { sku: item.sku, available: sku.availableStock });
        return { lineNo, type: 'goods', sku: sku.sku, name: sku.name, category: sku.category, unitPrice: sku.priceFen, quantity: item.quantity, amount: sku.priceFen * item.quantity };
      }
      if (item.type === 'virtual') {
        if (!FULFILMENT_HOOKS[item.code]) throw new TradeError('INVALID_REQUEST', `nothing can deliver a virtual item ${item.code}`, { code: item.code });
        return { lineNo, type: 'virtual', code: item.code, name: item.name, amount: item.amount };
      }
      const card = cards[topUpIndex++];
      if (!card) throw new TradeError('UNKNOWN_CARD', `no stored-value card ${item.cardNo}`, { cardNo: item.cardNo });
      return { lineNo, type: 'stored_value', cardNo: card.cardNo, amount: item.amount };
    });

    const input: PricingInput = {
      lines,
      promotions,
      coupons,
      maxCouponsPerOrder: this.options.maxCouponsPerOrder,
      points: points ? { balance: points.balance, rule: points.rule } : null,
      // The level system is the authority on levels; the user system's copy stands in when it is down.
      memberLevel: level?.level ?? user.level,
      paymentMethods: req.paymentMethods,
      atMs,
      timeZone: station.timeZone,
    };
    const priced = optimize(input);
    for (const combo of priced.combos) {
      const lists = combo.discounts.flatMap((d) => {
        const methods = d.kind === 'promotion' ? promotions.find((p) => p.id === d.id)?.conditions.paymentMethods : undefined;
        return methods?.length ? [methods] : [];
      });
      if (lists.length) combo.allowedMethods = lists.reduce((a, l) => a.filter((m) => l.includes(m)));
    }
    return {
      quoteId: this.ids.next('Q'),
      quotedAt: new Date(atMs).toISOString(),
      expiresAt: new Date(atMs + this.options.quoteTtlMs).toISOString(),
      degraded: [...degraded].sort(),
      lines,
      originalAmount: lines.reduce((a, l) => a + l.amount, 0),
      ...priced,
    };
  }
}
