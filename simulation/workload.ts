import type { TransactionView } from '../runtime/view.ts';
import type { SimPopulation } from './dataset.ts';
import type { Prng } from './prng.ts';
import type { Reply, World } from './world.ts';

/** A transaction view as GET returns it, with its post-payment tasks. */
export type View = TransactionView & { tasks?: { task: string; status: string }[] };

interface Quote {
  quoteId: string;
  bestComboId: string;
  combos: { comboId: string; paymentMethod?: string; allowedMethods?: string[]; payableAmount: number }[];
  lines: { lineNo: number; type: string; amount: number; quantity?: number }[];
}

/** A request made under an Idempotency-Key: replayed at the end, it must still be answerable. */
export interface KeyedRequest {
  key: string;
  method: 'POST';
  url: string;
  body: unknown;
  /** The first answer the channel got that was not a crash (0) or a 409 in progress. */
  status: number | null;
  /** That answer was a 5xx the key forgets (not "still working"): a retry under it is a new request. */
  forgotten: boolean;
}

type Leg = { method: string; amount: number | 'max' | 'rest'; cardNo?: string };

const ASYNC = ['wechat', 'alipay', 'unionpay', 'senseless'] as const;
const SCENES = ['merchant_pos', 'one_click_refuel', 'mini_program', 'senseless', 'dual_screen'] as const;

/** The scene shadow quotes are made for: routed `shadow` everywhere when the run makes any (run.ts), and sold by no sale. */
export const SHADOW_SCENE = 'quick_pay';

/** What the workload knows of the run it is part of. */
export interface WorkloadContext {
  world: World;
  population: SimPopulation;
  /** Every transaction the workload started (or may have: a start lost in a crash is found by the ledgers). */
  txnNos: Set<string>;
  keyed: KeyedRequest[];
  /** Late captures after close, forged callbacks: only while faults are on. */
  faults: boolean;
  counters: Record<string, number>;
  /** Weight of a shadow quote among the sale shapes (the others weigh 100 together); 0: none, the run as before. */
  shadowShare: number;
  /** Every shadow quote the platform acknowledged (201), by its number: each must be stored. */
  shadowIds: string[];
}

/**
 * One customer's sale, start to end, as a seeded script of API calls with think times between
 * them: every public operation and mix the platform takes (see the issue's workload list). It
 * reacts to what it gets back as a channel would: a crash (status 0) or a 503 is retried under
 * the same Idempotency-Key when it has one; refusals are values and end or change the sale.
 */
export class Sale {
  private txnNo: string | null = null;

  constructor(private readonly ctx: WorkloadContext, private readonly rng: Prng, private readonly n: number) {}

  async run(): Promise<void> {
    const shapes = { stepwise: 45, checkout: 25, orderAndPay: 15, topUp: 8, virtualItem: 4, walkAway: 3 } as const;
    // Without shadow quotes the draw is the one it always was: seeds replay the same runs.
    const kind = this.ctx.shadowShare > 0 ? this.rng.weighted({ ...shapes, shadow: this.ctx.shadowShare }) : this.rng.weighted(shapes);
    this.count(`sale:${kind}`);
    if (kind === 'checkout') return this.checkout();
    if (kind === 'shadow') return this.shadowQuote();
    return this.stepwise(kind);
  }

  // ── sale shapes ───────────────────────────────────────────────────────────────────────────

  private async checkout(): Promise<void> {
    const start = this.startBody();
    const legs = this.checkoutLegs(start.user.cardNo);
    const body = { ...start.body, paymentMethods: [...new Set(legs.map((l) => l.method))], legs };
    const reply = await this.post('/v1/checkout', body, { keyed: this.rng.chance(0.7), duplicate: this.rng.chance(0.05) });
    const view = this.viewOf(reply);
    if (!view) return;
    this.txnNo = view.txnNo;
    this.ctx.txnNos.add(view.txnNo);
    this.maybeCancelLater(0.05);
    await this.customerPays(view);
    await this.afterPayment();
  }

