import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { validateCommand } from './validate.ts';
import { registerApiCommands } from './api-commands.ts';

const program = new Command();
const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
program.name('roomctl').description('Meeting-room readiness controller').version(pkg.version, '-V, --version', 'print the version').showHelpAfterError();
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

program
  .command('validate')
  .description('check a site configuration; prints every problem as path: message')
  .argument('<file>', 'site configuration (YAML)')
  .action((file: string) => {
    process.exitCode = validateCommand(file);
  });

program
  .command('start')
  .description('run the controller (with --simulate: on the simulated building of the config, default the demo)')
  .option('-c, --config <file>', 'site configuration (YAML)')
  .option('--simulate', 'run the simulated building of the config beside the controller, on virtual time')
  .option('--speed <n>', 'with --simulate: virtual time runs N× real time (default: simulation.speed, 48)', positiveNumber)
  .option('--data-dir <dir>', "the site's data folder (default: data_dir in the config, else ~/.local/state/roomctl/sites/<site id>; the demo: …/roomctl/demo/<site id>)")
  .option('--log-level <level>', `one of ${LOG_LEVELS.join(', ')} (default: ROOMCTL_LOG_LEVEL, else log.level in the config)`, oneOf(LOG_LEVELS))
  .option('--api-port <port>', 'HTTP API port instead of api.port (0: any free port)', port)
  .option('--broker-port <port>', 'embedded MQTT broker port instead of mqtt.broker.port', port)
  .option('--status-every <seconds>', 'log a one-line status this often (0 = never)', positiveInt)
  .action(async (opts: { config?: string; simulate?: boolean; speed?: number; statusEvery?: number; dataDir?: string; logLevel?: string; apiPort?: number; brokerPort?: number }) => {
    const statusEveryMs = opts.statusEvery === undefined ? undefined : opts.statusEvery * 1000;
    const common = { dataDir: opts.dataDir, logLevel: opts.logLevel, apiPort: opts.apiPort, brokerPort: opts.brokerPort, statusEveryMs };
    if (opts.simulate) {
      const { simulateCommand } = await import('./demo.ts');
      process.exitCode = await simulateCommand({ config: opts.config, speed: opts.speed, ...common });
      return;
    }
    if (opts.speed !== undefined) {
      console.error('roomctl start: --speed needs --simulate (a real building runs on real time)');
      process.exitCode = 2;
      return;
    }
    if (!opts.config) {
      console.error('roomctl start: give --config FILE, or --simulate for the demo building');
      process.exitCode = 2;
      return;
    }
    // Loaded on demand: `validate` should not pay for the protocol libraries.
    const { startCommand } = await import('./start.ts');
    process.exitCode = await startCommand({ config: opts.config, ...common });
  });

const sim = program.command('sim').description('the simulated building');

sim
  .command('fault')
  .description('inject (or --clear) a fault in a running simulated building, e.g. dead_mic:2, fcu_offline, door_left_open, device_reboot:display')
  .argument('[room]', 'room id, e.g. 3F-301')
  .argument('[kind]', 'fault kind (roomctl sim fault --list shows them)')
  .option('--clear', 'clear the fault instead')
  .option('--list', 'list the fault kinds and what each does')
  .option('-c, --config <file>', 'site configuration of the running simulation (for its control port)')
  .option('--url <url>', 'the simulator control API (default http://127.0.0.1:<simulation.control_port>)')
  .action(async (room: string | undefined, kind: string | undefined, opts: { clear?: boolean; config?: string; url?: string; list?: boolean }) => {
    const { simFaultCommand } = await import('./sim-fault.ts');
    process.exitCode = await simFaultCommand(room, kind, opts);
  });

sim
  .command('run')
  .description('play one simulated day of the config on virtual time, as fast as the machine allows; report verdicts, failing checks, alerts, HVAC minutes')
  .requiredOption('-c, --config <file>', 'site configuration with a simulation: section')
  .option('--day <YYYY-MM-DD>', 'the day to play (default: simulation.day)')
  .option('--start <HH:MM>', 'local time the day starts (default: simulation.start, or earlier so the first meeting gets its whole pre-conditioning window, as with a controller running overnight)')
  .option('--seed <n>', 'simulator seed (default: simulation.seed)', positiveInt)
  .option('--faults <file>', 'YAML/JSON list of {room, kind, at: HH:MM, clear_at?: HH:MM}')
  .option('--json', 'print the report as JSON')
  .action(async (opts: { config: string; day?: string; start?: string; seed?: number; faults?: string; json?: boolean }) => {
    const { simRunCommand } = await import('./sim-run.ts');
    process.exitCode = await simRunCommand(opts);
  });

program
  .command('report')
  .description('the readiness report from InfluxDB: meetings, ready at T-15, ready at start, late, failures by check, no-shows (P4; P9 with --month)')
  .requiredOption('-c, --config <file>', 'site configuration (its influx section)')
  .option('--day <YYYY-MM-DD>', 'the day (default: today in the site time zone)')
  .option('--month <YYYY-MM>', 'a whole month instead (P9 monthly record)')
  .option('--json', 'print JSON instead of a table')
  .action(async (opts: { config: string; day?: string; month?: string; json?: boolean }) => {
    const { reportCommand } = await import('./report.ts');
    process.exitCode = await reportCommand(opts);
  });

registerApiCommands(program);

function positiveNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number > 0');
  return n;
}

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port number 0–65535');
  return n;
}

function oneOf(values: string[]) {
  return (v: string): string => {
    if (!values.includes(v)) throw new InvalidArgumentError(`expected one of ${values.join(', ')}`);
    return v;
  };
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number ≥ 0');
  return n;
}

await program.parseAsync(process.argv);
