import type { Logger } from 'pino';
import { fromPromise } from 'xstate';
import type { CallResult, KeyedInput } from '../machines/calls.ts';
import type { BenefitHold } from '../machines/types.ts';
import type { Outcome, SystemName } from '../systems/contract.ts';
import type { Systems } from '../systems/index.ts';
import { realSleep, type Clock, type Sleep } from './clock.ts';
import type { Downstream } from './downstream.ts';

export interface CallOptions {
  /** Attempts of an undo (cancel/close) or a read before the machine is told it failed; each is safe to repeat. */
  undoAttempts: number;
  undoBackoffMs: number;
  /** How the backoff waits; real timers unless the simulation runs the clock. */
  sleep?: Sleep;
}

/**
 * Waits until the snapshot that records "this call is about to run" is durably stored
 * (DESIGN.md rule 2 applied to side effects): a crash after this point re-runs the call with the
 * same key on restore, a crash before it never made the call.
 */
export type PersistBarrier = (txnNo: string) => Promise<void>;

/**
 * Binds the machines' named calls (machines/calls.ts) to the downstream ports. Every call waits
 * for the persist barrier, runs under a deadline, and resolves (never rejects) to the port's
 * outcome or `UNAVAILABLE`, stamped with the clock's time.
 */
export function bindCalls(systems: Systems, downstream: Downstream, clock: Clock, barrier: PersistBarrier, options: CallOptions, log: Logger) {
  const sleep = options.sleep ?? realSleep;
  function call<I extends { key?: { txnNo: string; step: string }; txnNo?: string }, T>(
    systemOf: SystemName | ((input: I) => SystemName),
    name: string,
    run: (input: I) => Promise<Outcome<T>>,
    attempts = 1,
  ) {
    return fromPromise<CallResult<T>, I>(async ({ input }) => {
      const txnNo = input.key?.txnNo ?? input.txnNo ?? '';
      const system = typeof systemOf === 'function' ? systemOf(input) : systemOf;
      await barrier(txnNo);
      let lastError = '';
      for (let attempt = 1; attempt <= attempts; attempt++) {
        try {
          const outcome = await downstream.call(system, () => run(input));
          return { ...outcome, at: clock.now() } as CallResult<T>;
        } catch (err) {
          lastError = err instanceof Error ? err.message : String(err);
          log.warn({ txnNo, system, call: name, step: input.key?.step, attempt, err: lastError }, 'downstream call failed');
          if (attempt < attempts) await sleep(options.undoBackoffMs * 2 ** (attempt - 1));
        }
      }
      return { ok: false, code: 'UNAVAILABLE', message: `${system} unavailable: ${lastError}`, system, at: clock.now() };
    });
  }
  const undo = options.undoAttempts;
  /** Benefit holds go to the system named by their resource (coupon, points, goods). */
  const holdSystem = (i: { request: { hold: BenefitHold } }): SystemName => i.request.hold.resource;
  return {
    createOrder: call('order', 'createOrder', (i: KeyedInput<Parameters<Systems['order']['createOrder']>[1]>) => systems.order.createOrder(i.key, i.request)),
    cancelOrder: call('order', 'cancelOrder', (i: KeyedInput<{ orderNo: string; reason: string }>) => systems.order.cancelOrder(i.key, i.request), undo),
    markOrderPaid: call('order', 'markOrderPaid', (i: KeyedInput<{ orderNo: string; paidAmountFen: number }>) => systems.order.markPaid(i.key, i.request)),
    lockStoredValue: call('storedValue', 'lockStoredValue', (i: KeyedInput<{ lockKey: string; cardNo: string; amountFen: number }>) => systems.storedValue.lock(i.key, i.request)),
    confirmStoredValue: call('storedValue', 'confirmStoredValue', (i: KeyedInput<{ lockKey: string }>) => systems.storedValue.confirm(i.key, i.request)),
    cancelStoredValue: call('storedValue', 'cancelStoredValue', (i: KeyedInput<{ lockKey: string }>) => systems.storedValue.cancel(i.key, i.request), undo),
    createPayment: call('paymentGateway', 'createPayment', (i: KeyedInput<Parameters<Systems['paymentGateway']['createPayment']>[1]>) =>
      systems.paymentGateway.createPayment(i.key, i.request),
    ),
    // A read is safe to repeat: it backs off like an undo, so a caller that asks again on
    // UNAVAILABLE (the late-payment check) does not spin while the gateway is down.
    queryPayment: call(
      'paymentGateway',
      'queryPayment',
      async (i: { txnNo: string; paymentNo: string }) => ({ ok: true as const, payment: await systems.paymentGateway.queryPayment(i.paymentNo) }),
      undo,
    ),
    closePayment: call('paymentGateway', 'closePayment', (i: KeyedInput<{ paymentNo: string }>) => systems.paymentGateway.closePayment(i.key, i.request), undo),
    refundPayment: call(
      'paymentGateway',
      'refundPayment',
      (i: KeyedInput<{ paymentNo: string; refundNo: string; amountFen: number }>): Promise<Outcome<{}>> => systems.paymentGateway.refundPayment(i.key, i.request),
      undo,
    ),
    queryRefund: call(
      'paymentGateway',
      'queryRefund',
      async (i: { txnNo: string; refundNo: string }) => ({ ok: true as const, refund: await systems.paymentGateway.queryRefund(i.refundNo) }),
      undo,
    ),
    creditCard: call(
      'storedValue',
      'creditCard',
      (i: KeyedInput<{ cardNo: string; creditNo: string; amountFen: number; reason: 'top-up' | 'refund' | 'bonus' }>): Promise<Outcome<{}>> => systems.storedValue.credit(i.key, i.request),
    ),
    // Asked again under its key like an undo: a debit whose answer was lost must be settled by
    // that key's first result, not guessed (the refund waits for it before any money goes back).
    debitCard: call(
      'storedValue',
      'debitCard',
      (i: KeyedInput<{ cardNo: string; debitNo: string; amountFen: number; reason: 'top-up-refund' }>): Promise<Outcome<{}>> => systems.storedValue.debit(i.key, i.request),
      undo,
    ),
    restorePoints: call(
      'points',
      'restorePoints',
      (i: KeyedInput<{ userId: string; restoreNo: string; points: number }>): Promise<Outcome<{}>> => systems.points.restore(i.key, i.request),
      undo,
    ),
    restoreCoupons: call('coupon', 'restoreCoupons', (i: KeyedInput<{ userId: string; restoreNo: string; couponIds: string[] }>) => systems.coupon.restore(i.key, i.request), undo),
    lockHold: call(holdSystem, 'lockHold', (i: KeyedInput<{ hold: BenefitHold; userId: string; stationId: string }>): Promise<Outcome<{}>> => {
      const { hold, userId, stationId } = i.request;
      switch (hold.resource) {
        case 'coupon':
          return systems.coupon.lock(i.key, { lockKey: hold.lockKey, userId, couponIds: hold.couponIds ?? [] });
        case 'points':
          return systems.points.lock(i.key, { lockKey: hold.lockKey, userId, points: hold.points ?? 0 });
        case 'goods':
          return systems.goods.reserve(i.key, { lockKey: hold.lockKey, stationId, items: hold.items ?? [] });
      }
    }),
    confirmHold: call(holdSystem, 'confirmHold', (i: KeyedInput<{ hold: BenefitHold }>) => {
      const { lockKey, resource } = i.request.hold;
      if (resource === 'coupon') return systems.coupon.use(i.key, { lockKey });
      if (resource === 'points') return systems.points.deduct(i.key, { lockKey });
      return systems.goods.deduct(i.key, { lockKey });
    }),
    releaseHold: call(holdSystem, 'releaseHold', (i: KeyedInput<{ hold: BenefitHold }>) => {
      const { lockKey, resource } = i.request.hold;
      if (resource === 'coupon') return systems.coupon.release(i.key, { lockKey });
      if (resource === 'points') return systems.points.release(i.key, { lockKey });
      return systems.goods.release(i.key, { lockKey });
    }, undo),
  };
}
