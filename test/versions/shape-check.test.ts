import { existsSync } from 'node:fs';
import t from 'tap';
import { createMachine, type AnyStateMachine } from 'xstate';
import { MIGRATIONS } from '../../machines/migrations/index.ts';
import { MACHINES, type MachineEntry } from '../../machines/registry.ts';
import { checkShapes, type CheckedMachine } from '../../machines/shape-check.ts';
import { MACHINE_VERSIONS, treeVersion } from '../../machines/versions.ts';
import { committedShape } from '../../scripts/machine-shapes.ts';

const checked = (entries: readonly MachineEntry[]): CheckedMachine[] =>
  entries.map((m) => ({ id: m.id, kind: m.kind, machine: m.machine, committedShape: committedShape(m.kind, MACHINE_VERSIONS[m.id].version) }));

/**
 * A copy of `machine` with the top-level state `from` called `to` (every target naming it too):
 * the kind of edit a refactoring makes without thinking of the snapshots already stored.
 */
function withStateRenamed(machine: AnyStateMachine, from: string, to: string): AnyStateMachine {
  const copy = (value: unknown, key?: string): unknown => {
    if (typeof value === 'string' && (key === 'target' || key === 'initial')) return value === from ? to : value === `#${machine.id}.${from}` ? `#${machine.id}.${to}` : value;
    if (Array.isArray(value)) return value.map((v) => copy(v, key));
    if (value === null || typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return value;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [key === 'states' && k === from ? to : k, copy(v, k)]));
  };
  return createMachine(copy(machine.config) as typeof machine.config, machine.implementations);
}

t.test('every machine has the structure its version committed, and a migration into each version', async (t) => {
  t.same(checkShapes(checked(MACHINES), MACHINE_VERSIONS, MIGRATIONS), []);
});

t.test('each migration step is its own file, named for its machine and versions', async (t) => {
  for (const m of MACHINES) {
    for (let v = 1; v < MACHINE_VERSIONS[m.id].version; v++) {
      const file = new URL(`../../machines/migrations/${m.kind}-v${v}-to-v${v + 1}.ts`, import.meta.url);
      t.ok(existsSync(file), `machines/migrations/${m.kind}-v${v}-to-v${v + 1}.ts exists`);
    }
  }
});

t.test('the fixtures of every tree version up to the current one are kept', async (t) => {
  for (let v = 1; v <= treeVersion(); v++) t.ok(existsSync(new URL(`../fixtures/snapshots/v${v}/`, import.meta.url)), `test/fixtures/snapshots/v${v} exists (npm run fixtures:snapshots)`);
});

t.test('the shape check fails when a state is renamed without a version bump, and says what to do (issue 22)', async (t) => {
  const transaction = MACHINES.find((m) => m.id === 'transaction')!;
  const renamed = withStateRenamed(transaction.machine, 'ordered', 'awaitingPayment');
  t.ok(renamed.root.states['awaitingPayment'], 'the copy has the renamed state');
  const problems = checkShapes(checked([{ ...transaction, machine: renamed }]), MACHINE_VERSIONS, MIGRATIONS);
  t.equal(problems.length, 1, 'one problem');
  const v = MACHINE_VERSIONS.transaction.version;
  t.match(problems[0], /structure of the transaction machine changed without a version bump/);
  t.match(problems[0], /states added: transaction\.awaitingPayment/, 'names the state that appeared');
  t.match(problems[0], /states removed: transaction\.ordered /, 'and the one that went');
  t.match(problems[0], new RegExp(`machines/migrations/transaction-v${v}-to-v${v + 1}\\.ts`), 'names the migration to write');
  t.match(problems[0], /npm run fixtures:snapshots/, 'and how to regenerate the fixtures');
});

t.test('the shape check passes an edit that leaves the structure alone (a guard or an action body)', async (t) => {
  const transaction = MACHINES.find((m) => m.id === 'transaction')!;
  const edited = transaction.machine.provide({ guards: { quoteExpired: () => false } });
  t.same(checkShapes(checked([{ ...transaction, machine: edited }]), MACHINE_VERSIONS, MIGRATIONS), []);
});

t.test('a bumped version without its migration is named', async (t) => {
  const versions = { ...MACHINE_VERSIONS, latePayment: { ...MACHINE_VERSIONS.latePayment, version: MACHINE_VERSIONS.latePayment.version + 1 } };
  const problems = checkShapes(checked(MACHINES.filter((m) => m.id === 'latePayment')), versions, MIGRATIONS);
  t.match(problems.join('\n'), /latePayment v1 → v2 needs exactly one migration \(machines\/migrations\/late-payment-v1-to-v2\.ts/);
});
