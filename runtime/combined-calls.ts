import { ERROR_CODES, TradeError, type ErrorCode, type Refusal } from '../domain/errors.ts';
import type { LegRequest, PaymentMethod, TxnCommand } from '../machines/types.ts';
import type { QuoteRequest } from './quote-service.ts';
import type { TradeCenter } from './trade-center.ts';
import type { TransactionView } from './view.ts';

/** A checkout leg: an amount in fen, or `max` (all the card holds), or `rest` (last leg only). */
export interface FlexibleLeg {
  method: PaymentMethod;
  amount: number | 'max' | 'rest';
  cardNo?: string;
}

/**
 * How one run of a combined call names its commands and its transaction (an Idempotency-Key's
 * run, see `http/idempotency.ts`): the same on every run of one keyed request, so that a run
 * taking over from a process that died continues the first one's work.
 */
export interface CallRun {
  /** The earlier run died: continue what it started. */
  resumed: boolean;
  commandId(step: 'order' | 'pay' | 'undo'): string | undefined;
  txnNo(fresh: () => string): Promise<string>;
}

const ONE_RUN: CallRun = { resumed: false, commandId: () => undefined, txnNo: async (fresh) => fresh() };

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

  async checkout(start: QuoteRequest & { scene: string }, order: Omit<OrderAndPayRequest, 'quoteId' | 'comboId'> & { comboId?: string }, run: CallRun = ONE_RUN): Promise<TransactionView> {
    const { tc } = this;
    const txnNo = await run.txnNo(() => tc.ids.next('T'));
    const started = run.resumed ? await tc.host.view(txnNo) : null;
    if (started) return this.resume(txnNo, { ...order, quoteId: started.quote.quoteId, comboId: order.comboId ?? started.quote.bestComboId }, run);
    const quote = await tc.quotes.quote(start);
    const req = { ...order, quoteId: quote.quoteId, comboId: order.comboId ?? quote.bestComboId };
    // Started and ordered in one turn: the quote is stored with the order's first save (issue 21).
    const input = {
      txnNo,
      scene: start.scene,
      merchantId: start.merchantId,
      stationId: start.stationId,
      userId: start.userId,
      quote,
      paymentTtlMs: tc.config.paymentTtlMs,
      queryAfterMs: tc.config.queryAfterMs,
      refundPolicy: tc.config.refundPolicy,
      createdAt: new Date(tc.clock.now()).toISOString(),
    };
    const ordered = await tc.host.createAndCommand(input, this.orderCommand(req), run.commandId('order'));
    if (ordered.refusal) return this.undo(txnNo, ordered.refusal, run);
    return this.pay(txnNo, req, ordered.view, run);
  }

  async orderAndPay(txnNo: string, req: OrderAndPayRequest, run: CallRun = ONE_RUN): Promise<TransactionView> {
    const { tc } = this;
    if (run.resumed) return this.resume(txnNo, req, run);
    const ordered = await tc.host.command(txnNo, this.orderCommand(req), run.commandId('order'));
    if (ordered.refusal) return this.undo(txnNo, ordered.refusal, run);
    return this.pay(txnNo, req, ordered.view, run);
  }

  private orderCommand(req: OrderAndPayRequest): (at: number, requestId: string) => TxnCommand {
    return (at, requestId) => ({
      type: 'ORDER',
      requestId,
      at,
      orderNo: this.tc.ids.next('O'),
      quoteId: req.quoteId,
      comboId: req.comboId,
      deductionMode: req.deductionMode,
    });
  }

  /**
   * Continues a combined call whose earlier run died, from the last step the machine answered:
   * the payment's answer is the call's; an order placed is paid; a transaction neither touched is
   * ordered and paid; one that moved on without them (expired, cancelled) answers for itself.
   */
  private async resume(txnNo: string, req: OrderAndPayRequest, run: CallRun): Promise<TransactionView> {
    const { host } = this.tc;
    const payId = run.commandId('pay');
    const paid = payId ? await host.answerTo(txnNo, payId) : null;
    if (paid) return paid.refusal ? this.undo(txnNo, paid.refusal, run) : paid.view;
    const orderId = run.commandId('order');
    const ordered = orderId ? await host.answerTo(txnNo, orderId) : null;
    if (ordered) return ordered.refusal ? this.undo(txnNo, ordered.refusal, run) : this.pay(txnNo, req, ordered.view, run);
    const view = await host.view(txnNo);
    if (!view) throw new TradeError('NOT_FOUND', `no transaction ${txnNo}`);
    if (view.state === 'quoted' && view.orderNo === null) return this.orderAndPay(txnNo, req, { ...run, resumed: false });
    const outcome = view.outcome;
    if ((view.state === 'cancelled' || view.state === 'failed') && outcome) throw new TradeError(isErrorCode(outcome.code) ? outcome.code : 'INVALID_STATE', outcome.message, { txnNo });
    return view;
  }

  private async pay(txnNo: string, req: OrderAndPayRequest, ordered: TransactionView, run: CallRun): Promise<TransactionView> {
    const { tc } = this;
    let legs: LegRequest[];
    try {
      legs = await this.resolveLegs(req.legs, ordered.payableAmount);
    } catch (err) {
      if (err instanceof TradeError) return this.undo(txnNo, { code: err.code, message: err.message }, run);
      throw err;
    }
    const paid = await tc.host.command(txnNo, (at, requestId) => ({ type: 'PAY', requestId, at, legs }), run.commandId('pay'));
    if (paid.refusal) return this.undo(txnNo, paid.refusal, run);
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

  private async undo(txnNo: string, refusal: Refusal, run: CallRun): Promise<never> {
    await this.tc.host
      .command(txnNo, (at, requestId) => ({ type: 'CANCEL', requestId, at, reason: `combined call refused: ${refusal.code}` }), run.commandId('undo'))
      .catch((err: unknown) => this.tc.log.warn({ txnNo, err }, 'could not cancel after a refused combined call; its expiry will'));
    throw new TradeError(refusal.code, refusal.message, { ...refusal.details, txnNo });
  }
}

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}
