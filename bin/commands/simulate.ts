import { Command, InvalidArgumentError, Option } from 'commander';
import type { SimulationOptions, SimulationResult } from '../../simulation/run.ts';
import { writeJson, writeLine, type CliIo } from './cli-io.ts';

/** The run's own options as flags, plus how to report. */
type SimulateFlags = Pick<SimulationOptions, 'seed' | 'sales' | 'faults' | 'crashes' | 'backend' | 'redisUrl' | 'crashWindow'> & { json?: boolean; shrink: boolean };

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('a whole number ≥ 0');
  return n;
}

function share(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n <= 1)) throw new InvalidArgumentError('a share in (0, 1]');
  return n;
}

/**
 * `trade simulate`: one deterministic whole-platform run (simulation/run.ts). Exit code 1 when an
 * invariant broke; then the first broken transaction's journal and calls, a shrunk run that still
 * fails, and the command that replays it.
 */
export async function runSimulate(io: CliIo, flags: SimulateFlags, env: Record<string, string | undefined> = process.env): Promise<SimulationResult> {
  // Loaded on demand: the simulation brings the whole platform and every simulator.
  const [{ simulate }, { replayCommand, shrink }] = await Promise.all([import('../../simulation/run.ts'), import('../../simulation/shrink.ts')]);
  const redisUrl = flags.backend === 'redis' ? (flags.redisUrl ?? redisUrlOf(env)) : undefined;
  const options: SimulationOptions = {
    seed: flags.seed,
    sales: flags.sales,
    faults: flags.faults,
    crashes: flags.crashes,
    backend: flags.backend,
    ...(redisUrl ? { redisUrl } : {}),
    ...(flags.crashWindow !== undefined ? { crashWindow: flags.crashWindow } : {}),
  };
  const result = await simulate(options);
  const { seed, sales, crashes, violations, digest, simulatedMs, wallMs } = result;
  if (flags.json) {
    writeJson(io, { seed, sales, crashes, violations, digest, simulatedMs, wallMs });
    return result;
  }
  const rate = sales / Math.max(0.001, wallMs / 1000);
  writeLine(io, `seed ${seed}: ${sales} sales, ${crashes} crashes, faults ${flags.faults}, ${flags.backend}`);
  writeLine(io, `simulated ${(simulatedMs / 3_600_000).toFixed(2)} h in ${(wallMs / 1000).toFixed(1)} s: ${rate.toFixed(0)} sales/s, ${(simulatedMs / Math.max(1, wallMs)).toFixed(0)}× real time`);
  writeLine(io, `digest ${digest}`);
  if (!violations.length) {
    writeLine(io, 'no invariant broken');
    return result;
  }
  writeLine(io, `${violations.length} violations:`);
  for (const v of violations.slice(0, 20)) writeLine(io, `  ${v.invariant}  ${v.txnNo ?? '-'}  ${v.message}`);
  const first = violations.find((v) => v.txnNo) ?? violations[0]!;
  if (first.txnNo) {
    const evidence = await result.evidence(first.txnNo);
    writeLine(io, `\n${first.txnNo}: journal`);
    for (const j of evidence.journal) writeLine(io, `  ${JSON.stringify(j)}`);
    writeLine(io, `${first.txnNo}: downstream calls`);
    for (const c of evidence.calls) writeLine(io, `  ${JSON.stringify(c)}`);
  }
  writeLine(io, `\nreplay: ${replayCommand(options)}`);
  if (flags.shrink) {
    writeLine(io, `shrinking on ${first.invariant} …`);
    const shrunk = await shrink(options, first.invariant, 10, (o, fails) => writeLine(io, `  ${fails ? 'still fails' : 'passes    '}  ${replayCommand(o)}`));
    writeLine(io, `smallest failing run: ${replayCommand(shrunk.options)}`);
  }
  return result;
}

/** The Redis of `--backend redis` without `--redis-url`: `TRADE_REDIS_URL`, else the local default port. */
export const DEFAULT_SIM_REDIS_URL = 'redis://127.0.0.1:6379';

function redisUrlOf(env: Record<string, string | undefined>): string {
  return env.TRADE_REDIS_URL || DEFAULT_SIM_REDIS_URL;
}

export function simulateCommand(io: CliIo): Command {
  return new Command('simulate')
    .description('run the deterministic whole-platform simulation (virtual time, seeded workload, faults and crashes) and check the money invariants')
    .requiredOption('--seed <n>', 'the seed: the same seed replays the same run', integer)
    .option('--sales <n>', 'sales in the workload', integer, 10_000)
    .addOption(new Option('--faults <level>', 'fault weather').choices(['none', 'default', 'heavy']).default('default'))
    .option('--crashes <k>', 'platform crashes (kill -9 and restart) during the workload', integer, 0)
    .option('--crash-window <share>', 'crashes land within this first share of the workload', share)
    .addOption(new Option('--backend <kind>', 'the platform store').choices(['sqlite', 'redis']).default('sqlite'))
    .option('--redis-url <url>', `Redis server for --backend redis (default: TRADE_REDIS_URL, else ${DEFAULT_SIM_REDIS_URL}); the run writes under a fresh key prefix and deletes only that prefix's keys at the end`)
    .option('--json', 'one JSON object: seed, sales, crashes, violations, digest, simulatedMs, wallMs')
    .option('--no-shrink', 'on a violation, do not look for a smaller failing run')
    .action(async (flags: SimulateFlags) => {
      const result = await runSimulate(io, flags);
      process.exitCode = result.violations.length ? 1 : 0;
    });
}
