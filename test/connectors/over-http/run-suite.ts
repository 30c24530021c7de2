import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Test } from 'tap';

const run = promisify(execFile);

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
  t.test(`the ${suite} suite passes with the platform and trade sim in separate processes over HTTP`, async (t) => {
    const file = new URL(`../../e2e/${suite}.test.ts`, import.meta.url).pathname;
    const result = await run(process.execPath, ['--import=tsx', file], {
      env: { ...process.env, TRADE_TEST_SYSTEMS: 'http' },
      timeout: 840_000,
      maxBuffer: 16 * 1024 * 1024,
    }).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: `${err.stdout}\n${err.stderr}` }),
    );
    const failures = result.stdout.split('\n').filter((line) => /^\s*not ok /.test(line));
    t.same(failures, [], 'no failing assertion');
    t.equal(result.code, 0, 'the suite exits cleanly');
    t.match(result.stdout, /^1\.\.[1-9]\d*$/m, 'the suite ran to its plan');
    t.match(result.stdout, /^ok \d+ /m, 'with passing tests');
  });
}
