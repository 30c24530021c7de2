import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Test } from 'tap';

const run = promisify(execFile);

/**
 * Runs one end-to-end suite of test/e2e, unchanged, as a process of its own with `env` added
 * (TRADE_TEST_SYSTEMS=http, TRADE_TEST_ROLES=split, …: test/helpers/harness.ts reads them), and
 * asserts it passed: no failing assertion, a clean exit, a plan run to its end. `timeoutMs` only
 * bounds a hang.
 */
export async function expectE2eSuitePasses(t: Test, suite: string, env: Record<string, string>, timeoutMs: number): Promise<void> {
  const file = new URL(`../e2e/${suite}.test.ts`, import.meta.url).pathname;
  const result = await run(process.execPath, ['--import=tsx', file], {
    env: { ...process.env, ...env },
    timeout: timeoutMs,
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
}
