import { HTTP_OPERATIONS, SYSTEM_NAMES } from '../systems/http/operations.ts';
import type { SystemName } from '../systems/contract.ts';

/**
 * How the platform reaches its downstream systems: the in-process simulators (`npm start`), or
 * HTTP connectors, one base URL per system (production, or a `trade sim` process).
 */
export type SystemsConfig =
  | { mode: 'sim' }
  | {
      mode: 'http';
      urls: Record<SystemName, string>;
      /** Keep-alive connections per origin. */
      poolSize: number;
      /** Send the platform's clock as `x-tc-now` (only for `trade sim --clock follow`). */
      sendClock: boolean;
    };

/** What the environment configures about the downstream systems. */
export interface SystemsSettings {
  systems: SystemsConfig;
  /** Per-system deadlines (`TRADE_SYSTEM_TIMEOUT_MS_<SYSTEM>`), ms. */
  systemTimeoutsMs: Partial<Record<SystemName, number>>;
  /** Per-system tiers (`TRADE_SYSTEM_TIER_<SYSTEM>`). */
  tiers: Partial<Record<SystemName, 'core' | 'non-core'>>;
}

/** A configuration that cannot run; the message names every bad key. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** `fuelCatalog` → `FUEL_CATALOG`, the suffix of its environment keys. */
export function envSuffix(system: SystemName): string {
  return system.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}

const DEFAULT_POOL_SIZE = 16;

/** Every system behind one `trade sim` at `simUrl`, each under its path prefix. */
export function simUrls(simUrl: string): Record<SystemName, string> {
  const base = simUrl.replace(/\/+$/, '');
  return Object.fromEntries(SYSTEM_NAMES.map((s) => [s, `${base}/${HTTP_OPERATIONS[s].prefix}`])) as Record<SystemName, string>;
}

function httpUrlProblem(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `not an http(s) URL: ${JSON.stringify(value)}`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `not an http(s) URL: ${JSON.stringify(value)}`;
  if (url.search || url.hash) return `a base URL takes no query or fragment: ${JSON.stringify(value)}`;
  return null;
}

function positiveInteger(value: string): number | null {
  const n = Number(value);
  return /^\d+$/.test(value.trim()) && Number.isSafeInteger(n) && n > 0 ? n : null;
}

/**
 * Reads and validates the downstream configuration from the environment, at start:
 * - `TRADE_SYSTEMS`: `sim` (default) or `http`;
 * - in `http` mode every system needs a base URL: `TRADE_SYSTEM_URL_<SYSTEM>` (e.g.
 *   `TRADE_SYSTEM_URL_COUPON`), else `TRADE_SIM_URL` + the system's `trade sim` prefix;
 * - `TRADE_HTTP_POOL_SIZE` (16), `TRADE_SYSTEMS_SEND_CLOCK` (`1` to send `x-tc-now`);
 * - `TRADE_SYSTEM_TIMEOUT_MS_<SYSTEM>`, `TRADE_SYSTEM_TIER_<SYSTEM>` (`core` | `non-core`).
 * Throws a {@link ConfigError} naming every bad or missing key; unknown `TRADE_SYSTEM_*` keys are
 * errors too, since a misspelt key would otherwise be silently ignored.
 */
export function systemsSettingsFromEnv(env: Record<string, string | undefined>): SystemsSettings {
  const problems: string[] = [];
  const bySuffix = new Map(SYSTEM_NAMES.map((s) => [envSuffix(s), s]));
  const systemTimeoutsMs: Partial<Record<SystemName, number>> = {};
  const tiers: Partial<Record<SystemName, 'core' | 'non-core'>> = {};
  const ownUrls: Partial<Record<SystemName, string>> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue;
    const match = /^TRADE_SYSTEM_(URL|TIMEOUT_MS|TIER)_(.+)$/.exec(key);
    if (!match) continue;
    const [, kind, suffix] = match;
    const system = bySuffix.get(suffix!);
    if (!system) {
      problems.push(`${key}: no system ${suffix} (known: ${[...bySuffix.keys()].join(', ')})`);
      continue;
    }
    if (kind === 'URL') {
      const problem = httpUrlProblem(value);
      if (problem) problems.push(`${key}: ${problem}`);
      else ownUrls[system] = value;
    } else if (kind === 'TIMEOUT_MS') {
      const ms = positiveInteger(value);
      if (ms === null) problems.push(`${key}: not a positive integer of ms: ${JSON.stringify(value)}`);
      else systemTimeoutsMs[system] = ms;
    } else if (value === 'core' || value === 'non-core') {
      tiers[system] = value;
    } else {
      problems.push(`${key}: must be core or non-core, not ${JSON.stringify(value)}`);
    }
  }

  const mode = env.TRADE_SYSTEMS ?? 'sim';
  let systems: SystemsConfig = { mode: 'sim' };
  if (mode === 'http') {
    const simUrl = env.TRADE_SIM_URL;
    const simUrlProblem = simUrl === undefined ? null : httpUrlProblem(simUrl);
    if (simUrlProblem) problems.push(`TRADE_SIM_URL: ${simUrlProblem}`);
    const urls: Partial<Record<SystemName, string>> = {};
    for (const system of SYSTEM_NAMES) {
      const own = ownUrls[system];
      if (own !== undefined) urls[system] = own;
      else if (simUrl !== undefined && !simUrlProblem) urls[system] = simUrls(simUrl)[system];
      else if (simUrl === undefined) problems.push(`TRADE_SYSTEM_URL_${envSuffix(system)}: missing (or set TRADE_SIM_URL for a trade sim serving every system)`);
    }
    const poolRaw = env.TRADE_HTTP_POOL_SIZE;
    const poolSize = poolRaw === undefined ? DEFAULT_POOL_SIZE : positiveInteger(poolRaw);
    if (poolSize === null) problems.push(`TRADE_HTTP_POOL_SIZE: not a positive integer: ${JSON.stringify(poolRaw)}`);
    const sendClock = env.TRADE_SYSTEMS_SEND_CLOCK;
    if (sendClock !== undefined && sendClock !== '0' && sendClock !== '1') problems.push(`TRADE_SYSTEMS_SEND_CLOCK: must be 0 or 1, not ${JSON.stringify(sendClock)}`);
    if (problems.length === 0) {
      systems = { mode: 'http', urls: urls as Record<SystemName, string>, poolSize: poolSize ?? DEFAULT_POOL_SIZE, sendClock: sendClock === '1' };
    }
  } else if (mode !== 'sim') {
    problems.push(`TRADE_SYSTEMS: must be sim or http, not ${JSON.stringify(mode)}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { systems, systemTimeoutsMs, tiers };
}
