import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { TradeError } from '../domain/errors.ts';
import { registerCommands } from './commands/index.ts';
import type { ServeOptions } from './serve.ts';
import type { SimOptions } from './sim.ts';

function integer(name: string, min = 0) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
    return n;
  };
}

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
const program = new Command('trade').description('Trade Center: the unified transaction platform').version(version, '-V, --version', 'print the version of Trade Center');

program
  .command('serve')
  .description('serve the API, the callbacks and the simulators on the embedded SQLite default')
  .option('-p, --port <port>', 'port to listen on (0 = any free port)', integer('port'), Number(process.env.PORT ?? 3000))
  .option('--host <host>', 'address to bind', process.env.HOST ?? '127.0.0.1')
  .option('--db <file>', "the platform's SQLite file", process.env.TRADE_DB ?? 'data/trade.db')
  .option('--sim-db <file>', "the simulators' own SQLite file", process.env.TRADE_SIM_DB ?? 'data/sim.db')
  .option('--data <file>', 'dataset the simulators load when their store is new', 'demo/dataset.json')
  .option('--callback-delay-ms <ms>', 'delay of simulated payment callbacks', integer('callback delay'))
  .option('--payment-ttl-ms <ms>', 'how long an order waits for its payment', integer('payment TTL', 1))
  .option('--request-timeout-ms <ms>', 'longest a whole request may take to arrive (env TRADE_HTTP_REQUEST_TIMEOUT_MS; 30000)', integer('request timeout', 1))
  .option('--connection-timeout-ms <ms>', 'longest a connection may stay silent (env TRADE_HTTP_CONNECTION_TIMEOUT_MS; 60000)', integer('connection timeout', 1))
  .option('--keep-alive-timeout-ms <ms>', 'how long an idle keep-alive connection is kept (env TRADE_HTTP_KEEP_ALIVE_TIMEOUT_MS; 5000)', integer('keep-alive timeout', 1))
  .option('--body-limit-bytes <bytes>', 'largest request body (env TRADE_HTTP_BODY_LIMIT_BYTES; 1048576)', integer('body limit', 1))
  .option('--max-connections <n>', 'open connections accepted at once (env TRADE_HTTP_MAX_CONNECTIONS; 2048)', integer('max connections', 1))
  .option('--routing <file>', 'routing file (env TRADE_ROUTING_FILE; see config/routing.example.json): scene x station group -> legacy, shadow or live; without one the stored table stays, and with none stored every sale is live')
  .option('--keys <file>', 'API keys file (env TRADE_API_KEYS_FILE); without one: demo mode, key tc_demo_key, in-process simulators only')
  .addOption(
    new Option('--role <role>', 'all: everything in this process; api: the API and callbacks only; worker: post-payment tasks, timers and the sentinel, listening only for /healthz, /readyz and /metrics (env TRADE_ROLE)')
      .choices(['all', 'api', 'worker'])
      .default(process.env.TRADE_ROLE ?? 'all'),
  )
  .addOption(new Option('--clock <clock>', "tests only: follow the callers' x-tc-now and serve /_drive").choices(['real', 'follow']).default('real').hideHelp())
  .action(async (opts: ServeOptions) => {
    // Loaded on demand: each command pulls in only what it runs (`trade sim` starts in half the time).
    const { serve } = await import('./serve.ts');
    await serve(opts);
  });

program
  .command('sim')
  .description('serve every downstream simulator over HTTP from one process (a path prefix per system)')
  .option('-p, --port <port>', 'port to listen on (0 = any free port)', integer('port'), Number(process.env.TRADE_SIM_PORT ?? 4000))
  .option('--host <host>', 'address to bind (env TRADE_SIM_HOST; loopback by default: /sim plays the customer); TRADE_SIM_ADMIN_TOKEN makes /sim need it as Bearer', process.env.TRADE_SIM_HOST ?? '127.0.0.1')
  .option('--db <file>', "the simulators' SQLite file", process.env.TRADE_SIM_DB ?? 'data/sim.db')
  .option('--data <file>', 'dataset loaded when the store is new', 'demo/dataset.json')
  .option('--callback-url <url>', "the platform's base URL, where the payment gateway calls back", process.env.TRADE_CALLBACK_URL ?? 'http://127.0.0.1:3000')
  .option('--callback-secret <secret>', 'secret the callbacks are signed with (default: TRADE_CALLBACK_SECRET, else the demo secret)')
  .option('--callback-delay-ms <ms>', 'delay of payment callbacks', integer('callback delay'))
  .addOption(new Option('--clock <clock>', "real time, or follow the callers' x-tc-now (replaying seeded runs)").choices(['real', 'follow']).default('real'))
  .option('--reset', 'wipe the store and load the dataset again')
  .action(async (opts: SimOptions) => {
    if (!/^https?:\/\//.test(opts.callbackUrl)) throw new InvalidArgumentError(`--callback-url: not an http(s) URL: ${opts.callbackUrl}`);
    const { sim } = await import('./sim.ts');
    await sim(opts);
  });

registerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // A bad dataset, an unreadable file, a port in use: say what and exit, without a stack trace.
  const code = err instanceof TradeError ? `${err.code}: ` : '';
  process.stderr.write(`trade: ${code}${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
