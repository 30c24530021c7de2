import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { STARTUP_DEADLINE_MS } from './deadlines.ts';

const run = promisify(execFile);
/** The `trade` binary, for tests that spawn it themselves. */
export const TRADE = new URL('../../bin/trade.js', import.meta.url).pathname;

/** Runs the `trade` binary to its end: its exit code and output, a failing exit included. */
export async function trade(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [TRADE, ...args], { timeout: STARTUP_DEADLINE_MS, env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
