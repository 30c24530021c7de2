import { parseArgs } from 'node:util';
import type { FaultLevel } from './faults.ts';
import { simulate } from './run.ts';
import { replayCommand } from './shrink.ts';

/**
 * The long run (issue 16): seeds in sequence, each a full simulation, a progress line per seed
 * and running totals; stops on the first seed that breaks an invariant and prints the command
 * that replays it (a seed replays exactly, so that line is the bug report).
 *
 *   npx tsx simulation/long-run.ts --from 5001 --seeds 20 --sales 200 --crashes 2 [--faults heavy]
 *
 * Exit code 1 on a violation, 0 when every seed held.
 */
async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      from: { type: 'string', default: '1' },
      seeds: { type: 'string', default: '100' },
      sales: { type: 'string', default: '10000' },
      crashes: { type: 'string', default: '2' },
      faults: { type: 'string', default: 'default' },
    },
  });
  const from = Number(values.from);
  const seeds = Number(values.seeds);
  const sales = Number(values.sales);
  const crashes = Number(values.crashes);
  const faults = values.faults as FaultLevel;
  if (![from, seeds, sales, crashes].every((n) => Number.isSafeInteger(n) && n >= 0) || !['none', 'default', 'heavy'].includes(faults)) {
    process.stderr.write('usage: long-run.ts --from N --seeds K --sales S --crashes C --faults none|default|heavy\n');
    return 2;
  }
  let totalSales = 0;
  let totalWallMs = 0;
  let totalSimulatedMs = 0;
  for (let seed = from; seed < from + seeds; seed++) {
    const options = { seed, sales, faults, crashes, backend: 'sqlite' as const };
    const result = await simulate(options);
    totalSales += result.sales;
    totalWallMs += result.wallMs;
    totalSimulatedMs += result.simulatedMs;
    const rate = totalSales / Math.max(0.001, totalWallMs / 1000);
    process.stdout.write(
      `seed ${seed}: ${result.violations.length} violations, ${result.crashes} crashes, ${(result.wallMs / 1000).toFixed(1)} s` +
        ` | ${seed - from + 1}/${seeds} seeds, ${totalSales} sales, ${rate.toFixed(0)} sales/s, ${(totalSimulatedMs / Math.max(1, totalWallMs)).toFixed(0)}× real time\n`,
    );
    if (result.violations.length) {
      for (const v of result.violations.slice(0, 10)) process.stdout.write(`  ${v.invariant}  ${v.txnNo ?? '-'}  ${v.message}\n`);
      process.stdout.write(`replay: ${replayCommand(options)}\n`);
      return 1;
    }
  }
  process.stdout.write(`all ${seeds} seeds held: ${totalSales} sales\n`);
  return 0;
}

process.exitCode = await main();
