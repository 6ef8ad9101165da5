import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * `roomctl init` and `roomctl import` as an engineer runs them (issue 13, "your own
 * building"): the real CLI in child processes in a temporary folder; what they write
 * is checked by `roomctl validate` and, for an imported room, played by `roomctl sim
 * run` against the simulated devices over real sockets.
 */
const root = resolve(import.meta.dirname, '../..');
const EXAMPLE = join(root, 'config/example-points.csv');
let dir: string;

function roomctl(args: string[], cwd = dir, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(root, 'bin/roomctl.js'), ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('exit', (code) => done({ code, stdout, stderr }));
  });
}

const sub = (name: string) => {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  return d;
};
type Config = { rooms: { id: string; devices: { name: string; profile: string; modbus?: unknown; mqtt?: { base: string } }[] }[]; modbus: { gateways: { id: string; tcp: unknown }[] }; simulation: { meetings: { id: string; room: string }[] } };
const config = (file: string) => parse(readFileSync(file, 'utf8')) as Config;
const devicesOf = (c: Config) => c.rooms.map((r) => [r.id, r.devices.map((d) => `${d.name}:${d.profile}`)]);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'roomctl-init-import-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The rows of config/example-points.csv that cannot be placed, as the guide (docs/your-building.md) lists them. */
const EXAMPLE_UNPLACED = [
  'config/example-points.csv: 5 rows not placed:',
  '  row 8: duplicate point fcu_1.setpoint ("Set point"; also row 3)',
  '  row 30: no register for Modbus point "Valve"',
  '  row 31: unknown protocol "BACnet/IP": roomctl speaks modbus and mqtt',
  '  row 48: data type "BCD" not understood (int16, uint16, int32, uint32, float32, float64, bool or enum)',
  '  row 59: device "Sensor-7" of room 5F-501 has no kind (neither its name nor its points tell): add a Kind column',
];

describe('roomctl init', () => {
  it('writes, from flags alone, a commented config with a simulated day that roomctl validate passes as written', async () => {
    const cwd = sub('init-flags');
    const run = await roomctl(['init', '--site-id', 'acme', '--name', 'ACME HQ', '--timezone', 'Asia/Shanghai', '--rooms', '3F-301,3F-302', '--out', 'site.yaml', '--language', 'en', '--capacity', '20'], cwd);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('site.yaml: OK — site acme, 2 rooms, 12 devices, 50 points');
    const text = readFileSync(join(cwd, 'site.yaml'), 'utf8');
    for (const pointer of ['docs/configuration.md', 'docs/procedures.md', '# Rooms:', '# MQTT:', '# The simulated day']) expect(text).toContain(pointer);
    const c = config(join(cwd, 'site.yaml'));
    expect(devicesOf(c)).toEqual([
      ['3F-301', ['hvac:fcu-modbus', 'lights:lighting-mqtt', 'audio:dsp-mqtt', 'door:door-mqtt', 'occupancy:occupancy-mqtt', 'display:display-mqtt']],
      ['3F-302', ['hvac:fcu-modbus', 'lights:lighting-mqtt', 'audio:dsp-mqtt', 'door:door-mqtt', 'occupancy:occupancy-mqtt', 'display:display-mqtt']],
    ]);
    expect(c.simulation.meetings).toEqual([
      { id: 'm-3f-301', room: '3F-301', start: '10:00', end: '11:00', level: 'normal', attendees: 10 },
      { id: 'm-3f-302', room: '3F-302', start: '10:00', end: '11:00', level: 'normal', attendees: 10 },
    ]);
    const validate = await roomctl(['validate', 'site.yaml'], cwd);
    expect(validate.code, validate.stderr).toBe(0);
  });

  it('refuses to overwrite an existing file without --force, and names a time zone that is not IANA and an unknown device kind', async () => {
    const cwd = sub('init-refuse');
    writeFileSync(join(cwd, 'site.yaml'), '# mine\n');
    const again = await roomctl(['init', '--site-id', 'a', '--timezone', 'UTC', '--rooms', '1', '--out', 'site.yaml'], cwd);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('--out: site.yaml exists; give --force to overwrite it, or another --out');
    expect(readFileSync(join(cwd, 'site.yaml'), 'utf8')).toBe('# mine\n');
    const bad = await roomctl(['init', '--timezone', 'Mars/Olympus', '--devices', 'hvac,toaster', '--out', 'other.yaml'], cwd);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--timezone: "Mars/Olympus" is not an IANA time zone (e.g. Asia/Shanghai, Europe/Berlin)');
    expect(bad.stderr).toContain('--devices: unknown kind "toaster"');
    expect(readdirSync(cwd)).toEqual(['site.yaml']);
    const forced = await roomctl(['init', '--site-id', 'a', '--timezone', 'UTC', '--rooms', '1', '--out', 'site.yaml', '--force'], cwd);
    expect(forced.code, forced.stderr).toBe(0);
  });

  it('without a terminal and without flags takes the defaults and says which', async () => {
    const cwd = sub('init-defaults');
    const run = await roomctl(['init'], cwd, { TZ: 'Europe/Berlin' });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('roomctl init: not given, so defaults: --site-id my-building, --name My building, --rooms 2, --out site.yaml, --language zh-CN, --gateway 192.0.2.10:502, --capacity 12, --timezone Europe/Berlin (this machine\'s)');
    expect(config(join(cwd, 'site.yaml')).rooms.map((r) => r.id)).toEqual(['room-1', 'room-2']);
  });
});