  private async stepwise(kind: 'stepwise' | 'orderAndPay' | 'topUp' | 'virtualItem' | 'walkAway'): Promise<void> {
    const start = this.startBody(kind === 'topUp' ? 'topUp' : kind === 'virtualItem' ? 'virtual' : 'mixed');
    const methods = this.methods(start.user.cardNo, kind === 'topUp');
    const started = await this.post('/v1/transactions', { ...start.body, paymentMethods: methods }, { keyed: this.rng.chance(0.5), duplicate: this.rng.chance(0.03) });
    const first = this.viewOf(started);
    if (!first) return;
    this.txnNo = first.txnNo;
    this.ctx.txnNos.add(first.txnNo);
    let quote = (first as unknown as { quote: Quote }).quote;
    // Re-quotes: the nozzle, the amount or the methods changed while the customer stood there.
    for (let i = 0; i < this.rng.int(0, 2) && this.rng.chance(0.3); i++) {
      await this.think(1_000, 20_000);
      const again = await this.post(`/v1/transactions/${this.txnNo}/quotes`, { items: this.startBody(kind === 'topUp' ? 'topUp' : 'mixed', start.user).body.items, paymentMethods: methods, usePoints: this.rng.chance(0.5) }, { keyed: this.rng.chance(0.5) });
      if (again.status === 201) quote = (again.body as { quote: Quote }).quote;
      this.count(`requote:${again.status}`);
    }
    // An early cancel, an abandoned quote: the transaction stays `quoted` until it expires.
    if (this.rng.chance(0.04)) return void (await this.cancel());
    if (kind === 'walkAway' && this.rng.chance(0.5)) return;
    await this.think(500, 30_000);
    const combo = this.comboFor(quote, methods);
    const deductionMode = this.rng.chance(0.25) ? this.rng.pick(['pre', 'post'] as const) : undefined;
    const legs = this.legs(combo.payableAmount, start.user.cardNo, methods);
    this.maybeCancelLater(0.06);
    let paying: Reply;
    if (kind === 'orderAndPay') {
      paying = await this.post(`/v1/transactions/${this.txnNo}/order-and-pay`, { quoteId: quote.quoteId, comboId: combo.comboId, legs, ...(deductionMode ? { deductionMode } : {}) }, { keyed: this.rng.chance(0.7), duplicate: this.rng.chance(0.05) });
    } else {
      const ordered = await this.post(`/v1/transactions/${this.txnNo}/order`, { quoteId: quote.quoteId, comboId: combo.comboId, ...(deductionMode ? { deductionMode } : {}) }, { keyed: this.rng.chance(0.6), duplicate: this.rng.chance(0.03) });
      this.count(`order:${ordered.status}`);
      if (ordered.status !== 201) return;
      if (kind === 'walkAway') return; // ordered, never paid: the order expires and its holds are released
      await this.think(500, 60_000);
      paying = await this.post(`/v1/transactions/${this.txnNo}/payments`, { legs }, { keyed: this.rng.chance(0.7), duplicate: this.rng.chance(0.05) });
    }
    this.count(`pay:${paying.status}`);
    const view = this.viewOf(paying);
    if (!view) return;
    await this.customerPays(view);
    await this.afterPayment();
  }

  /**
   * A sale the old system took, quoted beside it (issue 20): the old system's result is whatever
   * it said (here a seeded guess, so most disagree), at a moment shortly before now. The platform
   * must record it and change nothing else anywhere (the shadow invariants).
   */
  private async shadowQuote(): Promise<void> {
    const start = this.startBody();
    const methods = this.methods(start.user.cardNo, false);
    const legacy = {
      quotedAt: new Date(this.ctx.world.time.now() - this.rng.int(0, 120_000)).toISOString(),
      ref: `OLD-${this.n}`,
      paymentMethod: this.rng.pick(methods),
      discounts: this.rng.chance(0.5) ? [] : [{ kind: 'promotion', id: this.rng.pick(['P1', 'P3', 'P4']), amountFen: this.rng.int(1, 900) }],
      payableAmountFen: this.rng.int(0, 60_000),
    };
    const reply = await this.post('/v1/shadow/quotes', { ...start.body, scene: SHADOW_SCENE, paymentMethods: methods, legacy }, { keyed: this.rng.chance(0.5), duplicate: this.rng.chance(0.03) });
    this.count(`shadow:${reply.status}${reply.status >= 400 ? ` ${codeOf(reply)} ${JSON.stringify(reply.body).slice(0, 150)}` : ''}`);
    const shadowId = (reply.body as { shadowId?: unknown } | null)?.shadowId;
    if (reply.status === 201 && typeof shadowId === 'string') this.ctx.shadowIds.push(shadowId);
  }

  // ── the customer at the channel ─────────────────────────────────────────────────────────

