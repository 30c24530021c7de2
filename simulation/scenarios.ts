import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { openSqliteStorage } from '../storage/sqlite/storage.ts';
import type { TransactionRecord } from '../storage/types.ts';
import { hotRecord } from '../runtime/transaction-reads.ts';
import type { SystemName } from '../systems/contract.ts';
import { DEMO_DATASET_URL, loadDataset } from '../systems/sim/index.ts';
import type { FaultSettings } from '../systems/sim/faults.ts';
import { Prng } from './prng.ts';
import { World, type Reply } from './world.ts';
import type { View } from './workload.ts';

/** One step of a scripted sale: something a channel, a customer, a downstream system or time does. */
export interface ScenarioStep {
  /** Names the waiting state the step leaves the transaction in (the fixture's file name). */
  label: string;
  run(d: ScriptedRun): Promise<void>;
}

/** A scripted sale from start to its end, and the end it must reach. */
export interface Scenario {
  name: string;
  steps: ScenarioStep[];
  /** The API state the transaction ends in. */
  ends: 'completed' | 'cancelled';
  /** Every refund it asked for has succeeded by the end. */
  refunded?: boolean;
}

const SEED = 22;
/** Durable timers and the gateway's outbox are looked at this often while time moves on. */
const TICK_MS = 5_000;

/**
 * One scripted sale on the whole platform (the simulation's {@link World}: real machines, host,
 * SQLite store and simulators on virtual time, a fixed seed), so that the same script gives the
 * same transaction, numbers and snapshots on every run: what the snapshot fixtures are made of,
 * and what a test replays to the point a fixture was taken.
 */
export class ScriptedRun {
  readonly world: World;
  txnNo = '';
  private quote: { quoteId: string; combos: { comboId: string; payableAmount: number; allowedMethods?: string[] }[] } | null = null;
  private methods: string[] = [];
  private payable = 0;
  private readonly realNow = Date.now;
  private readonly realRandom = Math.random;

  private constructor(readonly dir: string) {
    const prng = new Prng(SEED);
    this.world = new World({ seed: SEED, dir, dataset: loadDataset(DEMO_DATASET_URL), prng });
    // Third-party code (the circuit breaker) reads the wall clock and Math.random itself: inside a run both are the run's.
    const time = this.world.time;
    const thirdParty = prng.fork('third-party');
    Date.now = () => time.now();
    Math.random = () => thirdParty.next();
  }

