import type { FaultLevel } from './faults.ts';
import type { InvariantName } from './invariants.ts';
import { simulate, type SimulationOptions, type SimulationResult } from './run.ts';

/** The command that replays a run exactly. */
export function replayCommand(o: Pick<SimulationOptions, 'seed' | 'sales' | 'faults' | 'crashes' | 'backend' | 'crashWindow'>): string {
  const window = o.crashWindow !== undefined && o.crashWindow < 1 ? ` --crash-window ${o.crashWindow}` : '';
  const backend = o.backend === 'redis' ? ' --backend redis' : '';
  return `trade simulate --seed ${o.seed} --sales ${o.sales} --faults ${o.faults} --crashes ${o.crashes}${window}${backend}`;
}

const CALMER: Record<FaultLevel, FaultLevel | null> = { heavy: 'default', default: 'none', none: null };

/**
 * Shrinks a failing run to a smaller one that still breaks `invariant`: fewer sales (halving),
 * calmer faults, fewer crashes, crashes earlier in the run; each candidate is a full replay, so
 * `budget` bounds the attempts. Returns the smallest failing options found (the original if none).
 */
export async function shrink(
  failing: SimulationOptions,
  invariant: InvariantName,
  budget = 10,
  onTry: (o: SimulationOptions, fails: boolean) => void = () => undefined,
): Promise<{ options: SimulationOptions; result: SimulationResult | null }> {
  let best = failing;
  let bestResult: SimulationResult | null = null;
  let tries = 0;
  const attempt = async (candidate: SimulationOptions): Promise<boolean> => {
    if (tries++ >= budget) return false;
    const result = await simulate(candidate);
    const fails = result.violations.some((v) => v.invariant === invariant);
    onTry(candidate, fails);
    if (fails) {
      best = candidate;
      bestResult = result;
    }
    return fails;
  };
  while (best.sales > 1 && (await attempt({ ...best, sales: Math.max(1, Math.floor(best.sales / 2)) })));
  for (let calmer = CALMER[best.faults]; calmer && (await attempt({ ...best, faults: calmer })); calmer = CALMER[best.faults]);
  while (best.crashes > 0 && (await attempt({ ...best, crashes: best.crashes - 1 })));
  while (best.crashes > 0 && (best.crashWindow ?? 1) > 0.1 && (await attempt({ ...best, crashWindow: (best.crashWindow ?? 1) / 2 })));
  return { options: best, result: bestResult };
}