  private async customerPays(view: View): Promise<void> {
    const gateway = this.ctx.world.sims.gateway;
    const pending = view.legs.filter((l) => (ASYNC as readonly string[]).includes(l.method) && l.status === 'pending');
    await Promise.all(
      pending.map(async (leg) => {
        await this.think(1_000, 90_000);
        const act = this.rng.weighted({ pay: 85, fail: 4, walkAway: 8, otherAmount: 1, payTwice: 2 });
        this.count(`customer:${act}`);
        if (act === 'walkAway') {
          // Late capture after close: the customer's app paid after the payment was closed.
          if (this.ctx.faults && this.rng.chance(0.3)) {
            await this.ctx.world.time.sleep(this.rng.int(60_000, 30 * 60_000));
            await gateway.forcePay(leg.paymentNo);
            this.count('fault:late-capture');
          }
          return;
        }
        if (act === 'fail') return void (await gateway.fail(leg.paymentNo));
        if (act === 'otherAmount' && this.ctx.faults) return void (await gateway.pay(leg.paymentNo, { capturedFen: leg.amount + 1 }));
        await gateway.pay(leg.paymentNo);
        if (act === 'payTwice') await gateway.pay(leg.paymentNo);
        if (this.ctx.faults && this.rng.chance(0.02)) await this.forgeCallback(leg.method, leg.paymentNo);
      }),
    );
  }

  /** A callback nobody signed: the platform must refuse it (401) and change nothing. */
  private async forgeCallback(channel: string, paymentNo: string): Promise<void> {
    const reply = await this.ctx.world.request('POST', `/v1/callbacks/payments/${channel}`, { paymentNo, status: 'SUCCESS', amountFen: 1 }, {
      'x-tc-timestamp': String(Math.floor(this.ctx.world.time.now() / 1000)),
      'x-tc-nonce': this.rng.hex(16),
      'x-tc-signature': this.rng.hex(64),
    });
    this.count(`forged:${reply.status}`);
  }

  // ── after payment: refunds, manual work ─────────────────────────────────────────────────

  private async afterPayment(): Promise<void> {
    const done = await this.waitFor((v) => ['completed', 'cancelled', 'failed'].includes(v.state), 12);
    if (!done || done.state !== 'completed') return;
    if (done.tasks?.some((t) => t.status === 'dead') && this.rng.chance(0.5)) await this.retryDeadTasks(done);
    if (this.rng.chance(0.03)) await this.post(`/admin/transactions/${done.txnNo}/nudge`, {}, { keyed: false });
    if (!this.rng.chance(0.3)) return;
    await this.think(10_000, 3_600_000);
    const shape = this.rng.weighted({ full: 35, partial: 30, severalPartial: 15, concurrent: 10, lines: 10 });
    this.count(`refund:${shape}`);
    const paid = done.payableAmount;
    if (paid <= 0) return void (await this.refund({ reason: 'zero' }));
    if (shape === 'full') return void (await this.refund({ reason: 'customer returned' }));
    if (shape === 'partial') return void (await this.refund({ amount: this.rng.int(1, paid), reason: 'partial' }));
    if (shape === 'severalPartial') {
      for (let i = 0; i < this.rng.int(2, 4); i++) {
        await this.refund({ amount: this.rng.int(1, Math.max(1, Math.floor(paid / 2))), reason: `partial ${i + 1}` });
        await this.think(1_000, 600_000);
      }
      return;
    }
    if (shape === 'concurrent') {
      await Promise.all([this.refund({ amount: this.rng.int(1, paid), reason: 'first' }), this.refund({ amount: this.rng.int(1, paid), reason: 'second' }), this.refund({ reason: 'all' })]);
      return;
    }
    const lines = (done.quote as unknown as Quote).lines;
    const line = this.rng.pick(lines);
    const byLine = line.type === 'goods' && line.quantity ? { lineNo: line.lineNo, quantity: this.rng.int(1, line.quantity) } : { lineNo: line.lineNo, amount: this.rng.int(1, Math.max(1, line.amount)) };
    await this.refund({ lines: [byLine], reason: 'by line' });
  }

  private async refund(body: { amount?: number; lines?: unknown[]; reason: string }): Promise<void> {
    const reply = await this.post(`/v1/transactions/${this.txnNo}/refunds`, body, { keyed: this.rng.chance(0.7), duplicate: this.rng.chance(0.05) });
    this.count(`refund:${reply.status}${reply.status >= 400 ? ` ${codeOf(reply)} ${JSON.stringify(reply.body).slice(0, 150)}` : ''}`);
  }

