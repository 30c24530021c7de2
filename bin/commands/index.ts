import type { Command } from 'commander';
import { cancelCommand } from './cancel.ts';
import { processIo, type CliIo } from './cli-io.ts';
import { importCommand } from './import-os-orders.ts';
import { inspectCommand } from './inspect.ts';
import { keysCommand } from './keys.ts';
import { listCommand } from './list.ts';
import { migrateCommand } from './migrate.ts';
import { nudgeCommand } from './nudge.ts';
import { reconCommand } from './recon.ts';
import { ordersCommand, summaryCommand } from './orders.ts';
import { retryCommand } from './retry.ts';
import { osCommand } from './os.ts';
import { routingCommand } from './routing.ts';
import { shadowCommand } from './shadow.ts';
import { simulateCommand } from './simulate.ts';
import { stuckCommand } from './stuck.ts';
import { tailCommand } from './tail.ts';
import { vizCommand } from './viz.ts';

/** Adds the operator commands (list, orders, summary, inspect, stuck, nudge, retry, cancel, tail, viz, simulate, keys, migrate, routing, shadow, recon, import) to `trade`. */
export function registerCommands(program: Command, io: CliIo = processIo()): Command {
  for (const make of [listCommand, ordersCommand, summaryCommand, inspectCommand, stuckCommand, nudgeCommand, retryCommand, cancelCommand, tailCommand, vizCommand, simulateCommand, keysCommand, migrateCommand, routingCommand, osCommand, shadowCommand, reconCommand, importCommand]) program.addCommand(make(io));
  return program;
}
