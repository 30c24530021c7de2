import type { Clock } from '../../runtime/clock.ts';
import { simUrls } from '../../runtime/systems-config.ts';
import type { Outcome, SystemName } from '../../systems/contract.ts';
import type { HeldCoupon } from '../../systems/coupon/simulator.ts';
import { createHttpSystems } from '../../systems/http/index.ts';
import { SYSTEM_NAMES } from '../../systems/http/operations.ts';
import type { OrderRecord } from '../../systems/order/port.ts';
import type { PaymentRecord, RefundRecord } from '../../systems/payment-gateway/port.ts';
import type { CustomerActionRefusal, HistoricAdmission, HistoricPayment } from '../../systems/payment-gateway/simulator.ts';
import type { HeldPointsAccount } from '../../systems/points/simulator.ts';
import type { PointsPort } from '../../systems/points/port.ts';
import type { CallbackSettings, EffectRow, FaultSettings, Simulators } from '../../systems/sim/index.ts';
import type { OutboxRow } from '../../systems/sim/callback-outbox.ts';
import type { EffectFilter } from '../../systems/sim/store.ts';
import type { Card, StoredValuePort } from '../../systems/stored-value/port.ts';

/** A callback as the admin API shows it. */
export type CallbackView = Omit<OutboxRow, 'headers' | 'paymentNo'>;

type CustomerAction = (paymentNo: string) => Promise<Outcome<{ payment: PaymentRecord }, CustomerActionRefusal>>;

/** The fault knobs of one simulated system. */
export interface FaultControl {
  configure(settings: FaultSettings): Promise<void>;
  clear(): Promise<void>;
  current(): Promise<FaultSettings>;
}

/**
 * What the end-to-end suites look at and turn in the simulated world, the same whether the
 * simulators run in the platform's process ({@link localSimControl}) or as a `trade sim` of
 * their own ({@link remoteSimControl}); async, because the remote one crosses HTTP.
 */
export interface SimControl {
  systems: {
    storedValue: Pick<StoredValuePort, 'lock' | 'confirm'> & { peekCard(cardNo: string): Promise<Card | null> };
    /** `withdraw`: the coupon is gone from the coupon system, which then refuses to restore it. */
    coupon: { peekCoupons(userId: string): Promise<HeldCoupon[]>; peekCoupon(couponId: string): Promise<HeldCoupon | null>; withdraw(couponId: string): Promise<void> };
    /** `closeAccount`: the user's points account is gone, so points given back are refused. */
    points: Pick<PointsPort, 'lock' | 'deduct'> & { peekPointsAccount(userId: string): Promise<HeldPointsAccount | null>; closeAccount(userId: string): Promise<void> };
    order: { peekOrder(orderNo: string): Promise<OrderRecord | null> };
    paymentGateway: { peekPayment(paymentNo: string): Promise<PaymentRecord | null>; peekRefunds(paymentNo: string): Promise<RefundRecord[]> };
  };
  gateway: {
    pay: CustomerAction;
    fail: CustomerAction;
    forcePay: CustomerAction;
    configureCallbacks(settings: Partial<CallbackSettings>): Promise<CallbackSettings>;
    callbacks(paymentNo: string): Promise<CallbackView[]>;
    peekPayment(paymentNo: string): Promise<PaymentRecord | null>;
    /** Payments the real channel took before the platform (OS history, issue 20): `POST /sim/historic-payments` remotely. */
    admitHistoricPayments(payments: HistoricPayment[]): Promise<HistoricAdmission>;
  };
  store: { effects(filter?: EffectFilter): Promise<EffectRow[]> };
  faults: Record<SystemName, FaultControl>;
  close(): Promise<void>;
}

/** The in-process simulators behind the {@link SimControl} interface. */
export function localSimControl(sims: Simulators): SimControl {
  const { systems: s, gateway, store, faults } = sims;
  return {
    systems: {
      storedValue: { lock: (k, r) => s.storedValue.lock(k, r), confirm: (k, r) => s.storedValue.confirm(k, r), peekCard: async (c) => s.storedValue.peekCard(c) },
      coupon: { peekCoupons: async (u) => s.coupon.peekCoupons(u), peekCoupon: async (c) => s.coupon.peekCoupon(c), withdraw: async (c) => s.coupon.withdraw(c) },
      points: {
        lock: (k, r) => s.points.lock(k, r),
        deduct: (k, r) => s.points.deduct(k, r),
        peekPointsAccount: async (u) => s.points.peekPointsAccount(u),
        closeAccount: async (u) => s.points.closeAccount(u),
      },
      order: { peekOrder: async (o) => s.order.peekOrder(o) },
      paymentGateway: { peekPayment: async (p) => gateway.peekPayment(p), peekRefunds: async (p) => gateway.peekRefunds(p) },
    },
    gateway: {
      pay: (p) => gateway.pay(p),
      fail: (p) => gateway.fail(p),
      forcePay: (p) => gateway.forcePay(p),
      configureCallbacks: async (settings) => gateway.configureCallbacks(settings),
      callbacks: async (p) => gateway.callbacks(p),
      peekPayment: async (p) => gateway.peekPayment(p),
      admitHistoricPayments: async (payments) => gateway.admitHistoricPayments(payments),
    },
    store: { effects: async (filter) => store.effects(filter) },
    faults: Object.fromEntries(SYSTEM_NAMES.map((name) => [name, {
      configure: async (settings: FaultSettings) => faults[name].configure(settings),
      clear: async () => faults[name].clear(),
      current: async () => faults[name].current(),
    }])) as Record<SystemName, FaultControl>,
    close: async () => undefined,
  };
}

