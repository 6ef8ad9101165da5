import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
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
  .option('--json', 'print one JSON object: { file, ok, problems: [{ path, message, line, severity }], summary }')
  .action((file: string, opts: { json?: boolean }) => {
    process.exitCode = validateCommand(file, { json: opts.json });
  });

program
  .command('start')
  .description('run the controller (with --simulate: on the simulated building of the config, default the demo)')
  .option('-c, --config <file>', 'site configuration (YAML)')
  .option('--simulate', 'run the simulated building of the config beside the controller, on virtual time')
  .option('--speed <n>', 'with --simulate: virtual time runs N× real time (default: simulation.speed, 48)', positiveNumber)
  .option('--day <YYYY-MM-DD>', "with --simulate: the day to play (default: today in the site's time zone; the season follows the date)")
  .option('--data-dir <dir>', "the site's data folder (default: data_dir in the config, else ~/.local/state/roomctl/sites/<site id>; the demo: …/roomctl/demo/<site id>)")
  .option('--log-level <level>', `one of ${LOG_LEVELS.join(', ')} (default: ROOMCTL_LOG_LEVEL, else log.level in the config)`, oneOf(LOG_LEVELS))
  .option('--api-port <port>', 'HTTP API port instead of api.port (0: any free port)', port)
  .option('--broker-port <port>', 'embedded MQTT broker port instead of mqtt.broker.port', port)
  .option('--status-every <seconds>', 'log a one-line status this often (0 = never)', positiveInt)
  .action(async (opts: { config?: string; simulate?: boolean; speed?: number; day?: string; statusEvery?: number; dataDir?: string; logLevel?: string; apiPort?: number; brokerPort?: number }) => {
    const statusEveryMs = opts.statusEvery === undefined ? undefined : opts.statusEvery * 1000;
    const common = { dataDir: opts.dataDir, logLevel: opts.logLevel, apiPort: opts.apiPort, brokerPort: opts.brokerPort, statusEveryMs };
    if (opts.simulate) {
      const { simulateCommand } = await import('./demo.ts');
      process.exitCode = await simulateCommand({ config: opts.config, speed: opts.speed, day: opts.day, ...common });
      return;
    }
    if (opts.speed !== undefined || opts.day !== undefined) {
      console.error(`roomctl start: ${opts.speed !== undefined ? '--speed' : '--day'} needs --simulate (a real building runs on real time)`);
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
  .option('--day <YYYY-MM-DD>', 'the day to play (default: simulation.day, fixed so the report is reproducible run after run; today if the config has none — the demo, roomctl start --simulate, plays today)')
  .option('--start <HH:MM>', 'local time the day starts (default: simulation.start, or earlier so the first meeting gets its whole pre-conditioning window, as with a controller running overnight)')
  .option('--seed <n>', 'simulator seed (default: simulation.seed)', positiveInt)
  .option('--faults <file>', 'YAML/JSON list of {room, kind, at: HH:MM, clear_at?: HH:MM}')
  .option('--days <n>', 'what-if replay: play this many consecutive days, learning carried from one to the next, and compare them in a table', daysCount)
  .option('--from <YYYY-MM-DD>', 'the first day of a replay (default: as --day)')
  .option('--policy <file>', 'what-if: play the same days again under this policy file (hvac_start, policies merged over the config) and compare readiness and HVAC room-minutes')
  .addOption(new Option('--series <name>', 'internal: play one series of a replay and print it as JSON').choices(['as-configured', 'what-if']).hideHelp())
  .option('--json', 'print the report as JSON')
  .action(async (opts: { config: string; day?: string; start?: string; seed?: number; faults?: string; json?: boolean; days?: number; from?: string; policy?: string; series?: 'as-configured' | 'what-if' }) => {
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

program
  .command('init')
  .description('write a commented starting site config (built-in device profiles in every room, a simulated day); asks on a terminal for what is not given, else takes defaults')
  .option('--site-id <id>', 'site id (in MQTT topics and records; default my-building)')
  .option('--name <name>', 'building name')
  .option('--timezone <zone>', "IANA time zone, e.g. Asia/Shanghai (default: this machine's)")
  .option('--rooms <ids|count>', 'room ids such as 3F-301,3F-302, or a count (default 2)')
  .option('--devices <kinds>', 'device kinds per room (default hvac,lighting,audio,door,occupancy,display; also fresh_air, boiler, window, air_quality)')
  .option('--capacity <seats>', 'seats per room (default 12)', positiveInt)
  .option('--gateway <host[:port]>', 'the Modbus TCP gateway of the hvac/fresh_air units (default 192.0.2.10:502, a placeholder)')
  .option('--broker <embedded|url>', 'embedded (default) or the MQTT URL of your broker')
  .option('--influx <url>', 'InfluxDB URL (default: none, the recorder spools locally)')
  .option('--language <lang>', 'wall panel language, zh-CN (default) or en')
  .option('-o, --out <file>', 'where to write it (default site.yaml)')
  .option('--force', 'overwrite --out if it exists')
  .action(async (opts: Parameters<typeof import('./init.ts').initCommand>[0]) => {
    const { initCommand } = await import('./init.ts');
    process.exitCode = await initCommand(opts);
  });

program
  .command('import')
  .description('turn a BMS points list (CSV: room, device, protocol, gateway, unit, register or topic, point, type, scale…) into rooms, devices and site profiles; reports each row it cannot place (docs/your-building.md)')
  .argument('<points.csv>', 'the points list')
  .option('-o, --out <file>', 'the site config to write (default: the --into file)')
  .option('--into <file>', 'merge into this config (e.g. from roomctl init): rooms of the list replace their devices, new rooms are added')
  .option('--site-id <id>', 'for a new config: site id')
  .option('--timezone <zone>', 'for a new config: IANA time zone')
  .option('--name <name>', 'for a new config: building name')
  .option('--language <lang>', 'for a new config: wall panel language, zh-CN (default) or en')
  .option('--profiles-dir <dir>', "where site profiles go, relative to the config (default: the config's profiles_dir, else profiles)")
  .option('--force', 'overwrite an existing --out or profile files not written by import')
  .action(async (csv: string, opts: Parameters<typeof import('./import-points.ts').importCommand>[1]) => {
    const { importCommand } = await import('./import-points.ts');
    process.exitCode = importCommand(csv, opts);
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

function daysCount(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 366) throw new InvalidArgumentError('expected a whole number of days from 1 to 366');
  return n;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number ≥ 0');
  return n;
}

await program.parseAsync(process.argv);
