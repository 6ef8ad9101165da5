import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readmeBlockAfter, readmeCommands, repoRoot } from './helpers/readme.ts';
import { freePort, waitFor } from './helpers/wait.ts';
import { startInfluxd, type Influxd } from './helpers/influxd.ts';

/**
 * Every command the README shows is run (issue 13): a README claim that stops being
 * true fails CI. Each command is either run here, as written, through bash in the
 * checkout (the only change: where a command would reach the demo's fixed ports, the
 * test's demo runs on free ones, reached through ROOMCTL_URL or an appended --url), or
 * named with the test file that runs it (and that file must run it). Commands that take
 * half an hour (sim:days, the benches) are started with --help, which parses the README's
 * options strictly, or checked to exist. The few that need what a test machine is not (systemd
 * as PID 1, a system user) say so in `manual`. A README command missing here, or an entry here
 * whose command left the README, fails the first test.
 */
type How =
  | { here: true }
  | { manual: string }
  | { by: string; needle: string }
  | { options: true; by?: string; why: string };

const HOW: Record<string, How> = {
  'npm install && npm start': { by: 'controller/test/cli-demo.test.ts', needle: "spawn('npm', ['start'" },
  'npm start': { by: 'controller/test/cli-demo.test.ts', needle: "spawn('npm', ['start'" },
  'npm test': { by: '.ci/run', needle: 'exec npm test' },
  'npx roomctl sim run --config config/demo.yaml --json': { options: true, by: 'scripts/sim-days.ts', why: 'the whole demo day takes ~8 minutes; sim:days plays it, cli-sim-run.test.ts plays a short day the same way' },
  'npx roomctl sim run --config my-building.yaml --day 2026-12-01 --seed 7 --faults faults.yaml': { here: true },
  'npx roomctl sim run --config config/demo.yaml --days 30 --policy config/what-if-fixed-120.yaml': { options: true, by: 'controller/test/cli-sim-replay.test.ts', why: 'sixty simulated days of the demo; cli-sim-replay.test.ts replays two days of a small building, with a what-if policy, the same way' },
  'npm run bench:ingest -- --rss-rooms 1000': { options: true, why: 'a bench (minutes, and both cores): its figures are in the README, not asserted' },
  'npm run bench:schedule -- --skip-demo': { options: true, why: 'a bench, ~17 minutes for its 10,000 rooms' },
  'npm run sim:days': { options: true, why: 'twelve simulated days, ~45 minutes' },
  'npm run sim:days -- --seeds 1 --no-faults': { options: true, why: 'two simulated days, ~15 minutes' },
  'npx roomctl validate config/demo.yaml': { here: true },
  'npx roomctl import points.csv --site-id acme --timezone Asia/Shanghai --out my-building/site.yaml': { here: true },
  'npx roomctl init --site-id acme --timezone Asia/Shanghai --rooms 3F-301,3F-302 --out my-building.yaml': { here: true },
  'npx roomctl start --config my-building.yaml': { here: true },
  'npx roomctl token create --role engineer --demo': { here: true },
  'npx roomctl token create --role panel --rooms 3F-301 --ttl 720h --demo': { here: true },
  'npx roomctl rooms': { here: true },
  'npx roomctl check 3F-301': { here: true },
  'npx roomctl scene 3F-301 presentation': { here: true },
  'npx roomctl meetings add --id OA-1 --room 4F-401 --start "$(TZ=Asia/Shanghai date +%F)T16:00+08:00" --end "$(TZ=Asia/Shanghai date +%F)T17:00+08:00" --level vip3': { here: true },
  'npx roomctl report --config my-building.yaml --day 2026-12-01': { here: true },
  'npx roomctl report --config my-building.yaml --month 2026-12 --json': { here: true },
  'npm run bench:influx': { options: true, why: 'a benchmark (minutes)' },
  'npm run bench:ingest': { options: true, why: 'a benchmark (minutes)' },
  'npm run bench:modbus': { options: true, why: 'a benchmark (minutes)' },
  'npm run bench:scene': { options: true, why: 'a benchmark (minutes)' },
  'npm run bench:schedule': { options: true, why: 'a benchmark (~60 minutes)' },
  'npm run bench:schedule -- --demo-only': { options: true, why: 'a benchmark (~40 minutes)' },
  'npm run docs:config': { by: 'controller/test/config-reference.test.ts', needle: 'renderConfigReference()' },
  'npm start -- --day 2025-07-16': { by: 'controller/test/cli-demo.test.ts', needle: "'--day', '2025-07-16'" },
  'npm pack': { by: 'controller/test/helpers/packed-roomctl.ts', needle: "['pack'," },
  'npm install ./roomctl-0.1.0.tgz': { by: 'controller/test/helpers/packed-roomctl.ts', needle: "['install'," },
  'sudo npm install -g --prefix /opt/roomctl ./roomctl-0.1.0.tgz': { by: 'controller/test/deploy-unit.test.ts', needle: "['-g', '--prefix', prefix, tarball]" },
  'sudo cp /opt/roomctl/lib/node_modules/roomctl/deploy/roomctl.sysusers /etc/sysusers.d/roomctl.conf && sudo systemd-sysusers': { manual: 'needs systemd as PID 1 and root: deploy-unit.test.ts runs systemd-analyze verify on the unit and its ExecStart line as written' },
  'sudo install -d -m 0750 -g roomctl /etc/roomctl': { manual: 'needs systemd as PID 1 and root: deploy-unit.test.ts runs systemd-analyze verify on the unit and its ExecStart line as written' },
  'sudo install -m 0640 -g roomctl my-building.yaml /etc/roomctl/site.yaml': { manual: 'needs systemd as PID 1 and root: deploy-unit.test.ts runs systemd-analyze verify on the unit and its ExecStart line as written' },
  'sudo install -m 0640 -g roomctl /opt/roomctl/lib/node_modules/roomctl/deploy/roomctl.env.example /etc/roomctl/roomctl.env': { manual: 'needs systemd as PID 1 and root: deploy-unit.test.ts runs systemd-analyze verify on the unit and its ExecStart line as written' },
  'sudo cp /opt/roomctl/lib/node_modules/roomctl/deploy/roomctl.service /etc/systemd/system/': { manual: 'needs systemd as PID 1 and root: deploy-unit.test.ts runs systemd-analyze verify on the unit and its ExecStart line as written' },
  'sudo systemctl daemon-reload && sudo systemctl enable --now roomctl': { manual: 'needs systemd as PID 1 and root: deploy-unit.test.ts runs systemd-analyze verify on the unit and its ExecStart line as written' },
  'sudo -u roomctl /opt/roomctl/bin/roomctl token create --role admin --label me --data-dir /var/lib/roomctl': { manual: 'needs the roomctl system user; token create --data-dir is run by cli-data-dir.test.ts' },
  'npm run flows': { by: 'controller/test/helpers/node-red.ts', needle: "join(ROOT, 'flows/start.mjs')" },
  'npm start -- --speed 120': { by: 'controller/test/cli-demo.test.ts', needle: "'--speed', '120'" },
  'npx roomctl sim fault --list': { here: true },
  'npx roomctl sim fault 3F-301 dead_mic:2': { here: true },
  'npx roomctl start --simulate --config my-building.yaml': { here: true },
  'roomctl --version': { here: true },
};

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string; scripts: Record<string, string> };
let work: string;
let state: string;
let influxd: Influxd;
let demo: ChildProcess | undefined;
let demoLog = '';
let apiUrl = '';
let controlPort = 0;
let token = '';

