import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfigFile, loadConfigText } from '../src/config/load.ts';
import { DEFAULT_POLICY } from '../src/config/policy-schema.ts';

const root = resolve(import.meta.dirname, '../..');
const roomctl = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin/roomctl.js'), ...args], { cwd: root, encoding: 'utf8' });

const minimal = (rooms: string, extra = '') => `
site: { id: t, name: Test, timezone: Asia/Shanghai }
${extra}
rooms:
${rooms}`;

const room301 = `
  - id: 3F-301
    name: Room 301
    capacity: 20
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { host: 127.0.0.1, port: 5020, unit: 1 } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: t/lights }, channels: { zone: [main, board] } }
    scenes:
      meeting:
        steps:
          - { set: lights.main.level, value: 80 }
          - { wait_ms: 200 }
          - { set: hvac.setpoint, value: 23 }`;

describe('site configuration', () => {
  it('accepts the shipped demo configuration and resolves its rooms, devices and points', () => {
    const result = loadConfigFile(join(root, 'config/demo.yaml'));
    expect(result.errors).toEqual([]);
    expect(result.site!.rooms.length).toBeGreaterThan(0);
    const points = result.site!.rooms[0]!.devices.flatMap((d) => d.points.map((p) => p.id));
    expect(points).toContain('hvac.setpoint');
  });

  it('expands channels into room points named device.channel.point', () => {
    const { site, errors } = loadConfigText(minimal(room301));
    expect(errors).toEqual([]);
    const ids = site!.rooms[0]!.devices.flatMap((d) => d.points.map((p) => p.id));
    expect(ids).toEqual(expect.arrayContaining(['hvac.temperature', 'hvac.setpoint', 'lights.main.on', 'lights.main.level', 'lights.board.level']));
    const board = site!.rooms[0]!.devices[1]!.points.find((p) => p.id === 'lights.board.level')!;
    expect(board.mqtt).toMatchObject({ stateTopic: 't/lights/board/state', path: ['level'], commandTopic: 't/lights/board/set', commandPayload: { level: '{value}' } });
  });

  it('reports three mistakes as three located path: message errors', () => {
    const text = minimal(`
  - id: 3F-301
    name: Room 301
    capacity: 20
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { host: 127.0.0.1, port: "five", unit: 1 } }
  - id: 3F-302
    name: Room 302
    capacity: many
  - id: 3F-303
    name: Room 303
    capacity: 8
    devices:
      - { name: lights, profile: lighting-mqt, mqtt: { base: t/l } }`);
    const { errors } = loadConfigText(text);
    expect(errors).toEqual([
      'rooms[0].devices[0].modbus.port: expected a number, got "five" (line 10)',
      'rooms[1].capacity: expected a number, got "many" (line 13)',
      'rooms[2].devices[0].profile: unknown profile "lighting-mqt" (did you mean "lighting-mqtt"?) (line 18)',
    ]);
  });

  it('treats unknown keys as errors and suggests the key that was probably meant', () => {
    const { errors } = loadConfigText(minimal(room301, 'mqtt: { usrname: a }').replace('capacity: 20', 'capacity: 20\n    polcy: standard'));
    expect(errors).toContain('mqtt.usrname: unknown key (did you mean "username"?) (line 3)');
    expect(errors.some((e) => e.startsWith('rooms[0].polcy: unknown key (did you mean "policy"?)'))).toBe(true);
  });

  it('substitutes ${VAR} from the environment and names a missing variable', () => {
    const text = minimal(room301, 'mqtt: { url: "mqtt://broker:1883", username: roomctl, password: "${MQTT_PASSWORD}" }');
    const ok = loadConfigText(text, { env: { MQTT_PASSWORD: 's3cret' } });
    expect(ok.errors).toEqual([]);
    expect(ok.site!.config.mqtt.password).toBe('s3cret');
    const missing = loadConfigText(text, { env: {} });
    expect(missing.errors).toEqual(['mqtt.password: environment variable MQTT_PASSWORD is not set (line 3)']);
  });

  it('names each missing variable at its own path, however deep, and keeps $${ as a literal ${', () => {
    const text = minimal(`
  - id: R1
    name: "Room $\${literal} \${ROOM_NAME}"
    capacity: 8
    devices:
      - { name: lights, profile: lighting-mqtt, mqtt: { base: "site/\${FLOOR}/lights" } }`);
    const load = loadConfigText(text, { env: {} });
    expect(load.errors).toEqual([
      'rooms[0].name: environment variable ROOM_NAME is not set (line 7)',
      'rooms[0].devices[0].mqtt.base: environment variable FLOOR is not set (line 10)',
    ]);
    const ok = loadConfigText(text, { env: { ROOM_NAME: 'East', FLOOR: '3F' } });
    expect(ok.errors).toEqual([]);
    expect(ok.site!.rooms[0]!.name).toBe('Room ${literal} East');
    expect(ok.site!.rooms[0]!.devices[0]!.mqtt!.base).toBe('site/3F/lights');
  });

  it('gives a YAML syntax error with its line and column', () => {
    const { errors, site } = loadConfigText('site: { id: t\nrooms: [');
    expect(site).toBeUndefined();
    expect(errors[0]).toMatch(/^YAML line \d+, column \d+: /);
  });

  it('keeps the service usable when one room is bad: the good rooms load and the bad one is listed as skipped', () => {
    const { site, errors, skipped } = loadConfigText(minimal(`${room301}
  - { id: 3F-302, name: Room 302, capacity: 0 }`));
    expect(errors).toEqual(['rooms[1].capacity: must be > 0, got number 0 (line 18)']);
    expect(site!.rooms.map((r) => r.id)).toEqual(['3F-301']);
    expect(skipped).toEqual(['rooms[1]: invalid']);
  });

  it('rejects scene writes to unknown or read-only points, out-of-range values, and door locks without allow_locks', () => {
    const text = minimal(`
  - id: R1
    name: R1
    capacity: 8
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { host: 127.0.0.1, unit: 1 } }
      - { name: door, profile: door-mqtt, mqtt: { base: t/door } }
    scenes:
      bad:
        steps:
          - { set: hvac.temperature, value: 22 }
          - { set: hvac.setpoint, value: 40 }
          - { set: door.locked, value: true }
          - { set: hvac.humidity, value: 1 }`);
    const { errors } = loadConfigText(text);
    expect(errors).toEqual([
      'rooms[0].scenes.bad.steps[0].set: point hvac.temperature is read-only (line 15)',
      "rooms[0].scenes.bad.steps[1].value: 40 is outside hvac.setpoint's safe range 16–30 (line 16)",
      'rooms[0].scenes.bad.steps[2].set: scene "bad" writes a door lock; set allow_locks: true if that is intended (line 17)',
      expect.stringMatching(/^rooms\[0\]\.scenes\.bad\.steps\[3\]\.set: room R1 has no point "hvac\.humidity"/),
    ]);
  });
});

