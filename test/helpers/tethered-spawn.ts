import { spawn, type ChildProcess } from 'node:child_process';
import { STARTUP_DEADLINE_MS } from './deadlines.ts';

const TETHER = new URL('./tether.mjs', import.meta.url).pathname;

export { STARTUP_DEADLINE_MS } from './deadlines.ts';

/** A command started by {@link spawnTethered}: its supervisor and the way to end both. */
export interface TetheredProcess {
  /** The supervisor; its stdout/stderr are the command's, its exit follows the command's. */
  child: ChildProcess;
  /** `SIGKILL` ends supervisor and command at once (a crash); other signals are passed on. */
  kill(signal: NodeJS.Signals): Promise<void>;
  exited: Promise<void>;
}

const running = new Set<ChildProcess>();

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

// Covers a test file that ends or throws without reaching its teardown; a SIGKILLed file is
// covered by the tether itself.
process.once('exit', () => {
  for (const child of running) killGroup(child);
});

/**
 * Spawns `command` under tests/helpers/tether.mjs, in a process group of its own: it is killed
 * when the test process dies, even by SIGKILL (tap's timeout), and at the latest when it exits.
 */
export function spawnTethered(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; stdout?: 'pipe' | 'ignore' } = {}): TetheredProcess {
  const out = options.stdout ?? 'pipe';
  const child = spawn(process.execPath, [TETHER, command, ...args], {
    env: options.env ?? process.env,
    stdio: ['pipe', out, out],
    detached: true,
  });
  running.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      running.delete(child);
      resolve();
    }),
  );
  // The pipe is the tether: never written, only held open while the test lives.
  child.stdin!.on('error', () => undefined);
  return {
    child,
    exited,
    kill: async (signal) => {
      if (child.exitCode === null && child.signalCode === null) {
        if (signal === 'SIGKILL') killGroup(child);
        else child.kill(signal);
      }
      await exited;
    },
  };
}

/** Polls `probe` until it is true, every `everyMs`; throws `what` after `deadlineMs`. */
export async function waitUntil(what: string, probe: () => Promise<boolean>, deadlineMs = STARTUP_DEADLINE_MS, everyMs = 50): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