  static async open(): Promise<ScriptedRun> {
    const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'trade-scripted-'));
    const run = new ScriptedRun(dir);
    await run.world.boot();
    return run;
  }

  async close(): Promise<void> {
    try {
      await this.world.close();
    } finally {
      Date.now = this.realNow;
      Math.random = this.realRandom;
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  // ── what a channel does ─────────────────────────────────────────────────────────────────

  async start(body: Record<string, unknown>): Promise<void> {
    const view = ok<View & { quote: ScriptedRun['quote'] }>(await this.world.request('POST', '/v1/transactions', { scene: 'merchant_pos', merchantId: 'M1', stationId: 'S1', ...body }), 'start');
    this.txnNo = view.txnNo;
    this.quote = view.quote;
    this.methods = (body.paymentMethods as string[] | undefined) ?? [];
  }

  async order(body: Record<string, unknown> = {}): Promise<void> {
    // A combination every method of the sale may pay (a method-bound discount would refuse a mixed payment).
    const combo = this.quote!.combos.find((c) => !c.allowedMethods || this.methods.every((m) => c.allowedMethods!.includes(m))) ?? this.quote!.combos[0]!;
    this.payable = combo.payableAmount;
    ok(await this.world.request('POST', `/v1/transactions/${this.txnNo}/order`, { quoteId: this.quote!.quoteId, comboId: combo.comboId, ...body }), 'order');
  }

  /** Pays with these methods; the last leg takes what the others leave (a card leg pays `cardFen`). */
  async pay(methods: string[], cardFen = 5_000): Promise<void> {
    let left = this.payable;
    const legs = methods.map((method, i) => {
      const amount = i === methods.length - 1 ? left : Math.min(cardFen, left);
      left -= amount;
      return { method, amount, ...(method === 'stored_value' ? { cardNo: 'C1' } : {}) };
    });
    ok(await this.world.request('POST', `/v1/transactions/${this.txnNo}/payments`, { legs }), 'pay');
  }

  async cancel(): Promise<void> {
    ok(await this.world.request('POST', `/v1/transactions/${this.txnNo}/cancel`, { reason: 'the customer changed their mind' }), 'cancel');
  }

  /** A cancel the platform is still working on when the channel stops waiting (a core system is down): answered 503. */
  async cancelStillWorking(): Promise<void> {
    const answer = this.world.request('POST', `/v1/transactions/${this.txnNo}/cancel`, { reason: 'the customer changed their mind' });
    await this.advance(this.world.tc.config.callTimeoutMs * 4 + 1);
    const reply = await answer;
    if (reply.status !== 503) throw new Error(`cancel answered ${reply.status}, not 503: ${JSON.stringify(reply.body)}`);
  }

  async refund(): Promise<void> {
    ok(await this.world.request('POST', `/v1/transactions/${this.txnNo}/refunds`, { reason: 'returned' }), 'refund');
  }

  async view(): Promise<View> {
    return ok<View>(await this.world.request('GET', `/v1/transactions/${this.txnNo}`), 'view');
  }

  // ── what the customer, the systems and time do ──────────────────────────────────────────

  /** The customer pays leg `legNo` at the channel (`late`: after the payment was closed). */
  async customerPays(legNo: number, late = false): Promise<void> {
    const paymentNo = `${this.txnNo}-P${legNo}`;
    const gateway = this.world.sims.gateway;
    await (late ? gateway.forcePay(paymentNo) : gateway.pay(paymentNo));
    await this.quiet();
  }

  fault(system: SystemName, settings: FaultSettings): void {
    this.world.sims.faults[system].configure(settings);
  }

  /** Lets virtual time pass, firing durable timers, running tasks and delivering callbacks as it goes. */
  async advance(ms: number): Promise<void> {
    const time = this.world.time;
    const target = time.now() + ms;
    for (let at = time.now() + TICK_MS; at < target; at += TICK_MS) time.at(at, () => undefined);
    time.at(target, () => undefined);
    for (;;) {
      await this.quiet();
      const next = time.nextDue();
      if (next === null || next > target) break;
      time.wake();
    }
    await this.quiet();
  }

  /** Lets everything that is ready run, without moving the clock. */
  async quiet(): Promise<void> {
    const { world } = this;
    // Not awaited: a timer or callback for a transaction whose command waits on virtual time
    // queues behind it, and that command moves only when the clock does (as simulate's tick).
    for (let round = 0; round < 4; round++) {
      await world.time.settle();
      if (!world.up) return;
      void world.tc.host.fireDueTimers().catch(() => undefined);
      void world.tc.tasks.runDue().catch(() => undefined);
      void world.sims.gateway.deliverDue().catch(() => undefined);
    }
    await world.time.settle();
  }

  /** The transaction as stored now. */
  async stored(): Promise<TransactionRecord> {
    await this.quiet();
    // A quoted-only transaction is stored as a quote record (issue 21), its snapshot inside it.
    const record = await hotRecord(this.world.tc.storage, this.txnNo);
    if (!record) throw new Error(`${this.txnNo} is not stored`);
    return record;
  }

  /**
   * A deploy: the running process dies, the stored snapshot is replaced by `snapshot` (one an
   * earlier version wrote at this point of the same script) and a new process boots on the store.
   */
  async redeployWith(snapshot: unknown): Promise<void> {
    await this.quiet();
    this.world.crash();
    const storage = openSqliteStorage(join(this.dir, 'trade.db'));
    try {
      // A quoted-only one is a quote record here; an earlier version stored a snapshot, and this
      // save (at the record's version) puts one in its place, as that version would have left it.
      const record = await hotRecord(storage, this.txnNo);
      if (!record) throw new Error(`${this.txnNo} is not stored`);
      const { version, ...rest } = record;
      const saved = await storage.snapshots.save({ ...rest, snapshot, tasks: [], osEvents: [] }, version, []);
      if (!saved.ok) throw new Error(`replacing the snapshot of ${this.txnNo} lost to another write`);
    } finally {
      await storage.close();
    }
    await this.world.boot();
    await this.quiet();
  }
}

function ok<T = View>(reply: Reply, what: string): T {
  if (reply.status >= 300) throw new Error(`${what} answered ${reply.status}: ${JSON.stringify(reply.body)}`);
  return reply.body as T;
}

const step = (label: string, run: (d: ScriptedRun) => Promise<void>): ScenarioStep => ({ label, run });
const TTL = 15 * 60_000;

/**
 * The scripted sales whose snapshots are the fixtures: together they pass through every state a
 * transaction waits in (and the children's: legs pending and locked, a refund waiting for its
 * channel, a late capture being checked and given back).
 */
export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'card-sale-refunded',
    ends: 'completed',
    refunded: true,
    steps: [
      step('quoted', (d) => d.start({ userId: 'U1', items: [{ type: 'fuel', nozzleNo: 1, amount: 30_000 }], paymentMethods: ['stored_value'] })),
      step('ordered', (d) => d.order()),
      step('completed', (d) => d.pay(['stored_value'], 100_000)),
      step('refunded', (d) => d.refund()),
    ],
  },
  {
    name: 'wechat-sale-refunded',
    ends: 'completed',
    refunded: true,
    steps: [
      step('quoted', (d) => d.start({ userId: 'U4', items: [{ type: 'fuel', nozzleNo: 1, amount: 20_000 }], paymentMethods: ['wechat'] })),
      step('ordered', (d) => d.order()),
      step('paying-leg-pending', (d) => d.pay(['wechat'])),
      step('completed', (d) => d.customerPays(1)),
      step('refund-waiting-for-channel', async (d) => {
        d.world.sims.gateway.configureCallbacks({ refundDelayMs: 120_000 });
        await d.refund();
      }),
      step('refunded', (d) => d.advance(180_000)),
    ],
  },
  {
    name: 'mixed-sale',
    ends: 'completed',
    steps: [
      step('ordered', async (d) => {
        await d.start({ userId: 'U1', items: [{ type: 'fuel', nozzleNo: 1, amount: 30_000 }], paymentMethods: ['stored_value', 'wechat'] });
        await d.order();
      }),
      step('paying-card-locked-wechat-pending', (d) => d.pay(['stored_value', 'wechat'])),
      step('completed', (d) => d.customerPays(2)),
    ],
  },
  {
    name: 'order-expires',
    ends: 'cancelled',
    steps: [
      step('ordered', async (d) => {
        await d.start({ userId: 'U1', items: [{ type: 'fuel', nozzleNo: 1, amount: 30_000 }], paymentMethods: ['wechat'] });
        await d.order();
      }),
      step('cancelled', (d) => d.advance(TTL + TICK_MS)),
    ],
  },
  {
    name: 'payment-expires',
    ends: 'cancelled',
    steps: [
      step('paying-leg-pending', async (d) => {
        await d.start({ userId: 'U4', items: [{ type: 'fuel', nozzleNo: 1, amount: 20_000 }], paymentMethods: ['wechat'] });
        await d.order();
        await d.pay(['wechat']);
      }),
      step('paying-legs-ending', async (d) => {
        // The channel does not answer the close: the expired payment waits for its leg to end.
        d.fault('paymentGateway', { closePayment: { outage: true } });
        await d.advance(TTL + TICK_MS);
      }),
      step('cancelled', async (d) => {
        d.fault('paymentGateway', {});
        await d.advance(10 * 60_000);
      }),
    ],
  },
  {
    name: 'cancelled-while-paying',
    ends: 'cancelled',
    steps: [
      step('paying-leg-pending', async (d) => {
        await d.start({ userId: 'U4', items: [{ type: 'fuel', nozzleNo: 1, amount: 20_000 }], paymentMethods: ['wechat'] });
        await d.order();
        await d.pay(['wechat']);
      }),
      step('cancelled', (d) => d.cancel()),
    ],
  },
  {
    name: 'mark-paid-retried',
    ends: 'completed',
    steps: [
      step('ordered', async (d) => {
        await d.start({ userId: 'U4', items: [{ type: 'fuel', nozzleNo: 1, amount: 20_000 }], paymentMethods: ['wechat'] });
        await d.order();
      }),
      step('paid-waiting-to-retry', async (d) => {
        d.fault('order', { markPaid: { outage: true } });
        await d.pay(['wechat']);
        await d.customerPays(1);
      }),
      step('completed', async (d) => {
        d.fault('order', {});
        await d.advance(5 * 60_000);
      }),
    ],
  },
  {
    name: 'cancel-retried',
    ends: 'cancelled',
    steps: [
      step('ordered-with-holds', async (d) => {
        await d.start({ userId: 'U1', items: [{ type: 'fuel', nozzleNo: 1, amount: 30_000 }], paymentMethods: ['wechat'] });
        await d.order({ deductionMode: 'pre' });
      }),
      step('unwinding-waiting-to-retry', async (d) => {
        d.fault('order', { cancelOrder: { outage: true } });
        await d.cancelStillWorking();
        await d.advance(5_000);
      }),
      step('cancelled', async (d) => {
        d.fault('order', {});
        await d.advance(5 * 60_000);
      }),
    ],
  },
  {
    name: 'late-capture-given-back',
    ends: 'cancelled',
    steps: [
      step('cancelled', async (d) => {
        await d.start({ userId: 'U4', items: [{ type: 'fuel', nozzleNo: 1, amount: 20_000 }], paymentMethods: ['wechat'] });
        await d.order();
        await d.pay(['wechat']);
        await d.cancel();
      }),
      step('late-capture-being-given-back', async (d) => {
        // The refund giving the late capture back waits for its channel to settle it.
        d.world.sims.gateway.configureCallbacks({ refundDelayMs: 120_000 });
        await d.customerPays(1, true);
      }),
      step('given-back', (d) => d.advance(180_000)),
    ],
  },
];