  private async retryDeadTasks(view: View): Promise<void> {
    for (const task of view.tasks ?? []) {
      if (task.status !== 'dead') continue;
      const reply = await this.post(`/admin/transactions/${view.txnNo}/tasks/${encodeURIComponent(task.task)}/retry`, {}, { keyed: false });
      this.count(`retry:${reply.status}`);
    }
  }

  private async cancel(): Promise<void> {
    if (!this.txnNo) return;
    const reply = await this.post(`/v1/transactions/${this.txnNo}/cancel`, { reason: 'customer changed their mind' }, { keyed: this.rng.chance(0.5), duplicate: this.rng.chance(0.05) });
    this.count(`cancel:${reply.status}`);
  }

  /** A cancel at a random later moment, racing whatever the sale is doing then. */
  private maybeCancelLater(p: number): void {
    if (!this.rng.chance(p)) return;
    const after = this.rng.int(0, 120_000);
    void this.ctx.world.time.sleep(after).then(() => this.cancel());
  }

  // ── requests ────────────────────────────────────────────────────────────────────────────

  /**
   * A POST as a channel sends it: with an Idempotency-Key when `keyed`; a crash (status 0) or
   * a 503 is tried again after a pause, under the same key (without one, only a read-only
   * start may be repeated safely, so the channel gives up); `duplicate` sends a second copy at
   * once (the double-tap), keyed alike.
   */
  private async post(url: string, body: unknown, opts: { keyed: boolean; duplicate?: boolean }): Promise<Reply> {
    const key = opts.keyed ? `sim-${this.n}-${this.rng.hex(12)}` : null;
    const record: KeyedRequest | null = key ? { key, method: 'POST', url, body, status: null, forgotten: false } : null;
    if (record) this.ctx.keyed.push(record);
    const headers: Record<string, string> = key ? { 'idempotency-key': key } : {};
    const send = () => this.ctx.world.request('POST', url, body, headers);
    const twin = opts.duplicate ? send() : null;
    let reply = await send();
    for (let attempt = 1; attempt <= 6 && (reply.status === 0 || reply.status === 503 || (reply.status === 409 && codeOf(reply) === 'REQUEST_IN_PROGRESS')); attempt++) {
      if (!key && reply.status === 0) break;
      await this.think(1_000 * attempt, 15_000 * attempt);
      reply = await send();
    }
    if (twin) this.count(`duplicate:${(await twin).status}`);
    if (record && reply.status !== 0 && !(reply.status === 409 && codeOf(reply) === 'REQUEST_IN_PROGRESS')) {
      record.status = reply.status;
      const details = (reply.body as { error?: { details?: { stillWorking?: boolean } } } | null)?.error?.details;
      record.forgotten = reply.status >= 500 && details?.stillWorking !== true;
    }
    return reply;
  }

  private async waitFor(done: (v: View) => boolean, polls: number): Promise<View | null> {
    let last: View | null = null;
    for (let i = 0; i < polls; i++) {
      await this.think(2_000, 30_000 * (i + 1));
      const reply = await this.ctx.world.request('GET', `/v1/transactions/${this.txnNo}`);
      if (reply.status !== 200) continue;
      last = reply.body as View;
      if (done(last)) return last;
    }
    return last;
  }

  private viewOf(reply: Reply): View | null {
    if (reply.status !== 200 && reply.status !== 201 && reply.status !== 202) return null;
    const view = reply.body as View;
    return typeof view?.txnNo === 'string' ? view : null;
  }

  private think(min: number, max: number): Promise<void> {
    return this.ctx.world.time.sleep(this.rng.int(min, max));
  }

  private count(what: string): void {
    this.ctx.counters[what] = (this.ctx.counters[what] ?? 0) + 1;
  }

  // ── what is bought and how it is paid ─────────────────────────────────────────────────────

