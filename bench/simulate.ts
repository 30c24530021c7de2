/**
 * Issue 16, must-show 1's figures: simulated sales per wall second and the ratio of simulated to
 * wall time, for one fixed seed (so two runs of the bench measure the same work).
 *
 *   npx tsx bench/simulate.ts [seed=9001] [sales=2000] [crashes=2] [faults=default] [backend=sqlite]
 *
 * `backend` redis runs on TRADE_REDIS_URL (redis://127.0.0.1:6379 by default), under a fresh
 * key prefix deleted at the end.
 *
 * Prints one JSON line; the load average is printed beside it because the machine is shared and
 * the figure is only comparable on a quiet one. `cpuMsPerSale` is the process's CPU time (user and
 * system, every thread: the GC's and the compiler's too) over the run alone, module loading left
 * out; on a loaded machine it moves far less than wall time does, so compare that.
 */
import { loadavg } from 'node:os';
import type { FaultLevel } from '../simulation/faults.ts';
import { simulate } from '../simulation/run.ts';

const seed = Number(process.argv[2] ?? 9001);
const sales = Number(process.argv[3] ?? 2000);
const crashes = Number(process.argv[4] ?? 2);
const faults = (process.argv[5] ?? 'default') as FaultLevel;
const backend = process.argv[6] === 'redis' ? 'redis' : 'sqlite';
const redisUrl = process.env.TRADE_REDIS_URL || 'redis://127.0.0.1:6379';

const loadBefore = loadavg()[0]!;
const cpuBefore = process.cpuUsage();
const result = await simulate({ seed, sales, faults, crashes, backend, ...(backend === 'redis' ? { redisUrl } : {}) });
const cpu = process.cpuUsage(cpuBefore);
const cpuMs = (cpu.user + cpu.system) / 1000;
process.stdout.write(
  `${JSON.stringify({
    seed,
    sales,
    crashes: result.crashes,
    faults,
    backend,
    violations: result.violations.length,
    wallMs: result.wallMs,
    simulatedMs: result.simulatedMs,
    salesPerWallSecond: Math.round(sales / (result.wallMs / 1000)),
    simulatedToWall: Math.round(result.simulatedMs / result.wallMs),
    cpuMs: Math.round(cpuMs),
    cpuMsPerSale: Number((cpuMs / sales).toFixed(2)),
    loadAverage: [loadBefore, loadavg()[0]!].map((l) => Number(l.toFixed(1))),
  })}\n`,
);
process.exitCode = result.violations.length ? 1 : 0;
