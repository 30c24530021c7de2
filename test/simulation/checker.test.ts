import Database from 'better-sqlite3';
import t from 'tap';
import { enqueueActions, fromPromise } from 'xstate';
import type { CallResult, KeyedInput } from '../../machines/calls.ts';
import type { refundMachine } from '../../machines/refund.machine.ts';
import type { BenefitHold } from '../../machines/types.ts';
import type { ProvidedMachine } from '../../runtime/transaction-host.ts';
import type { Systems } from '../../systems/index.ts';
import { InvariantChecker, type OsSyncedView } from '../../simulation/invariants.ts';
import { simulate } from '../../simulation/run.ts';
import { loadDataset } from '../../systems/sim/index.ts';
import { DATASET_PATH } from '../helpers/harness.ts';

// The checker must catch a broken platform: each test swaps one broken implementation into the
// real machines through `.provide()` and asserts the simulation reports the invariant it breaks.

t.test('a compensation that skips a release leaves locks behind: locks-settled', async (t) => {
  const skipRelease = (m: ProvidedMachine) =>
    m.provide({ actors: { releaseHold: fromPromise<CallResult<{}>, KeyedInput<{ hold: BenefitHold }>>(async () => ({ ok: true, at: 0 })) } });
  const result = await simulate({ seed: 5, sales: 150, faults: 'none', crashes: 0, backend: 'sqlite', adjustMachine: skipRelease });
  t.ok(result.violations.some((v) => v.invariant === 'locks-settled'), 'locks-settled is reported');
  t.comment(result.violations.filter((v) => v.invariant === 'locks-settled').slice(0, 3).map((v) => v.message).join('\n'));
});

t.test('a refund that ignores its allocation and puts it all on the first leg: refund-exceeds-paid', async (t) => {
  const firstLegTakesAll = (m: ProvidedMachine) => {
    const refund = m.implementations.actors.refund as typeof refundMachine;
    return m.provide({
      actors: {
        refund: refund.provide({
          actions: {
            startLegs: enqueueActions(({ context, enqueue }) => {
              const total = context.legs.reduce((s, l) => s + l.amountFen, 0);
              const first = context.legs[0];
              if (!first) return;
              enqueue.spawnChild('refundLeg', { id: `rleg-${first.legNo}`, input: { ...first, amountFen: total, txnNo: context.txnNo, queryAfterMs: context.queryAfterMs } });
              for (const leg of context.legs.slice(1)) enqueue.raise({ type: 'RLEG_DONE', legNo: leg.legNo, status: 'succeeded' });
            }),
          },
        }),
      },
    });
  };
  const result = await simulate({ seed: 6, sales: 200, faults: 'none', crashes: 0, backend: 'sqlite', adjustMachine: firstLegTakesAll });
  t.ok(result.violations.some((v) => v.invariant === 'refund-exceeds-paid'), 'refund-exceeds-paid is reported');
  t.comment(result.violations.filter((v) => v.invariant === 'refund-exceeds-paid').slice(0, 3).map((v) => v.message).join('\n'));
});

t.test('a debit that retries a lost answer under a fresh key takes the money twice: card-balance', async (t) => {
  const freshKeyOnRetry = (m: ProvidedMachine, systems: Systems) => {
    const refund = m.implementations.actors.refund as typeof refundMachine;
    const debitCard = fromPromise<CallResult<{}>, KeyedInput<{ cardNo: string; debitNo: string; amountFen: number; reason: 'top-up-refund' }>>(async ({ input }) => {
      for (let attempt = 1; ; attempt++) {
        try {
          const outcome = await systems.storedValue.debit({ ...input.key, step: `${input.key.step}:${attempt}` }, { ...input.request, debitNo: `${input.request.debitNo}-${attempt}` });
          return { ...outcome, at: 0 };
        } catch (err) {
          if (attempt >= 3) return { ok: false, code: 'UNAVAILABLE', message: String(err), at: 0 };
        }
      }
    });
    return m.provide({ actors: { refund: refund.provide({ actors: { debitCard } }) } });
  };
  const result = await simulate({
    seed: 8,
    sales: 250,
    faults: 'none',
    crashes: 0,
    backend: 'sqlite',
    adjustMachine: freshKeyOnRetry,
    // The card system debits, then its answer is lost: the caller must ask again under the same key.
    prepare: (world) => world.sims.faults.storedValue.configure({ debit: { failAfterEffect: true } }),
  });
  t.ok(result.violations.some((v) => v.invariant === 'card-balance'), 'card-balance is reported');
  t.comment(result.violations.filter((v) => v.invariant === 'card-balance').slice(0, 3).map((v) => v.message).join('\n'));
});

t.test("the OS check reads OS's own records: an order never cancelled, an event twice or out of number, one of no sale: os-synced", async (t) => {
  const db = new Database(':memory:');
  t.teardown(() => db.close());
  db.exec('CREATE TABLE records (system TEXT NOT NULL, kind TEXT NOT NULL, no TEXT NOT NULL, txn_no TEXT NOT NULL, body TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (system, kind, no))');
  const put = db.prepare<[string, string, string]>("INSERT INTO records (system, kind, no, txn_no, body, at) VALUES ('os', 'event', ?, ?, ?, '')");
  const held = (txnNo: string, orderNo: string, events: [number, string][], stationId = 'S1') => {
    for (const [eventSeq, kind] of events) put.run(`${orderNo}#${eventSeq}:${txnNo}`, txnNo, JSON.stringify({ txnNo, orderNo, stationId, kind, eventSeq }));
  };
  const sale = (orderNo: string | null, state: string, paid: boolean, refunds: string[] = []): OsSyncedView => ({ orderNo, state, paidAt: paid ? '2026-12-01T00:00:00.000Z' : null, stationId: 'S1', refunds: refunds.map((status) => ({ status })) });
  const views = new Map<string, OsSyncedView | null>([
    ['T-ok', sale('O-ok', 'completed', true, ['succeeded', 'failed', 'succeeded'])],
    ['T-cancelled', sale('O-cancelled', 'cancelled', false)],
    ['T-dangling', sale('O-dangling', 'cancelled', false)],
    ['T-twice', sale('O-twice', 'completed', true)],
    ['T-quoted', sale(null, 'quoted', false)],
  ]);
  held('T-ok', 'O-ok', [[1, 'placed'], [2, 'paid'], [4, 'refunded'], [3, 'refunded']]);
  held('T-cancelled', 'O-cancelled', [[1, 'placed'], [2, 'cancelled']]);
  held('T-dangling', 'O-dangling', [[1, 'placed']]);
  held('T-twice', 'O-twice', [[1, 'placed'], [2, 'paid'], [3, 'paid']]);
  held('T-quoted', 'O-forgotten', [[1, 'placed']]);
  const checker = new InvariantChecker(db, loadDataset(DATASET_PATH), []);
  const found = checker.osSynced(0, views);
  t.ok(found.every((v) => v.invariant === 'os-synced'));
  t.same(found.map((v) => v.txnNo).sort(), ['T-dangling', 'T-quoted', 'T-twice'], 'every broken order once, the right ones left alone');
  t.match(found.find((v) => v.txnNo === 'T-dangling')?.message, /OS holds \[1:placed\], the sale says \[placed cancelled\]/);
  t.match(found.find((v) => v.txnNo === 'T-quoted')?.message, /O-forgotten, which no sale's view has/);
});