describe('roomctl import', () => {
  it('turns config/example-points.csv into the rooms, devices and shared site profiles it describes, and reports each row it cannot place with its number and why', async () => {
    const cwd = sub('import-fresh');
    // A copy at the same relative path, so the list is named as the guide shows it.
    mkdirSync(join(cwd, 'config'));
    copyFileSync(EXAMPLE, join(cwd, 'config/example-points.csv'));
    const run = await roomctl(['import', 'config/example-points.csv', '--site-id', 'acme', '--timezone', 'Asia/Shanghai', '--out', 'site.yaml'], cwd);
    expect(run.code, run.stderr).toBe(3);
    expect(run.stdout).toContain('config/example-points.csv: 58 rows → 3 rooms, 16 devices (10 on built-in profiles, the rest on 4 site profiles), 2 new Modbus gateways; 53 rows placed');
    expect(run.stderr.split('\n').filter((l) => l.startsWith('config/example-points.csv: 5') || l.startsWith('  row '))).toEqual(EXAMPLE_UNPLACED);
  });

  it('writes the example\'s config and profiles where --out says, and the result passes roomctl validate', async () => {
    const cwd = sub('import-out');
    const run = await roomctl(['import', EXAMPLE, '--site-id', 'acme', '--timezone', 'Asia/Shanghai', '--out', 'site.yaml'], cwd);
    expect(run.code, run.stderr).toBe(3);
    const c = config(join(cwd, 'site.yaml'));
    expect(devicesOf(c)).toEqual([
      ['3F-301', ['fcu_1:kelvin-kfc-20', 'lights:lighting-mqtt', 'dsp:tesira-lite', 'door:door-mqtt', 'occupancy:occupancy-mqtt', 'projector:display-mqtt']],
      ['3F-302', ['fcu_1:kelvin-kfc-20', 'lights:lighting-mqtt', 'door:door-mqtt', 'occupancy:occupancy-mqtt', 'wall_screen:display-mqtt']],
      ['5F-501', ['fcu_1:fcu-modbus', 'lights:acme-lighting', 'dsp:tesira-lite', 'door:door-mqtt', 'presence_sensor:acme-occupancy']],
    ]);
    expect(c.rooms[0]!.devices[1]).toEqual({ name: 'lights', profile: 'lighting-mqtt', mqtt: { base: 'acme/3F-301/lights' }, channels: { zone: ['main', 'board'] } });
    expect(c.rooms[1]!.devices[0]).toEqual({ name: 'fcu_1', profile: 'kelvin-kfc-20', modbus: { gateway: 'gw-10-3-0-21', unit: 2 } });
    expect(c.modbus.gateways).toEqual([
      { id: 'gw-10-3-0-21', tcp: { host: '10.3.0.21', port: 502 } },
      { id: 'gw-10-5-0-21', tcp: { host: '10.5.0.21', port: 502 } },
    ]);
    expect(readdirSync(join(cwd, 'profiles')).sort()).toEqual(['acme-lighting.yaml', 'acme-occupancy.yaml', 'kelvin-kfc-20.yaml', 'tesira-lite.yaml']);
    const fcu = parse(readFileSync(join(cwd, 'profiles/kelvin-kfc-20.yaml'), 'utf8'));
    expect(Object.fromEntries(Object.entries(fcu.points as Record<string, { modbus: object }>).map(([k, p]) => [k, p.modbus]))).toEqual({
      temperature: { table: 'input', address: 5, type: 'int16', scale: 0.1 },
      setpoint: { table: 'holding', address: 10, type: 'int16', scale: 0.1 },
      power: { table: 'coil', address: 1 },
      mode: { table: 'holding', address: 11, type: 'uint16', enum: { 0: 'auto', 1: 'cool', 2: 'heat', 3: 'fan' } },
      fan_speed: { table: 'holding', address: 12, type: 'uint16', enum: { 0: 'auto', 1: 'low', 2: 'medium', 3: 'high' } },
      fault: { table: 'discrete', address: 3 },
    });
    // P5: the setpoint keeps the built-in FCU's safe command range inside the list's own 10–32.
    expect(fcu.points.setpoint).toMatchObject({ writable: true, min: 10, max: 32, safe: { min: 16, max: 30 } });
    expect(readFileSync(join(cwd, 'profiles/kelvin-kfc-20.yaml'), 'utf8')).toMatch(/^# Written by `roomctl import` from .*example-points\.csv \(rows 2–7, 24–29\); used by 3F-301\/fcu_1, 3F-302\/fcu_1\./);
    const dsp = parse(readFileSync(join(cwd, 'profiles/tesira-lite.yaml'), 'utf8'));
    expect(Object.keys(dsp.points)).toEqual(['mic.1.level', 'mic.1.mute', 'mic.2.level', 'mic.2.mute', 'master.mute']);
    expect(dsp.points['mic.1.mute'].mqtt).toEqual({ state: { topic: '{base}/mic/1', path: 'mute' }, command: { topic: '{base}/mic/1/set', payload: { mute: '{value}' } } });
    expect(run.stderr).toContain('warning: profile tesira-lite: no point mic.*.test: no test tone');
    const validate = await roomctl(['validate', 'site.yaml'], cwd);
    expect(validate.code, validate.stderr).toBe(0);
    expect(validate.stdout).toContain('site.yaml: OK — site acme, 3 rooms, 16 devices, 53 points');
  });

  it('merges into a config from roomctl init: the rooms of the list get its devices, new rooms are added with a simulated meeting, other rooms are kept', async () => {
    const cwd = sub('import-into');
    expect((await roomctl(['init', '--site-id', 'acme', '--timezone', 'Asia/Shanghai', '--rooms', '3F-301,9F-901', '--out', 'site.yaml'], cwd)).code).toBe(0);
    const run = await roomctl(['import', EXAMPLE, '--into', 'site.yaml'], cwd);
    expect(run.code, run.stderr).toBe(3);
    expect(run.stdout).toContain("room 3F-301: devices replaced by the points list's 6 (the file had 6)");
    expect(run.stdout).toContain('room 5F-501: added with 5 devices (capacity 12: set the real figure)');
    const c = config(join(cwd, 'site.yaml'));
    expect(c.rooms.map((r) => r.id)).toEqual(['3F-301', '9F-901', '3F-302', '5F-501']);
    expect(c.rooms[1]!.devices.map((d) => d.profile)).toEqual(['fcu-modbus', 'lighting-mqtt', 'dsp-mqtt', 'door-mqtt', 'occupancy-mqtt', 'display-mqtt']);
    expect(c.rooms[0]!.devices[0]!.profile).toBe('kelvin-kfc-20');
    expect(c.simulation.meetings.map((m) => m.id)).toEqual(['m-3f-301', 'm-9f-901', 'm-3f-302', 'm-5f-501']);
    expect(c.modbus.gateways.map((g) => g.id)).toEqual(['gw-1', 'gw-10-3-0-21', 'gw-10-5-0-21']);
    expect(readFileSync(join(cwd, 'site.yaml'), 'utf8')).toContain('docs/procedures.md');
    expect((await roomctl(['validate', 'site.yaml'], cwd)).code).toBe(0);
  });

  it('reads other header spellings, semicolons, Modicon numbers and bits, and reports an unknown gateway id and a device whose kind lacks a point the engine needs', async () => {
    const cwd = sub('import-spellings');
    writeFileSync(
      join(cwd, 'points.csv'),
      [
        'ROOM;Equipment;Proto;IP;Slave ID;Address;Point Name;DataType;Scaling;Access;Notes',
        'R1;FCU-A;modbus;10.0.0.5:1502;3;30006;Room temp;INT16;1/10;R;panel 4',
        'R1;FCU-A;modbus;10.0.0.5:1502;3;40011;Setpoint;int16;0.1;RW;',
        'R1;FCU-A;modbus;10.0.0.5:1502;3;40013.2;On/Off;bool;;RW;',
        'R1;FCU-B;modbus;GW-9;4;40011;Setpoint;int16;0.1;RW;',
        'R2;AC-2;modbus;10.0.0.5:1502;5;30006;Room temp;int16;0.1;R;no setpoint in this list',
        'R2;AC-2;modbus;10.0.0.5:1502;5;00001;Power;bool;;RW;',
      ].join('\n'),
    );
    const run = await roomctl(['import', 'points.csv', '--site-id', 's', '--timezone', 'UTC', '--out', 'site.yaml'], cwd);
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).toContain('points.csv: columns ignored (not ours): Notes');
    expect(run.stderr.split('\n').filter((l) => l.startsWith('  row '))).toEqual([
      '  row 5: gateway "GW-9" is not in modbus.gateways of the config: give host[:port] (e.g. 10.3.0.21:502) or add the gateway to the --into file',
      '  row 6: device R2/AC-2 left out: kind hvac needs point setpoint (number, writable): set to the comfort band for pre-conditioning (P5) and to setback after (P7)',
      '  row 7: device R2/AC-2 left out: kind hvac needs point setpoint (number, writable): set to the comfort band for pre-conditioning (P5) and to setback after (P7)',
    ]);
    const c = config(join(cwd, 'site.yaml'));
    expect(devicesOf(c)).toEqual([['R1', ['fcu_a:s-hvac']]]);
    expect(c.modbus.gateways).toEqual([{ id: 'gw-10-0-0-5-1502', tcp: { host: '10.0.0.5', port: 1502 } }]);
    const p = parse(readFileSync(join(cwd, 'profiles/s-hvac.yaml'), 'utf8'));
    expect(Object.fromEntries(Object.entries(p.points as Record<string, { modbus: object }>).map(([k, x]) => [k, x.modbus]))).toEqual({
      temperature: { table: 'input', address: 5, type: 'int16', scale: 0.1 },
      setpoint: { table: 'holding', address: 10, type: 'int16', scale: 0.1 },
      power: { table: 'holding', address: 12, type: 'uint16', bit: 2 },
    });
    expect((await roomctl(['validate', 'site.yaml'], cwd)).code).toBe(0);
  });

  it('says why it writes nothing: no room column, or a new config without a site id and time zone', async () => {
    const cwd = sub('import-refuse');
    writeFileSync(join(cwd, 'bad.csv'), 'Where,Device,Protocol,Point,Register\nx,y,modbus,z,1\n');
    const noRoom = await roomctl(['import', 'bad.csv', '--site-id', 's', '--timezone', 'UTC', '--out', 'site.yaml'], cwd);
    expect(noRoom.code).toBe(1);
    expect(noRoom.stderr).toContain('bad.csv: row 1: no room column (headers accepted: "room", "room id", "space", "location", "meeting room")');
    const noSite = await roomctl(['import', 'bad.csv', '--out', 'site.yaml'], cwd);
    expect(noSite.code).toBe(2);
    expect(noSite.stderr).toContain('roomctl import: a new config needs --site-id and --timezone (or give --into FILE from `roomctl init`)');
    expect(readdirSync(cwd)).toEqual(['bad.csv']);
  });

  it('plays a short simulated day on an imported room: its site-profile fan-coil unit, lights, door, occupancy and screen are simulated over real sockets and the meeting is ready', { timeout: 300_000 }, async () => {
    const cwd = sub('import-sim');
    const rows = readFileSync(EXAMPLE, 'utf8').split('\n');
    writeFileSync(join(cwd, 'points.csv'), [rows[0], ...rows.filter((l) => l.startsWith('3F-302,FCU-1,') || l.startsWith('3F-302,Lights,') || l.startsWith('3F-302,Door,') || l.startsWith('3F-302,Occupancy,') || l.startsWith('3F-302,Wall screen,'))].join('\n'));
    writeFileSync(
      join(cwd, 'base.yaml'),
      [
        'site: { id: onb, name: Onboarding, timezone: Asia/Shanghai, routines: { end_of_day: "10:00" } }',
        'rooms:',
        '  - { id: 3F-302, name: Room 302, capacity: 12, devices: [] }',
        'simulation:',
        '  day: 2025-07-16',
        '  seed: 5',
        '  meetings:',
        '    - { id: first-meeting, room: 3F-302, start: "09:00", end: "09:30", attendees: 4, title: Secret merger, organizer: Director Li }',
      ].join('\n'),
    );
    // One row (the valve without a register) cannot be placed: exit 3, the rest is written.
    const imported = await roomctl(['import', 'points.csv', '--into', 'base.yaml', '--out', 'site.yaml'], cwd);
    expect(imported.code, imported.stderr).toBe(3);
    expect(devicesOf(config(join(cwd, 'site.yaml')))).toEqual([['3F-302', ['fcu_1:kelvin-kfc-20', 'lights:lighting-mqtt', 'door:door-mqtt', 'occupancy:occupancy-mqtt', 'wall_screen:display-mqtt']]]);
    const run = await roomctl(['sim', 'run', '--config', 'site.yaml', '--start', '07:00', '--json'], cwd);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ site: 'onb', day: '2025-07-16', start: '07:00', seed: 5 });
    expect(report.meetings).toHaveLength(1);
    expect(report.meetings[0].verdict).toMatchObject({ readyAtReadyCheck: true, readyAtStart: true, noShow: false, minutesLate: 0 });
    expect(report.meetings[0].temperatureInBandAtReadyCheck).toBe(true);
    expect(report.summary).toMatchObject({ meetings: 1, readyAtReadyCheck: 1, readyAtStart: 1, alertsRaised: 0 });
    expect(report.summary.hvacMinutes).toBeGreaterThan(0);
    // P15: meetings are named by id only.
    expect(run.stdout).not.toContain('Secret merger');
    expect(run.stdout).not.toContain('Director Li');
  });
});
