import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { npmInstall, packRoomctl, repoRoot, run, tarballFiles } from './helpers/packed-roomctl.ts';

/**
 * `npm pack` produces a package whose `roomctl` bin works from another directory: the
 * tarball is installed into a fresh folder outside the checkout (as a site would, from the
 * file) and its bin is run there — `--version`, `validate`, a short `sim run`. Nothing of
 * the checkout is on the way: tsx, the sources, the profiles and the simulator must all
 * come from the installed package.
 */
let work: string;
let tarball: string;
let files: string[];
let site: string;
let roomctl: string;

// One room, one meeting: a played day of three virtual hours, about half a minute here.
const SIM_CONFIG = `
site:
  id: pkg
  name: Packaged
  timezone: Asia/Shanghai
  routines: { end_of_day: "09:45" }
modbus:
  gateways:
    - { id: gw1, tcp: { host: 127.0.0.1, port: 1512 } }
rooms:
  - id: R1
    name: Room R1
    capacity: 8
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { gateway: gw1, unit: 1, poll_ms: 15000 } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: pkg/R1/lights } }
      - { name: audio, profile: dsp-mqtt, mqtt: { base: pkg/R1/dsp }, channels: { mic: 2 } }
      - { name: door, profile: door-mqtt, mqtt: { base: pkg/R1/door } }
      - { name: occupancy, profile: occupancy-mqtt, mqtt: { base: pkg/R1/occupancy } }
      - { name: display, profile: display-mqtt, mqtt: { base: pkg/R1/display } }
    scenes:
      meeting: { steps: [ { set: lights.main.on, value: true }, { set: lights.main.level, value: 80 } ] }
simulation:
  seed: 5
  day: 2025-07-16
  start: "08:00"
  meetings:
    - { id: m1, room: R1, start: "09:00", end: "09:30", attendees: 4, title: Secret board meeting, organizer: Director Wang }
`;

const roomctlIn = (cwd: string, args: string[]) => run(roomctl, args, { cwd, env: { ...process.env, HOME: join(work, 'home') } });

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'roomctl-deploy-package-'));
  tarball = await packRoomctl(join(work, 'pack'));
  files = await tarballFiles(tarball);
  site = join(work, 'site');
  mkdirSync(site);
  mkdirSync(join(work, 'home'));
  writeFileSync(join(site, 'package.json'), '{ "name": "my-building", "private": true }\n');
  const { seconds } = await npmInstall(site, [tarball]);
  // Reported, not asserted (timings belong in bench/): the brief asks to hear if it is over ~2 min.
  console.log(`npm install of ${tarball.split('/').pop()} took ${seconds.toFixed(1)} s`);
  roomctl = join(site, 'node_modules/.bin/roomctl');
  writeFileSync(join(site, 'site.yaml'), SIM_CONFIG);
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the npm package', () => {
  it('holds the CLI, its sources, device profiles, simulator, example configs, dashboards, flows and deploy files, and no tests, benches, scripts or artifacts', () => {
    for (const needed of [
      'package.json',
      'README.md',
      'bin/roomctl.js',
      'bin/run-ts.js',
      'controller/src/cli/main.ts',
      'controller/src/panel/static/panel.html',
      'devices/profiles/fcu-modbus.yaml',
      'devices/sim/building.ts',
      'config/demo.yaml',
      'dashboards/json/overview.json',
      'dashboards/datasources/roomctl-influxdb.yaml',
      'flows/flows.json',
      'deploy/roomctl.service',
      'docs/procedures.md',
    ])
      expect(files, needed).toContain(needed);
    const unwanted = files.filter((f) => /^(controller\/test|bench|scripts|artifacts|\.ci|node_modules|flows\/node_modules)\//.test(f) || /\.test\.ts$/.test(f) || ['tsconfig.json', 'vitest.config.ts', 'package-lock.json'].includes(f));
    expect(unwanted).toEqual([]);
  });

  it('installs from the tarball elsewhere, and its roomctl bin runs from there with the package\'s own tsx: --version prints the package version', async () => {
    // The bin is the installed copy's, outside the checkout, so node finds tsx only in the site's node_modules.
    expect(realpathSync(roomctl)).toBe(join(realpathSync(site), 'node_modules/roomctl/bin/roomctl.js'));
    expect(realpathSync(site).startsWith(realpathSync(repoRoot))).toBe(false);
    const version = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version as string;
    const out = await roomctlIn(site, ['--version']);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toBe(`${version}\n`);
  });

  it('validates a config in that directory against the installed profiles, and names each problem of a broken one with its path', async () => {
    const ok = await roomctlIn(site, ['validate', 'site.yaml']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('site.yaml: OK — site pkg, 1 room, 6 devices, 25 points, 1 scene; embedded MQTT broker\n');
    writeFileSync(join(site, 'bad.yaml'), 'site: { id: pkg, name: P, timezone: Nowhere/City }\nrooms:\n  - { id: R1, name: R, capacity: -3, devices: [] }\n');
    const bad = await roomctlIn(site, ['validate', 'bad.yaml']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('site.timezone: not a known IANA time zone');
    expect(bad.stderr).toContain('rooms[0].capacity: must be > 0, got number -3 (line 3)');
  });

  it('plays a short simulated day with the installed simulator: the one meeting is ready at T-15 and at its start, named by id only (P15)', { timeout: 180_000 }, async () => {
    const day = await roomctlIn(site, ['sim', 'run', '--config', 'site.yaml', '--start', '08:00', '--json']);
    expect(day.code, day.stderr).toBe(0);
    const report = JSON.parse(day.stdout);
    expect(report).toMatchObject({ site: 'pkg', day: '2025-07-16', start: '08:00', seed: 5 });
    expect(report.meetings.map((m: { id: string }) => m.id)).toEqual(['m1']);
    expect(report.meetings[0].verdict).toMatchObject({ readyAtReadyCheck: true, readyAtStart: true, minutesLate: 0, noShow: false, failingChecks: [] });
    expect(report.summary).toMatchObject({ meetings: 1, readyAtReadyCheck: 1, readyAtStart: 1, late: 0, noShows: 0, alertsRaised: 0, alertsActiveAtEnd: 0 });
    expect(`${day.stdout}${day.stderr}`).not.toMatch(/Secret board meeting|Director Wang/);
  });
});
