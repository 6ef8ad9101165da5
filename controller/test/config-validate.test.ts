import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateCommand } from '../src/cli/validate.ts';

/**
 * Issue 13, part 4: `roomctl validate` reports one problem per mistake (no follow-on
 * errors from a key or entry that could not be read), cross-checks references between
 * entries, and prints `--json`. Files start from config/demo.yaml and the README's
 * small example (fixtures/three-mistakes.yaml), each edited in one place.
 */
const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'roomctl-config-validate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DEMO = readFileSync(join(root, 'config/demo.yaml'), 'utf8');
const THREE = join(root, 'controller/test/fixtures/three-mistakes.yaml');

/** `text` with each [from, to] replaced once; a `from` that is not there fails the test (an edit that silently did nothing proves nothing). */
function edit(text: string, ...edits: [string, string][]): string {
  for (const [from, to] of edits) {
    if (!text.includes(from)) throw new Error(`edit: "${from}" is not in the file`);
    text = text.replace(from, to);
  }
  return text;
}

let n = 0;
/** Runs validate in-process on the text; stderr lines with the file name replaced by FILE. */
function validate(yaml: string): { code: number; out: string[]; err: string[] } {
  const file = join(dir, `c${++n}.yaml`);
  writeFileSync(file, yaml);
  const out: string[] = [];
  const err: string[] = [];
  const code = validateCommand(file, { out: (l) => out.push(l), err: (l) => err.push(l.replaceAll(file, 'FILE')) });
  return { code, out, err };
}

const roomctl = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [join(root, 'bin/roomctl.js'), ...args], { cwd: root, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } });

