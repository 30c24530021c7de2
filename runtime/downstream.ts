import { DownstreamUnavailableError, type SystemName } from '../systems/contract.ts';

/**
 * One downstream call with a deadline. A call that outlives its deadline is reported as a
 * transport fault: its outcome at the callee is unknown, which the callee contract makes safe to
 * retry with the same key or to undo.
 */
export async function withTimeout<T>(system: SystemName, ms: number, call: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DownstreamUnavailableError(system, `no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([call(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
