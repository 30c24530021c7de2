import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { TradeError } from '../../domain/errors.ts';
import { OS_TERMINAL_SCENE } from '../../machines/types.ts';
import type { TradeCenter } from '../../runtime/trade-center.ts';
import { taskView, type TransactionView } from '../../runtime/view.ts';
import { assertMayActFor, visibleTransaction, visibleTo } from '../auth.ts';
import { idempotent, type KeyedRun } from '../idempotency.ts';
import { CombinedCalls, type CallRun } from '../../runtime/combined-calls.ts';
import { CancelBody, CheckoutBody, errorResponses, OrderAndPayBody, OrderBody, OrderParams, PayBody, RefundBody, RefundParams, RefundViewSchema, RequoteBody, StartBody, TransactionViewSchema, TxnParams } from '../schemas.ts';

/** Post-payment tasks as the view lists them: status, attempts, last error, next run. */
/**
 * The scene of orders imported from OS's history is theirs alone: it is what tells an imported
 * order (its post-payment work done at OS, nothing to reverse on a refund, no OS events but the
 * refunds made here) from a sale made here, so a live sale may not take it (OS terminals selling
 * live have scenes of their own, `os_light` / `os_dual`). Refused before anything is stored.
 */
function assertLiveScene(scene: string): void {
  if (scene === OS_TERMINAL_SCENE) {
    throw new TradeError('INVALID_REQUEST', `scene ${OS_TERMINAL_SCENE} is reserved for orders imported from OS history`, { scene });
  }
}

export async function taskViews(tc: TradeCenter, txnNo: string) {
  return (await tc.reads.tasks(txnNo)).map(taskView);
}