describe('roomctl validate: one mistake, one problem', () => {
  it('prints the OK line of the demo with its counts and a trailing newline, and nothing on stderr', () => {
    const run = roomctl(['validate', 'config/demo.yaml']);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('config/demo.yaml: OK — site demo, 9 rooms, 83 devices, 443 points, 36 scenes; embedded MQTT broker\n');
    expect(run.stderr).toBe('');
  });

  it('reports the misspelt site.timezon as one unknown key, not also "required" for timezone nor every policy and gateway lookup after it', () => {
    const r = validate(edit(DEMO, ['  timezone: Asia/Shanghai', '  timezon: Asia/Shanghai']));
    expect(r).toEqual({ code: 1, out: [], err: ['site.timezon: unknown key (did you mean "timezone"?) (line 8)', 'FILE: 1 problem'] });
  });

  it("reports the README's three-mistake example as exactly its three lines, and not the variable under the misspelt key", () => {
    const run = roomctl(['validate', THREE]);
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.split('\n')).toEqual([
      'mqtt.pasword: unknown key (did you mean "password"?) (line 6)',
      'rooms[0].devices[0].modbus.port: expected a number, got "502x" (line 13)',
      'rooms[0].devices[1].profile: unknown profile "lighting-mqt" (did you mean "lighting-mqtt"?) (line 14)',
      `${THREE}: 3 problems`,
      '',
    ]);
  });

  it("passes the README's example once its three mistakes are fixed: 1 room, 7 devices, 41 points", () => {
    const fixed = join(dir, 'fixed.yaml');
    writeFileSync(fixed, edit(readFileSync(THREE, 'utf8'), ['pasword:', 'password:'], ['"502x"', '502'], ['lighting-mqt,', 'lighting-mqtt,']));
    const run = roomctl(['validate', fixed], { MQTT_PASSWORD: 'from-the-environment' });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(`${fixed}: OK — site hq, 1 room, 7 devices, 41 points, 2 scenes; MQTT mqtts://broker.hq.example:8883\n`);
    expect(run.status).toBe(0);
  });

  it.each([
    ['a policy with a bad key, which two rooms name', ['lead_minutes: { av: 45 }', 'lead_minutes: { avv: 45 }'], 'policies.vip.lead_minutes.avv: unknown key (did you mean "av"?) (line 23)'],
    ['a gateway entry with a bad key, which five devices name', ['tcp: { host: 127.0.0.1, port: 5020 }', 'tcp: { host: 127.0.0.1, prot: 5020 }'], 'modbus.gateways[2].tcp.prot: unknown key (did you mean "port"?) (line 15)'],
    ["a gateway entry whose id key is misspelt", ['    - id: gw-3f', '    - idd: gw-3f'], 'modbus.gateways[2].idd: unknown key (did you mean "id"?) (line 14)'],
    ['a misspelt policies section', ['\npolicies:', '\npolices:'], 'polices: unknown key (did you mean "policies"?) (line 20)'],
    ['a misspelt modbus section', ['\nmodbus:', '\nmdbus:'], 'mdbus: unknown key (did you mean "modbus"?) (line 11)'],
    ['a misspelt gateways list', ['  gateways:', '  gateway:'], 'modbus.gateway: unknown key (did you mean "gateways"?) (line 12)'],
    ['an unknown profile on lights that four scenes write', ['profile: lighting-mqtt, mqtt: { base: demo/2F-201/lights }', 'profile: lighting-mqt, mqtt: { base: demo/2F-201/lights }'], 'rooms[1].devices[3].profile: unknown profile "lighting-mqt" (did you mean "lighting-mqtt"?) (line 90)'],
    ['a channel typo on lights that scenes write', ['base: demo/3F-301/lights }, channels: { zone:', 'base: demo/3F-301/lights }, channels: { zones:'], 'rooms[2].devices[2].channels.zones: profile lighting-mqtt has no channel "zones" (did you mean "zone"?) (line 140)'],
    ['a room whose id key is misspelt, which simulation meetings and settings name', ['  - id: 3F-301', '  - idd: 3F-301'], 'rooms[2].idd: unknown key (did you mean "id"?) (line 132)'],
  ])('reports %s as that one problem, not the references into it', (_what, change, problem) => {
    expect(validate(edit(DEMO, change as [string, string])).err).toEqual([problem, 'FILE: 1 problem']);
  });

  it('keeps every independent mistake beside a broken section: an unknown gateway, a scene point the room lacks, and a misspelt policy name', () => {
    const r = validate(
      edit(
        DEMO,
        ['tcp: { host: 127.0.0.1, port: 5020 }', 'tcp: { host: 127.0.0.1, prot: 5020 }'],
        ['modbus: { gateway: gw-4f, unit: 7 }', 'modbus: { gateway: gw-5f, unit: 7 }'],
        ['          - { set: lights.aisle.level, value: 40 }', '          - { set: lights.isle.level, value: 40 }'],
        ['    policy: standard\n    devices:\n      - { name: hvac, profile: fcu-modbus, modbus: { gateway: gw-3f, unit: 5 } }', '    policy: standrad\n    devices:\n      - { name: hvac, profile: fcu-modbus, modbus: { gateway: gw-3f, unit: 5 } }'],
      ),
    );
    expect(r.err).toEqual([
      'modbus.gateways[2].tcp.prot: unknown key (did you mean "port"?) (line 15)',
      'rooms[0].scenes.meeting.steps[5].set: room 1F-101 has no point "lights.isle.level" (did you mean "lights.aisle.level"?) (line 55)',
      'rooms[4].policy: unknown policy "standrad" (did you mean "standard"?) (line 171)',
      'rooms[8].devices[0].modbus.gateway: unknown gateway "gw-5f" (did you mean "gw-1f"?) (line 261)',
      'FILE: 4 problems',
    ]);
  });

  it('reports a gateway name nobody wrote once, at its first reference, naming the other devices that use it', () => {
    const r = validate(edit(DEMO, ['    - { id: gw-4f, tcp: { host: 127.0.0.1, port: 5023 }, timeout_ms: 500 }\n', '']));
    expect(r.err).toEqual([
      'rooms[5].devices[0].modbus.gateway: unknown gateway "gw-4f" (did you mean "gw-1f"?); named 6 more times: rooms[5].devices[1].modbus.gateway, rooms[6].devices[0].modbus.gateway, rooms[6].devices[1].modbus.gateway, … (line 189)',
      'FILE: 1 problem',
    ]);
  });
});