describe('policies (P2, P3, P4, P5, P7 defaults)', () => {
  it('default to the procedure timings and let a policy extend another', () => {
    expect(DEFAULT_POLICY.lead_minutes).toEqual({ av: 30, ready: 15, final_sound: 5, vip3: 120 });
    expect(DEFAULT_POLICY.comfort_c).toEqual({ summer: [22, 24], winter: [18, 22], transition: [20, 24] });
    const { site, errors } = loadConfigText(
      minimal(room301.replace('capacity: 20', 'capacity: 20\n    policy: vip'), 'policies:\n  standard: { vacancy_minutes: 5 }\n  vip: { extends: standard, lead_minutes: { av: 45 } }'),
    );
    expect(errors).toEqual([]);
    const policy = site!.rooms[0]!.policy;
    expect(policy).toMatchObject({ name: 'vip', vacancy_minutes: 5, lead_minutes: { av: 45, ready: 15, final_sound: 5 } });
  });

  it('reports an extends loop and an unknown parent', () => {
    const { errors } = loadConfigText(minimal(room301, 'policies:\n  a: { extends: b }\n  b: { extends: a }\n  c: { extends: nope }'));
    expect(errors.some((e) => /^policies\.[ab]\.extends: extends chain loops back/.test(e))).toBe(true);
    expect(errors).toContain('policies.c.extends: unknown policy "nope" (line 6)');
  });
});

describe('roomctl validate', () => {
  it('prints a one-line summary and exits 0 for a valid file', () => {
    const out = execFileSync(process.execPath, [join(root, 'bin/roomctl.js'), 'validate', 'config/demo.yaml'], { cwd: root, encoding: 'utf8' });
    expect(out).toMatch(/^config\/demo\.yaml: OK — site demo, \d+ rooms?, \d+ devices, \d+ points/);
  });

  it('prints every error as path: message and exits 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'roomctl-validate-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, minimal(room301.replace('port: 5020', 'port: "5020x"').replace('capacity: 20', 'capacity: -3'), 'mqtt: { pasword: x }'));
    const run = roomctl('validate', file);
    expect(run.status).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toEqual([
      'mqtt.pasword: unknown key (did you mean "password"?) (line 3)',
      'rooms[0].capacity: must be > 0, got number -3 (line 8)',
      'rooms[0].devices[0].modbus.port: expected a number, got "5020x" (line 10)',
      `${file}: 3 problems`,
    ]);
  });
});

describe('YAML anchors', () => {
  it('may live under top-level x- keys, which are ignored, so scenes and devices can be shared between rooms', () => {
    const { errors, site } = loadConfigText(`
x-lights: &lights { name: lights, profile: lighting-mqtt, mqtt: { base: t/lights } }
site: { id: t, name: Test, timezone: Asia/Shanghai }
rooms:
  - { id: R1, name: R1, capacity: 8, devices: [ *lights ] }
  - { id: R2, name: R2, capacity: 8, devices: [ *lights ] }
`);
    expect(errors).toEqual([]);
    expect(site!.rooms.map((r) => r.devices[0]!.points.length)).toEqual([2, 2]);
  });
});

describe('typos anywhere in the file', () => {
  it('are reported with the key that was probably meant, however deep they sit', () => {
    const { errors } = loadConfigText(`
site: { id: t, name: T, timezone: Asia/Shanghai, routines: { openning: "08:00" } }
mqtt: { broker: { prot: 1883 } }
modbus: { gateways: [ { id: g, tcp: { host: h, prot: 1 } } ] }
policies: { p: { lead_minutes: { avv: 3 } } }
rooms:
  - id: R1
    name: R
    capacity: 8
    devices:
      - { name: door, profile: door-mqtt, mqtt: { base: t/d } }
    scenes:
      s: { steps: [ { sett: door.locked, value: true } ], allow_lock: true }
`);
    expect(errors).toEqual([
      'site.routines.openning: unknown key (did you mean "opening"?) (line 2)',
      'mqtt.broker.prot: unknown key (did you mean "port"?) (line 3)',
      'modbus.gateways[0].tcp.prot: unknown key (did you mean "port"?) (line 4)',
      'policies.p.lead_minutes.avv: unknown key (did you mean "av"?) (line 5)',
      'rooms[0].scenes.s.steps[0].sett: unknown key (did you mean "set"?) (line 13)',
      'rooms[0].scenes.s.allow_lock: unknown key (did you mean "allow_locks"?) (line 13)',
    ]);
  });
});