/**
 * A `trade sim` at `url` behind the {@link SimControl} interface: peeks and knobs through its
 * `/sim` admin routes (with `adminToken` as Bearer when it has one), port verbs through the HTTP
 * connectors. With a clock, every request carries `x-tc-now`, so a `--clock follow` sim stays at
 * the test's time.
 */
export function remoteSimControl(url: string, clock?: Clock, adminToken?: string): SimControl {
  const remote = createHttpSystems({ urls: simUrls(url), poolSize: 2, timeoutMs: () => 10_000, ...(clock ? { sendClock: clock } : {}) });
  async function admin<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${url}/sim${path}`, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(clock ? { 'x-tc-now': String(clock.now()) } : {}),
        ...(adminToken ? { authorization: `Bearer ${adminToken}` } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (res.status >= 500 || res.status === 400) throw new Error(`sim admin ${method} ${path}: HTTP ${res.status} ${text}`);
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  }
  async function found<T, K extends string>(path: string, field: K): Promise<T | null> {
    const res = await admin<Record<K, T>>('GET', path);
    return res.status === 404 ? null : res.body[field];
  }
  const enc = encodeURIComponent;
  const action = (verb: string): CustomerAction => async (paymentNo) => {
    const res = await admin<{ payment: PaymentRecord } & { error: { code: CustomerActionRefusal; message: string } }>('POST', `/payments/${enc(paymentNo)}/${verb}`);
    return res.status === 200 ? { ok: true, payment: res.body.payment } : { ok: false, code: res.body.error.code, message: res.body.error.message };
  };
  const peekPayment = (p: string) => found<PaymentRecord, 'payment'>(`/payments/${enc(p)}`, 'payment');
  return {
    systems: {
      storedValue: { lock: remote.systems.storedValue.lock, confirm: remote.systems.storedValue.confirm, peekCard: (c) => found(`/cards/${enc(c)}`, 'card') },
      coupon: {
        peekCoupons: async (u) => (await admin<{ coupons: HeldCoupon[] }>('GET', `/coupons/${enc(u)}`)).body.coupons,
        peekCoupon: (c) => found(`/coupon/${enc(c)}`, 'coupon'),
        withdraw: async (c) => void (await admin('POST', `/coupon/${enc(c)}/withdraw`)),
      },
      points: {
        lock: remote.systems.points.lock,
        deduct: remote.systems.points.deduct,
        peekPointsAccount: (u) => found(`/points/${enc(u)}`, 'account'),
        closeAccount: async (u) => void (await admin('POST', `/points/${enc(u)}/close`)),
      },
      order: { peekOrder: (o) => found(`/orders/${enc(o)}`, 'order') },
      paymentGateway: { peekPayment, peekRefunds: async (p) => (await found<RefundRecord[], 'refunds'>(`/payments/${enc(p)}`, 'refunds')) ?? [] },
    },
    gateway: {
      pay: action('pay'),
      fail: action('fail'),
      forcePay: action('force-pay'),
      configureCallbacks: async (settings) => (await admin<CallbackSettings>('PUT', '/gateway', settings)).body,
      callbacks: async (p) => (await found<CallbackView[], 'callbacks'>(`/payments/${enc(p)}`, 'callbacks')) ?? [],
      peekPayment,
      admitHistoricPayments: async (payments) => {
        const res = await admin<HistoricAdmission & { error?: { code: string; message: string } }>('POST', '/historic-payments', { payments });
        if (res.status !== 200) throw new Error(`sim admin POST /historic-payments: HTTP ${res.status} ${res.body.error?.message ?? ''}`);
        return res.body;
      },
    },
    store: {
      effects: async (filter = {}) => {
        const query = new URLSearchParams(Object.entries(filter).filter((e): e is [string, string] => typeof e[1] === 'string'));
        return (await admin<{ effects: EffectRow[] }>('GET', `/effects?${query}`)).body.effects;
      },
    },
    faults: Object.fromEntries(SYSTEM_NAMES.map((name) => [name, {
      configure: async (settings: FaultSettings) => void (await admin('PUT', `/faults/${name}`, settings)),
      clear: async () => void (await admin('PUT', `/faults/${name}`, {})),
      current: async () => (await admin<Record<SystemName, FaultSettings>>('GET', '/faults')).body[name],
    }])) as Record<SystemName, FaultControl>,
    close: () => remote.close(),
  };
}
