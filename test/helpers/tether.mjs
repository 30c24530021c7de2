// Runs one command for a test and dies with the test. Tap kills a test file that runs over its
// timeout with SIGKILL, and no teardown or exit handler runs then: a server the file started
// would live on (parent PID 1) and keep its port. This supervisor holds the read end of a pipe
// whose only writer is the test process; when that process dies, for whatever reason, the pipe
// closes and the command is SIGKILLed. Plain JavaScript so that it starts without tsx.
//
//   node tether.mjs <command> [args…]     (stdin: a pipe from the test; stdout/stderr passed on)
import { spawn } from 'node:child_process';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  process.stderr.write('tether: no command\n');
  process.exit(2);
}
const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
const alive = () => child.exitCode === null && child.signalCode === null;
const orphaned = () => {
  if (alive()) child.kill('SIGKILL');
};
process.stdin.on('end', orphaned);
process.stdin.on('close', orphaned);
process.stdin.on('error', orphaned);
process.stdin.resume();
// A second way to notice, should the pipe be held open by something else: being reparented.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) orphaned();
}, 500).unref();
// A graceful stop is asked of the supervisor; the command decides how to end, the supervisor follows.
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(signal, () => {
    if (alive()) child.kill(signal);
  });
}
child.on('error', (err) => {
  process.stderr.write(`tether: ${command}: ${err.message}\n`);
  process.exit(127);
});
child.on('exit', (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else {
    process.exit(code ?? 1);
  }
});
