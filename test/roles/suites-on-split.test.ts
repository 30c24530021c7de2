import t from 'tap';
import { expectE2eSuitePasses } from '../helpers/e2e-suite-process.ts';

/**
 * The end-to-end suites of the sale, mixed payment and after-payment, unchanged (issue 21). Each
 * test of a suite starts three processes (a `trade sim`, an API and a worker), so the whole matrix
 * takes over ten minutes of one tap slot even on a quiet two-core machine. `npm test` runs the
 * sale on both backends and after-payment on SQLite; `TRADE_TEST_SPLIT_ALL=1 npx tap
 * test/roles/suites-on-split.test.ts` runs all six (README, "Process roles").
 */
const SUITES = ['fuel-sale', 'mixed-payment', 'after-payment'];
const everywhere = process.env.TRADE_TEST_SPLIT_ALL === '1';
const runsOn = (suite: string, storage: 'sqlite' | 'redis') => everywhere || suite === 'fuel-sale' || (suite === 'after-payment' && storage === 'sqlite');

// Each test of a suite starts a `trade sim`, an API and a worker process: about 15 s per test at
// load 15 on two cores, seven minutes for mixed-payment. The limits only bound a hang.
t.setTimeout(3_600_000);

// Each suite runs as its own process with TRADE_TEST_ROLES=split (test/helpers/split-harness.ts).
for (const storage of ['sqlite', 'redis'] as const) {
  for (const suite of SUITES.filter((s) => runsOn(s, storage))) {
    t.test(`the ${suite} suite passes with the roles split into api and worker processes on ${storage}`, (t) =>
      expectE2eSuitePasses(t, suite, { TRADE_TEST_ROLES: 'split', TRADE_TEST_STORAGE: storage }, 900_000));
  }
}