describe('roomctl validate: cross-reference checks', () => {
  const one = (yaml: string) => {
    const r = validate(yaml);
    expect(r.code).toBe(1);
    expect(r.err.at(-1)).toBe('FILE: 1 problem');
    return r.err[0];
  };

  it('refuses two devices on one gateway and unit id', () => {
    expect(one(edit(DEMO, ['modbus: { gateway: gw-3f, unit: 3 } }', 'modbus: { gateway: gw-3f, unit: 1 } }']))).toBe(
      'rooms[3].devices[0].modbus.unit: unit 1 on gateway gw-3f is also 3F-301/hvac (rooms[2].devices[0]): one Modbus unit is one device (line 156)',
    );
  });

  it('refuses a device addressed by host:port on the unit a gateway at that host:port already serves', () => {
    expect(one(edit(DEMO, ['modbus: { gateway: gw-4f, unit: 7 }', 'modbus: { host: 127.0.0.1, port: 5023, unit: 1 }']))).toBe(
      'rooms[8].devices[0].modbus.unit: unit 1 at 127.0.0.1:5023 is also 4F-401/hvac (rooms[5].devices[0]): one Modbus unit is one device (line 261)',
    );
  });

  it('refuses two devices with one MQTT base topic', () => {
    expect(one(edit(DEMO, ['mqtt: { base: demo/3F-302/door }', 'mqtt: { base: demo/3F-301/door }']))).toBe(
      `rooms[3].devices[4].mqtt.base: base topic "demo/3F-301/door" is also the base of 3F-301/door (rooms[2].devices[4]): the two would read each other's state and take each other's commands (line 160)`,
    );
  });

  it('refuses a gateway id given twice', () => {
    const r = validate(edit(DEMO, ['    - { id: gw-4f, tcp: { host: 127.0.0.1, port: 5023 }', '    - { id: gw-2f, tcp: { host: 127.0.0.1, port: 5023 }'], ['gateway: gw-4f', 'gateway: gw-1f'], ['gateway: gw-4f', 'gateway: gw-1f']));
    expect(r.err[0]).toBe('modbus.gateways[3].id: duplicate gateway id "gw-2f" (also modbus.gateways[1]): devices naming it would all use the first (line 17)');
  });

  it('refuses a room id taken twice, also when one of the two entries is invalid', () => {
    const r = validate(
      edit(
        DEMO,
        ['  - id: 4F-402\n    name: Huddle 402\n    floor: 4\n    capacity: 8', '  - id: 4F-401\n    name: Huddle 402\n    floor: 4\n    capacity: -1'],
        ['room: 4F-402, start: "08:30"', 'room: 4F-401, start: "08:30"'],
        ['room: 4F-402, start: "09:00"', 'room: 4F-401, start: "09:00"'],
      ),
    );
    expect(r.err).toEqual(['rooms[6].id: duplicate room id "4F-401" (also rooms[5]) (line 226)', 'rooms[6].capacity: must be > 0, got number -1 (line 229)', 'FILE: 2 problems']);
  });

  it('refuses two devices with one name in a room', () => {
    expect(one(edit(DEMO, ['{ name: window, profile: window-mqtt, mqtt: { base: demo/2F-201/window } }', '{ name: boiler, profile: window-mqtt, mqtt: { base: demo/2F-201/window } }']))).toBe(
      'rooms[1].devices[9].name: duplicate device name "boiler" in room 2F-201 (line 96)',
    );
  });

  it("refuses a scene writing a point that the room's devices do not have after channel expansion", () => {
    expect(one(edit(DEMO, ['          - { set: lights.main.level, value: 25 }', '          - { set: lights.board.level, value: 25 }']))).toBe(
      'rooms[0].scenes.presentation.steps[0].set: room 1F-101 has no point "lights.board.level" (did you mean "lights.main.level"?) (line 59)',
    );
  });

  it('refuses a simulation meeting in a room that does not exist', () => {
    expect(one(edit(DEMO, ['room: 4F-404, start', 'room: 4F-405, start']))).toBe('simulation.meetings[14].room: no room "4F-405" in rooms (did you mean "4F-401"?) (line 307)');
  });

  it('reports a room name that several simulation meetings use and no room has once, naming the other meetings', () => {
    expect(one(edit(DEMO, ['room: 4F-402, start: "08:30"', 'room: 4F-42, start: "08:30"'], ['room: 4F-402, start: "09:00"', 'room: 4F-42, start: "09:00"']))).toBe(
      'simulation.meetings[11].room: no room "4F-42" in rooms (did you mean "4F-402"?); named 1 more time: simulation.meetings[12].room (line 304)',
    );
  });

  it("refuses simulation settings for a room that does not exist and a wireless mic the room's DSP does not have", () => {
    const r = validate(edit(DEMO, ['    4F-404: { solar_factor: 1.8 }', '    4F-044: { solar_factor: 1.8 }\n    3F-303: { wireless_mics: [9] }']));
    expect(r.err).toEqual([
      'simulation.rooms["4F-044"]: no room "4F-044" in rooms (did you mean "4F-404"?) (line 286)',
      'simulation.rooms["3F-303"].wireless_mics: room 3F-303 has no microphone channel 9 (channels: 1, 2, 3, 4) (line 287)',
      'FILE: 2 problems',
    ]);
  });

  it('refuses overlapping simulation meetings in one room and more attendees than the room holds', () => {
    const r = validate(edit(DEMO, ['id: m-201-review, room: 2F-201, start: "10:00"', 'id: m-201-review, room: 2F-201, start: "09:30"'], ['level: normal, attendees: 3 }', 'level: normal, attendees: 30 }']));
    expect(r.err).toEqual([
      'simulation.meetings[3]: m-201-review 09:30–11:00 overlaps m-201-briefing 09:00–10:00 in room 2F-201 (line 293)',
      'simulation.meetings[14].attendees: 30 people in room 4F-404 of capacity 8 (line 307)',
      'FILE: 2 problems',
    ]);
  });

  it('refuses a policy whose meeting scene (P4) the rooms using it do not have, once for the policy', () => {
    expect(one(edit(DEMO, ['  standard: {}', '  standard: { meeting_scene: meting }']))).toBe(
      'policies.standard.meeting_scene: the ready step (P4) applies scene "meting", which 5 rooms using this policy do not have (1F-101, 2F-201, 3F-301, 3F-302, 3F-303) (did you mean "meeting"?) (line 20)',
    );
  });

  it('refuses a fire-alarm zone naming an unknown room, and covers on a device that is not a fire alarm', () => {
    const r = validate(
      edit(
        DEMO,
        ['{ name: air, profile: air-quality-mqtt, mqtt: { base: demo/4F-404/air } }', '{ name: fire, profile: fire-alarm-mqtt, mqtt: { base: demo/4F/fire }, covers: [4F-403, 4F-440] }'],
        ['{ name: door, profile: door-mqtt, mqtt: { base: demo/4F-404/door } }', '{ name: door, profile: door-mqtt, mqtt: { base: demo/4F-404/door }, covers: site }'],
      ),
    );
    expect(r.err).toEqual([
      'rooms[8].devices[3].covers: only a fire_alarm device covers rooms; profile door-mqtt is door (line 264)',
      'rooms[8].devices[7].covers[1]: unknown room "4F-440" (did you mean "4F-401"?) (line 268)',
      'FILE: 2 problems',
    ]);
  });

  it("refuses the API on the embedded broker's port, where start would stop with address in use", () => {
    expect(one(edit(DEMO, ['\nmodbus:', '\napi: { port: 1883 }\nmodbus:']))).toBe('api.port: port 1883 is also mqtt.broker.port: start would stop with "address in use" (line 10)');
  });

  it('does not report a broker login for a device, or a keypad for a room, whose own entry is the mistake', () => {
    const r = validate(`site: { id: t, name: T, timezone: Asia/Shanghai }
mqtt:
  broker:
    users:
      - { username: door, password: x, devices: [R1/door] }
      - { username: pad, password: y, keypads: [R2, R3] }
rooms:
  - id: R1
    name: Room 1
    capacity: 8
    devices:
      - { name: door, profile: door-mqt, mqtt: { base: t/R1/door } }
  - { id: R2, name: Room 2, capacity: many }
`);
    expect(r.err).toEqual([
      'rooms[0].devices[0].profile: unknown profile "door-mqt" (did you mean "door-mqtt"?) (line 12)',
      'rooms[1].capacity: expected a number, got "many" (line 13)',
      'mqtt.broker.users[1].keypads: unknown room "R3"',
      'FILE: 3 problems',
    ]);
  });
});