/** A user's own files (my-building.yaml, faults.yaml) are the test's, in its folder. */
const own = (command: string) => command.replace(/\b(my-building|faults)\.yaml\b/g, (f) => join(work, f));

/** Runs a README command as written, through bash, in the checkout. */
function sh(command: string, env: Record<string, string> = {}, cwd = repoRoot): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('bash', ['-c', own(command)], { cwd, encoding: 'utf8', timeout: 240_000, env: { ...process.env, XDG_STATE_HOME: state, ROOMCTL_URL: apiUrl, ROOMCTL_TOKEN: token, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The README's my-building.yaml: a one-room site with a simulation section and an InfluxDB. */
function myBuilding(influxUrl: string, brokerPort: number, apiPort: number, modbusPort: number, simPort: number): string {
  return `site: { id: mybuilding, name: My building, timezone: Asia/Shanghai, routines: { end_of_day: "10:00" } }
mqtt: { broker: { port: ${brokerPort} } }
api: { port: ${apiPort} }
influx: { url: ${influxUrl}, database: roomctl_readme }
modbus:
  gateways: [ { id: gw1, tcp: { host: 127.0.0.1, port: ${modbusPort} } } ]
rooms:
  - id: R1
    name: Room one
    capacity: 6
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { gateway: gw1, unit: 1 } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: mine/R1/lights } }
      - { name: door, profile: door-mqtt, mqtt: { base: mine/R1/door } }
      - { name: occupancy, profile: occupancy-mqtt, mqtt: { base: mine/R1/occupancy } }
simulation:
  day: 2026-12-01
  start: "08:30"
  control_port: ${simPort}
  meetings:
    - { id: standup, room: R1, start: "09:00", end: "09:30", attendees: 4 }
`;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'roomctl-readme-'));
  state = mkdtempSync(join(tmpdir(), 'roomctl-readme-state-'));
  influxd = await startInfluxd();
  writeFileSync(join(work, 'my-building.yaml'), myBuilding(influxd.url, await freePort(), await freePort(), await freePort(), await freePort()));
  writeFileSync(join(work, 'faults.yaml'), '- { room: R1, kind: lights_stuck_on, at: "10:00" }\n');
  // The demo, on free ports, with the test's own state home: the API commands talk to it.
  let text = readFileSync(join(repoRoot, 'config/demo.yaml'), 'utf8');
  for (const port of [5020, 5021, 5022, 5023]) text = text.replaceAll(`port: ${port} }`, `port: ${await freePort()} }`);
  controlPort = await freePort();
  const apiPort = await freePort();
  text = text.replace(/control_port: \d+/, `control_port: ${controlPort}`) + `\nmqtt:\n  broker: { port: ${await freePort()} }\napi: { port: ${apiPort} }\n`;
  writeFileSync(join(work, 'demo.yaml'), text);
  apiUrl = `http://127.0.0.1:${apiPort}`;
  demo = spawn(process.execPath, [join(repoRoot, 'bin/roomctl.js'), 'start', '--simulate', '--config', join(work, 'demo.yaml'), '--speed', '48'], { cwd: repoRoot, env: { ...process.env, XDG_STATE_HOME: state }, stdio: ['ignore', 'ignore', 'pipe'] });
  demo.stderr!.on('data', (d) => (demoLog += d));
  await waitFor(() => /roomctl started: site demo/.test(demoLog), 90_000, 'the demo to start');
}, 180_000);

