import { TradeError, type Refusal } from '../domain/errors.ts';
import type { LegRequest, PaymentMethod } from '../machines/types.ts';
import type { QuoteRequest } from './quote-service.ts';
import type { TradeCenter } from './trade-center.ts';
import type { TransactionView } from './view.ts';

/** A checkout leg: an amount in fen, or `max` (all the card holds), or `rest` (last leg only). */
export interface FlexibleLeg {
  method: PaymentMethod;
  amount: number | 'max' | 'rest';
  cardNo?: string;
}

export interface OrderAndPayRequest {
  quoteId: string;
  comboId: string;
  deductionMode: 'pre' | 'post';
  legs: FlexibleLeg[];
}

/**
 * The combined calls (API.md): order + pay, and quote + order + pay. Each is all-or-nothing:
 * if a later step is refused, the transaction is cancelled (every hold released, every open
 * payment closed) before the refusal is returned, with the transaction number in its details.
 * A crash between the steps leaves an ordered transaction whose payment expiry cancels it.
 */
export class CombinedCalls {
  constructor(private readonly tc: TradeCenter) {}

  async checkout(start: QuoteRequest & { scene: string }, order: Omit<OrderAndPayRequest, 'quoteId' | 'comboId'> & { comboId?: string }): Promise<TransactionView> {
    const { tc } = this;
    const quote = await tc.quotes.quote(start);
    const view = await tc.host.create({
      txnNo: tc.ids.next('T'),
      scene: start.scene,
      merchantId: start.merchantId,
      stationId: start.stationId,
      userId: start.userId,
      quote,
      paymentTtlMs: tc.config.paymentTtlMs,
      queryAfterMs: tc.config.queryAfterMs,
          refundPolicy: tc.config.refundPolicy,
      createdAt: new Date(tc.clock.now()).toISOString(),
    });
    return this.orderAndPay(view.txnNo, { ...order, quoteId: quote.quoteId, comboId: order.comboId ?? quote.bestComboId });
  }

  async orderAndPay(txnNo: string, req: OrderAndPayRequest): Promise<TransactionView> {
    const { tc } = this;
    const ordered = await tc.host.command(txnNo, (at, requestId) => ({
      type: 'ORDER',
      requestId,
      at,
      orderNo: tc.ids.next('O'),
      quoteId: req.quoteId,
      comboId: req.comboId,
      deductionMode: req.deductionMode,
    }));
    if (ordered.refusal) return this.undo(txnNo, ordered.refusal);
    let legs: LegRequest[];
    try {
      legs = await this.resolveLegs(req.legs, ordered.view.payableAmount);
    } catch (err) {
      if (err instanceof TradeError) return this.undo(txnNo, { code: err.code, message: err.message });
      throw err;
    }
    const paid = await tc.host.command(txnNo, (at, requestId) => ({ type: 'PAY', requestId, at, legs }));
    if (paid.refusal) return this.undo(txnNo, paid.refusal);
    return paid.view;
  }

  /** `max` takes what the card holds (up to what is left to pay); `rest` takes what is left. */
  private async resolveLegs(legs: FlexibleLeg[], payable: number): Promise<LegRequest[]> {
    if (legs.some((l, i) => l.amount === 'rest' && i !== legs.length - 1)) throw new TradeError('INVALID_REQUEST', 'only the last leg may be "rest"');
    let left = payable - legs.reduce((a, l) => a + (typeof l.amount === 'number' ? l.amount : 0), 0);
    const resolved: LegRequest[] = [];
    for (const leg of legs) {
      let amount: number;
      if (leg.amount === 'max') {
        if (leg.method !== 'stored_value' || !leg.cardNo) throw new TradeError('INVALID_REQUEST', '"max" is for a stored_value leg with its cardNo');
        const card = await this.tc.systems.storedValue.getCard(leg.cardNo).catch(() => {
          throw new TradeError('CORE_SYSTEM_UNAVAILABLE', 'the stored-value card system is unavailable');
        });
        if (!card) throw new TradeError('UNKNOWN_CARD', `no stored-value card ${leg.cardNo}`);
        amount = Math.max(0, Math.min(card.availableFen, left));
        left -= amount;
      } else if (leg.amount === 'rest') {
        amount = left;
        left = 0;
      } else {
        amount = leg.amount;
      }
      // A leg with nothing to pay is left out: "max" on an empty card, "rest" when the card covered it all.
      if (amount > 0) resolved.push({ method: leg.method, amount, ...(leg.cardNo ? { cardNo: leg.cardNo } : {}) });
    }
    return resolved;
  }

  private async undo(txnNo: string, refusal: Refusal): Promise<never> {
    await this.tc.host
      .command(txnNo, (at, requestId) => ({ type: 'CANCEL', requestId, at, reason: `combined call refused: ${refusal.code}` }))
      .catch((err: unknown) => this.tc.log.warn({ txnNo, err }, 'could not cancel after a refused combined call; its expiry will'));
    throw new TradeError(refusal.code, refusal.message, { ...refusal.details, txnNo });
  }
}
