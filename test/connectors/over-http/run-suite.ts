import type { Test } from 'tap';
import { expectE2eSuitePasses } from '../../helpers/e2e-suite-process.ts';

/**
 * Runs one end-to-end suite of test/e2e, unchanged, as its own process with
 * TRADE_TEST_SYSTEMS=http: its harness starts a `trade sim` child per test and connects the
 * platform to it over HTTP (test/helpers/harness.ts). One file per suite (fuel-sale,
 * mixed-payment, refunds, after-payment), so each has a time limit of its own and the runner
 * spreads them over its jobs: the four in one file took 15 minutes at load 13.
 */
export function suiteOverHttp(t: Test, suite: string): void {
  // A few dozen processes per suite: about 20 s on a quiet machine, 6 minutes at load 13. The limits only bound a hang.
  t.setTimeout(900_000);
  t.test(`the ${suite} suite passes with the platform and trade sim in separate processes over HTTP`, (t) => expectE2eSuitePasses(t, suite, { TRADE_TEST_SYSTEMS: 'http' }, 840_000));
}