afterAll(async () => {
  if (demo && demo.exitCode === null) demo.kill('SIGKILL');
  await influxd?.cleanup();
});

describe('every command the README shows is run by the suite', () => {
  it('each README command has a way to run it here, and every entry here is still in the README', () => {
    const commands = readmeCommands();
    expect(commands.filter((c) => !HOW[c]), 'README commands nobody runs: add them to HOW in readme-commands.test.ts').toEqual([]);
    expect(Object.keys(HOW).filter((c) => !commands.includes(c)), 'commands that left the README').toEqual([]);
    for (const [command, how] of Object.entries(HOW)) {
      if (!('by' in how) || !how.by) continue;
      expect(existsSync(join(repoRoot, how.by)), `${command}: ${how.by}`).toBe(true);
      if ('needle' in how) expect(readFileSync(join(repoRoot, how.by), 'utf8'), `${how.by} runs ${command}`).toContain(how.needle);
    }
  });

  it('validate config/demo.yaml prints the OK line the README quotes', () => {
    const r = sh('npx roomctl validate config/demo.yaml');
    expect(r.status).toBe(0);
    const quoted = readFileSync(join(repoRoot, 'README.md'), 'utf8').match(/\(`(config\/demo\.yaml: OK[^`]*)`\)/)?.[1];
    expect(quoted, 'the README quotes the OK line').toBeTruthy();
    expect(r.stdout.trim()).toBe(quoted);
  });

  it("validate on the README's three-mistake file prints exactly the README's lines, and its --json object", () => {
    const dir = mkdtempSync(join(tmpdir(), 'roomctl-readme-validate-'));
    writeFileSync(join(dir, 'my-building.yaml'), readmeBlockAfter('This room has three mistakes:').join('\n') + '\n');
    const text = spawnSync(process.execPath, [join(repoRoot, 'bin/roomctl.js'), 'validate', 'my-building.yaml'], { cwd: dir, encoding: 'utf8' });
    expect(text.status).toBe(1);
    expect(text.stderr.trimEnd().split('\n')).toEqual(readmeBlockAfter('`roomctl validate my-building.yaml` prints'));
    const json = spawnSync(process.execPath, [join(repoRoot, 'bin/roomctl.js'), 'validate', 'my-building.yaml', '--json'], { cwd: dir, encoding: 'utf8' });
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual(JSON.parse(readmeBlockAfter('For the file above:').join('\n')));
  });

  it('import (the example points list as points.csv) and init write configs that validate', () => {
    const dir = mkdtempSync(join(tmpdir(), 'roomctl-readme-onboard-'));
    const inDir = (command: string) => command.replace(/(?<![\w/])(points\.csv|my-building\/site\.yaml|my-building\.yaml)/g, (f) => join(dir, f));
    writeFileSync(join(dir, 'points.csv'), readFileSync(join(repoRoot, 'config/example-points.csv')));
    const run = (command: string) => spawnSync('bash', ['-c', inDir(command)], { cwd: repoRoot, encoding: 'utf8' });
    const imported = run(Object.keys(HOW).find((c) => c.startsWith('npx roomctl import '))!);
    // Exit 3: written, with the example's deliberately unplaceable rows left out and named.
    expect(imported.status, imported.stderr).toBe(3);
    expect(imported.stdout + imported.stderr).toMatch(/row \d+/);
    const initialised = run(Object.keys(HOW).find((c) => c.startsWith('npx roomctl init '))!);
    expect(initialised.status, initialised.stderr).toBe(0);
    for (const file of ['my-building/site.yaml', 'my-building.yaml']) {
      const v = spawnSync(process.execPath, [join(repoRoot, 'bin/roomctl.js'), 'validate', join(dir, file)], { encoding: 'utf8' });
      expect(v.status, `${file}: ${v.stderr}`).toBe(0);
      expect(v.stdout).toMatch(/: OK — site acme, /);
    }
  });

  it('the options the long commands are shown with are accepted (each started with --help)', () => {
    for (const [command, how] of Object.entries(HOW)) {
      if (!('options' in how)) continue;
      const npmScript = command.match(/^npm run ([\w:]+)/)?.[1];
      if (npmScript) {
        expect(pkg.scripts[npmScript], `package.json has the script ${npmScript}`).toBeTruthy();
        const entry = pkg.scripts[npmScript]!.match(/([\w/.-]+\.(?:ts|mjs|js))/)?.[1];
        expect(existsSync(join(repoRoot, entry!)), `${npmScript}: ${entry}`).toBe(true);
        if (npmScript !== 'sim:days') continue; // the benches take no options in the README
        const help = sh(`${command}${command.includes(' -- ') ? '' : ' --'} --help`);
        expect(help.stderr + help.stdout, command).toMatch(/usage/i);
        expect(help.status, `${command} --help: ${help.stderr}`).toBe(0);
        continue;
      }
      const sub = command.replace(/^npx roomctl /, '').split(' ').filter((w) => !w.startsWith('-'))[0]!;
      const subs = command.replace(/^npx roomctl /, '').split(' ');
      const words = subs.slice(0, subs.findIndex((w) => w.startsWith('-')));
      const help = sh(`npx roomctl ${words.join(' ')} --help`);
      expect(help.status, `${sub} --help`).toBe(0);
      for (const option of command.match(/--[a-z][\w-]*/g) ?? []) expect(help.stdout, `${command}: ${option}`).toContain(option);
      for (const file of command.match(/[\w/.-]+\.ya?ml/g) ?? []) expect(existsSync(join(repoRoot, file)), file).toBe(true);
    }
  });

  it('--version, sim fault --list, and a fault injected into the running demo', () => {
    const version = sh('node bin/roomctl.js --version');
    expect(version.stdout.trim()).toBe(pkg.version);
    for (const c of Object.keys(HOW).filter((c) => c.startsWith('roomctl --'))) expect(sh(c.replace(/^roomctl/, 'npx roomctl')).stdout.trim()).toBe(pkg.version);
    const list = sh('npx roomctl sim fault --list');
    expect(list.status).toBe(0);
    for (const kind of ['dead_mic', 'fcu_offline', 'door_left_open', 'device_reboot']) expect(list.stdout).toContain(kind);
    const fault = sh(`npx roomctl sim fault 3F-301 dead_mic:2 --url http://127.0.0.1:${controlPort}`);
    expect(fault.stdout.trim()).toBe('injected dead_mic:2 in 3F-301');
  });

  it('token create (the demo), then rooms, check, scene and meetings add against the running demo', () => {
    const created = sh('npx roomctl token create --role engineer --demo');
    expect(created.status, created.stderr).toBe(0);
    token = created.stdout.match(/rct_[0-9a-f]+_\S+/)![0];
    const panel = sh('npx roomctl token create --role panel --rooms 3F-301 --ttl 720h --demo');
    expect(panel.status, panel.stderr).toBe(0);
    expect(panel.stdout).toMatch(/rct_/);
    const rooms = sh('npx roomctl rooms');
    expect(rooms.status, rooms.stderr).toBe(0);
    for (const room of ['1F-101', '3F-301', '4F-404']) expect(rooms.stdout).toContain(room);
    const check = sh('npx roomctl check 3F-301');
    expect([0, 1], check.stderr).toContain(check.status); // "exit 1 if not ready"
    expect(check.stdout).toMatch(/temperature_in_band/);
    const scene = sh('npx roomctl scene 3F-301 presentation');
    expect([0, 1], scene.stderr).toContain(scene.status);
    expect(scene.stdout).toMatch(/presentation/);
    const command = Object.keys(HOW).find((c) => c.startsWith('npx roomctl meetings add'))!;
    const add = sh(command);
    expect(add.status, add.stderr).toBe(0);
    expect(add.stdout).toContain('OA-1');
  });

  it("my-building.yaml: start and start --simulate (each stopped with 0), sim run with a faults file, report for that day and its month", async () => {
    for (const [command, signal] of [['npx roomctl start --config my-building.yaml', 'SIGTERM'], ['npx roomctl start --simulate --config my-building.yaml', 'SIGINT']] as const) {
      expect(HOW[command]).toEqual({ here: true });
      // Its own process group, as a terminal's foreground job or a service's cgroup: the group gets the signal.
      const child = spawn('bash', ['-c', `exec ${own(command)}`], { cwd: repoRoot, env: { ...process.env, XDG_STATE_HOME: state }, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
      let log = '';
      child.stderr!.on('data', (d) => (log += d));
      const exited = new Promise<void>((r) => child.once('close', () => r())); // 'close': roomctl (npx's grandchild) holds stderr until it is done
      await waitFor(() => /roomctl started: site mybuilding/.test(log), 60_000, command);
      process.kill(-child.pid!, signal);
      await exited;
      // roomctl itself exits 0 (cli-data-dir and deploy tests run the bin directly); npx's own
      // shell (dash) dies of the group's signal, so npx reports the signal, as the README says.
      expect(log, command).toMatch(/stopped cleanly/);
    }

    const run = sh('npx roomctl sim run --config my-building.yaml --day 2026-12-01 --seed 7 --faults faults.yaml');
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/standup/);
    const day = sh('npx roomctl report --config my-building.yaml --day 2026-12-01');
    expect(day.status, day.stderr).toBe(0);
    const month = sh('npx roomctl report --config my-building.yaml --month 2026-12 --json');
    expect(month.status, month.stderr).toBe(0);
    // The sim run recorded into the site's InfluxDB: the day and its month find the one meeting (P4, P9).
    expect(day.stdout).toContain('standup');
    expect((JSON.parse(month.stdout) as { meetings: { meetingId: string; readyAtReadyCheck: boolean }[] }).meetings.map((m) => [m.meetingId, m.readyAtReadyCheck])).toEqual([['standup', true]]);
  }, 300_000);
});