/** The public transaction API (API.md "Endpoints"), `trade` scope. */
export const transactionRoutes: FastifyPluginAsyncTypebox<{ tc: TradeCenter }> = async (app, { tc }) => {
  const { host, quotes, ids, clock } = tc;
  const combined = new CombinedCalls(tc);
  const paidStatus = (view: TransactionView) => (view.state === 'paid' || view.state === 'completed' ? 200 : 202);
  const callRun = (run: KeyedRun): CallRun => ({ resumed: run.resumed !== null, commandId: run.commandId, txnNo: run.txnNo });

  app.post('/v1/transactions', {
    config: { scope: 'trade' },
    schema: { summary: 'Start a transaction and quote it', body: StartBody, response: { 201: TransactionViewSchema, ...errorResponses } },
    handler: async (req, reply) => {
      assertMayActFor(req, req.body.merchantId);
      assertLiveScene(req.body.scene);
      // Before the idempotency claim: a sale the old system takes leaves nothing stored here.
      await tc.routing.assertLive(req.body.scene, req.body.stationId);
      await idempotent(tc.idempotencyLeases, req, reply, async (run) => {
        const body = req.body;
        const txnNo = await run.txnNo(() => ids.next('T'));
        // The run that died may have stored it: that transaction is the answer.
        const started = run.resumed ? await host.view(txnNo) : null;
        if (started) return { status: 201, body: started };
        const quote = await quotes.quote({
          merchantId: body.merchantId,
          stationId: body.stationId,
          userId: body.userId,
          items: body.items,
          paymentMethods: body.paymentMethods ?? [],
          usePoints: body.usePoints ?? false,
        });
        const view = await host.create({
          txnNo,
          scene: body.scene,
          merchantId: body.merchantId,
          stationId: body.stationId,
          userId: body.userId,
          quote,
          paymentTtlMs: tc.config.paymentTtlMs,
          queryAfterMs: tc.config.queryAfterMs,
          refundPolicy: tc.config.refundPolicy,
          createdAt: new Date(clock.now()).toISOString(),
        });
        return { status: 201, body: view };
      });
    },
  });

  app.post('/v1/transactions/:txnNo/quotes', {
    config: { scope: 'trade' },
    schema: { summary: 'Re-quote with changed items or methods; the previous quote is superseded', params: TxnParams, body: RequoteBody, response: { 201: TransactionViewSchema, ...errorResponses } },
    handler: async (req, reply) => {
      const current = await visibleTransaction(host, req, req.params.txnNo);
      await idempotent(tc.idempotencyLeases, req, reply, async (run) => {
        // Refuse before asking anyone: a transaction past `quoted` keeps its quote.
        if (current.state !== 'quoted') throw new TradeError('INVALID_STATE', `a ${current.state} transaction cannot be re-quoted`, { state: current.state });
        const quote = await quotes.quote({
          merchantId: current.merchantId,
          stationId: current.stationId,
          userId: current.userId,
          items: req.body.items,
          paymentMethods: req.body.paymentMethods ?? [],
          usePoints: req.body.usePoints ?? false,
        });
        const { view, refusal } = await host.command(req.params.txnNo, (at, requestId) => ({ type: 'REQUOTE', requestId, at, quote }), run.commandId('requote'));
        if (refusal) throw TradeError.from(refusal);
        return { status: 201, body: view };
      });
    },
  });

  app.post('/v1/transactions/:txnNo/order', {
    config: { scope: 'trade' },
    schema: { summary: 'Place the order from a quote and combination', params: TxnParams, body: OrderBody, response: { 201: TransactionViewSchema, ...errorResponses } },
    handler: async (req, reply) => {
      const current = await visibleTransaction(host, req, req.params.txnNo);
      await idempotent(tc.idempotencyLeases, req, reply, async (run) => {
        const { view, refusal } = await host.command(req.params.txnNo, (at, requestId) => ({
          type: 'ORDER',
          requestId,
          at,
          orderNo: ids.next('O'),
          quoteId: req.body.quoteId,
          comboId: req.body.comboId,
          deductionMode: tc.deductionMode(current.scene, req.body.deductionMode),
        }), run.commandId('order'));
        if (refusal) throw TradeError.from(refusal);
        return { status: 201, body: view };
      });
    },
  });

  app.post('/v1/transactions/:txnNo/payments', {
    config: { scope: 'trade' },
    schema: { summary: 'Pay with legs', params: TxnParams, body: PayBody, response: { 200: TransactionViewSchema, 202: TransactionViewSchema, ...errorResponses } },
    handler: async (req, reply) => {
      await visibleTransaction(host, req, req.params.txnNo);
      await idempotent(tc.idempotencyLeases, req, reply, async (run) => {
        const { view, refusal } = await host.command(req.params.txnNo, (at, requestId) => ({
          type: 'PAY',
          requestId,
          at,
          legs: req.body.legs.map((l) => ({ method: l.method, amount: l.amount, ...(l.cardNo ? { cardNo: l.cardNo } : {}) })),
        }), run.commandId('pay'));
        if (refusal) throw TradeError.from(refusal);
        return { status: paidStatus(view), body: view };
      });
    },
  });

  app.post('/v1/transactions/:txnNo/order-and-pay', {
    config: { scope: 'trade' },
    schema: { summary: 'Order and pay in one call (all or nothing)', params: TxnParams, body: OrderAndPayBody, response: { 200: TransactionViewSchema, 202: TransactionViewSchema, ...errorResponses } },
    handler: async (req, reply) => {
      const current = await visibleTransaction(host, req, req.params.txnNo);
      await idempotent(tc.idempotencyLeases, req, reply, async (run) => {
        const view = await combined.orderAndPay(req.params.txnNo, { ...req.body, deductionMode: tc.deductionMode(current.scene, req.body.deductionMode) }, callRun(run));
        return { status: paidStatus(view), body: view };
      });
    },
  });

  app.post('/v1/checkout', {
    config: { scope: 'trade' },
    schema: { summary: 'Quote, order and pay in one call (all or nothing)', body: CheckoutBody, response: { 200: TransactionViewSchema, 202: TransactionViewSchema, ...errorResponses } },
    handler: async (req, reply) => {
      assertMayActFor(req, req.body.merchantId);
      assertLiveScene(req.body.scene);
      await tc.routing.assertLive(req.body.scene, req.body.stationId);
      await idempotent(tc.idempotencyLeases, req, reply, async (run) => {
        const b = req.body;
        const view = await combined.checkout(
          { scene: b.scene, merchantId: b.merchantId, stationId: b.stationId, userId: b.userId, items: b.items, paymentMethods: b.paymentMethods ?? [], usePoints: b.usePoints ?? false },
          { deductionMode: tc.deductionMode(b.scene, b.deductionMode), legs: b.legs, ...(b.comboId ? { comboId: b.comboId } : {}) },
          callRun(run),
        );
        return { status: paidStatus(view), body: view };
      });
    },
  });

  app.post('/v1/transactions/:txnNo/cancel', {
    config: { scope: 'trade' },
    schema: { summary: 'Cancel before payment completes', params: TxnParams, body: CancelBody, response: { 200: TransactionViewSchema, ...errorResponses } },
    handler: async (req, reply) => {
      await visibleTransaction(host, req, req.params.txnNo);
      await idempotent(tc.idempotencyLeases, req, reply, async (run) => {
        const { view, refusal } = await host.command(req.params.txnNo, (at, requestId) => ({
          type: 'CANCEL',
          requestId,
          at,
          reason: req.body?.reason ?? 'cancelled by the channel',
        }), run.commandId('cancel'));
        if (refusal) throw TradeError.from(refusal);
        return { status: 200, body: view };
      });
    },
  });

  app.post('/v1/transactions/:txnNo/refunds', {
    config: { scope: 'refund' },
    schema: { summary: 'Refund: an amount, lines, or (neither) everything refundable', params: TxnParams, body: RefundBody, response: { 202: Type.Object({ refundNo: Type.String(), refund: RefundViewSchema, transaction: TransactionViewSchema }), ...errorResponses } },
    handler: async (req, reply) => {
      await visibleTransaction(host, req, req.params.txnNo);
      await idempotent(tc.idempotencyLeases, req, reply, async (run) => {
        if (req.body.amount !== undefined && req.body.lines) throw new TradeError('INVALID_REQUEST', 'give an amount or lines, not both');
        // Recorded like a created transaction's number: a run taking over from a dead process
        // answers with the refund the first run asked for instead of asking for a second one.
        const refundNo = await run.txnNo(() => ids.next('R'));
        if (run.resumed) {
          const view = await host.view(req.params.txnNo);
          const asked = view?.refunds.find((r) => r.refundNo === refundNo);
          if (view && asked) return { status: 202, body: { refundNo, refund: asked, transaction: view } };
        }
        const { view, refusal } = await host.command(req.params.txnNo, (at, requestId) => ({
          type: 'REFUND',
          requestId,
          at,
          refundNo,
          reason: req.body.reason,
          ...(req.body.amount !== undefined ? { amountFen: req.body.amount } : {}),
          ...(req.body.lines ? { lines: req.body.lines.map((l) => ({ lineNo: l.lineNo, ...(l.quantity !== undefined ? { quantity: l.quantity } : {}), ...(l.amount !== undefined ? { amountFen: l.amount } : {}) })) } : {}),
        }));
        if (refusal) throw TradeError.from(refusal);
        return { status: 202, body: { refundNo, refund: view.refunds.find((r) => r.refundNo === refundNo), transaction: view } };
      });
    },
  });

  app.get('/v1/transactions/:txnNo/refunds/:refundNo', {
    config: { scope: 'refund' },
    schema: { summary: 'One refund', params: RefundParams, response: { 200: RefundViewSchema, ...errorResponses } },
    handler: async (req) => {
      const view = await visibleTransaction(host, req, req.params.txnNo);
      const refund = view.refunds.find((r) => r.refundNo === req.params.refundNo);
      if (!refund) throw new TradeError('NOT_FOUND', `no refund ${req.params.refundNo} of ${req.params.txnNo}`);
      return refund;
    },
  });

  app.get('/v1/transactions/:txnNo', {
    config: { scope: 'trade' },
    schema: { summary: 'The transaction view, with its post-payment tasks', params: TxnParams, response: { 200: TransactionViewSchema, ...errorResponses } },
    handler: async (req) => {
      const view = await visibleTransaction(host, req, req.params.txnNo);
      return { ...view, tasks: await taskViews(tc, view.txnNo) };
    },
  });

  app.get('/v1/orders/:orderNo', {
    config: { scope: 'trade' },
    schema: { summary: 'The transaction view, found by order number', params: OrderParams, response: { 200: TransactionViewSchema, ...errorResponses } },
    handler: async (req) => {
      const view = await host.viewByOrderNo(req.params.orderNo);
      if (!view || !visibleTo(req, view.merchantId)) throw new TradeError('NOT_FOUND', `no order ${req.params.orderNo}`);
      return view;
    },
  });
};