describe('roomctl validate --json', () => {
  it("prints the three-mistake example as one object with each problem's path, message, line and severity, and exits 1", () => {
    const run = roomctl(['validate', THREE, '--json']);
    expect(run.status).toBe(1);
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({
      file: THREE,
      ok: false,
      problems: [
        { path: 'mqtt.pasword', message: 'unknown key (did you mean "password"?)', line: 6, severity: 'error' },
        { path: 'rooms[0].devices[0].modbus.port', message: 'expected a number, got "502x"', line: 13, severity: 'error' },
        { path: 'rooms[0].devices[1].profile', message: 'unknown profile "lighting-mqt" (did you mean "lighting-mqtt"?)', line: 14, severity: 'error' },
      ],
      summary: null,
    });
  });

  it('prints the summary of the OK line and the warnings of a valid file, and exits 0', () => {
    const file = join(dir, 'warned.yaml');
    writeFileSync(file, edit(DEMO, ['\nmodbus:', '\nmqtt: { broker: { allow_anonymous: true } }\nmodbus:']));
    const run = roomctl(['validate', file, '--json']);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      file,
      ok: true,
      problems: [{ path: 'mqtt.broker.allow_anonymous', message: 'clients without a username get in (loopback only; for a lab, not a building)', line: 10, severity: 'warning' }],
      summary: { site: 'demo', rooms: 9, devices: 83, points: 443, scenes: 36, mqtt: 'embedded' },
    });
  });
});