  private startBody(shape: 'mixed' | 'topUp' | 'virtual' = 'mixed', who?: SimPopulation['users'][number]) {
    const { population } = this.ctx;
    const station = this.rng.pick(population.stations);
    const user = who ?? this.rng.pick(population.users);
    const items: unknown[] = [];
    if (shape === 'topUp') {
      const card = user.cardNo ?? this.rng.pick(population.users.filter((u) => u.cardNo)).cardNo!;
      items.push({ type: 'stored_value', cardNo: card, amount: this.rng.pick([10_000, 20_000, 50_000, 100_000]) });
    } else if (shape === 'virtual') {
      items.push({ type: 'virtual', code: this.rng.pick(['wash-voucher', 'lucky-wheel-spin']), name: 'Simulated extra', amount: this.rng.int(100, 3_000) });
    } else {
      if (this.rng.chance(0.85)) {
        const nozzleNo = this.rng.pick(station.nozzles);
        items.push(this.rng.chance(0.7) ? { type: 'fuel', nozzleNo, amount: this.rng.int(20, 600) * 100 } : { type: 'fuel', nozzleNo, volumeMl: this.rng.int(5_000, 60_000) });
      }
      if (items.length === 0 || this.rng.chance(0.3)) {
        for (let i = 0; i < this.rng.int(1, 2); i++) items.push({ type: 'goods', sku: this.rng.pick(population.skus[station.stationId] ?? ['SKU-WATER']), quantity: this.rng.int(1, 3) });
      }
    }
    const body = {
      scene: this.rng.pick(SCENES),
      merchantId: station.merchantId,
      stationId: station.stationId,
      userId: user.userId,
      items,
      usePoints: user.hasPoints && this.rng.chance(0.4),
    };
    return { body, user };
  }

  private methods(cardNo: string | null, topUp: boolean): string[] {
    const out = new Set<string>();
    if (cardNo && !topUp && this.rng.chance(0.6)) out.add('stored_value');
    out.add(this.rng.pick(ASYNC));
    if (this.rng.chance(0.25)) out.add(this.rng.pick(ASYNC));
    if (this.rng.chance(0.03)) out.add('cash');
    return [...out];
  }

  private comboFor(quote: Quote, methods: string[]) {
    const fits = quote.combos.filter((c) => !c.allowedMethods || methods.every((m) => c.allowedMethods!.includes(m)));
    if (fits.length && this.rng.chance(0.9)) return this.rng.pick(fits);
    return quote.combos.find((c) => c.comboId === quote.bestComboId) ?? quote.combos[0]!;
  }

  /** Legs adding up to `payable`: one method, or a card with one or two async legs, or two async legs. */
  private legs(payable: number, cardNo: string | null, methods: string[]): Leg[] {
    if (payable <= 0) return [{ method: methods[0]!, amount: 1 }];
    // One leg in twenty does not add up: a channel's bug the platform must refuse.
    const off = this.rng.chance(0.03) ? this.rng.int(1, 100) : 0;
    const asyncs = methods.filter((m) => m !== 'stored_value');
    const card = methods.includes('stored_value') && cardNo ? cardNo : null;
    const parts: Leg[] = [];
    let left = payable + off;
    if (card && (asyncs.length === 0 || this.rng.chance(0.7))) {
      const share = asyncs.length === 0 || left < 2 ? left : this.rng.int(1, left - 1);
      parts.push({ method: 'stored_value', cardNo: card, amount: share });
      left -= share;
    }
    if (left > 0) {
      if (asyncs.length > 1 && left >= 2 && this.rng.chance(0.5)) {
        const share = this.rng.int(1, left - 1);
        parts.push({ method: asyncs[0]!, amount: share }, { method: asyncs[1]!, amount: left - share });
      } else {
        parts.push({ method: asyncs[0] ?? 'wechat', amount: left });
      }
    }
    return parts;
  }

  /** Checkout legs: card `max` and the rest by a channel, a card alone (`rest`), or one channel. */
  private checkoutLegs(cardNo: string | null): Leg[] {
    const channel = this.rng.pick(ASYNC);
    if (!cardNo) return [{ method: channel, amount: 'rest' }];
    const shape = this.rng.weighted({ maxRest: 45, cardOnly: 35, channelOnly: 20 });
    if (shape === 'maxRest') return [{ method: 'stored_value', cardNo, amount: 'max' }, { method: channel, amount: 'rest' }];
    if (shape === 'cardOnly') return [{ method: 'stored_value', cardNo, amount: 'rest' }];
    return [{ method: channel, amount: 'rest' }];
  }
}

function codeOf(reply: Reply): string | null {
  return (reply.body as { error?: { code?: string } } | null)?.error?.code ?? null;
}
