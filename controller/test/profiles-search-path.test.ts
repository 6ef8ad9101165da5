import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../src/config/load.ts';
import { loadProfiles } from '../src/config/profiles.ts';

/**
 * The profile search path (issue 12 item 3): the built-in profiles, then the site's
 * own `profiles_dir` relative to its config file. Real files in a temporary folder,
 * read by the real loader and by `roomctl validate` spawned as engineers run it —
 * from a working directory that is *not* the config's folder, so a path resolved
 * against the wrong folder fails.
 */
const root = join(import.meta.dirname, '../..');
const roomctl = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin/roomctl.js'), ...args], { cwd: tmpdir(), encoding: 'utf8' });

let dir: string;
const write = (path: string, text: string) => {
  mkdirSync(join(dir, path, '..'), { recursive: true });
  writeFileSync(join(dir, path), text);
  return join(dir, path);
};
const site = (id: string, device: string, extra = 'profiles_dir: profiles') => `
site: { id: ${id}, name: Site ${id}, timezone: Asia/Shanghai }
${extra}
rooms:
  - id: R1
    name: Room 1
    capacity: 8
    devices:
      - ${device}
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'roomctl-profiles-path-'));
  // A vendor variant of the built-in FCU: setpoint at another register, one point more, no mode register.
  write('sites/profiles/fcu-acme.yaml', `
id: fcu-acme
name: ACME fan-coil unit
extends: fcu-modbus
points:
  setpoint: { modbus: { address: 7 } }
  mode: null
  filter_hours: { type: number, stale_after_s: 60, modbus: { table: input, address: 9 } }
`);
  write('sites/profiles/broken-x.yaml', `
id: broken-x
name: Broken
kind: hvac
protocol: modbus
points:
  setpoint: { type: numbr, writable: true, stale_after_s: 30, modbus: { table: holding, address: 0 } }
`);
  write('sites/profiles/fcu-modbus.yaml', 'id: fcu-modbus\nname: My own FCU\nextends: fcu-modbus\n');
  write('sites/profiles/no-parent.yaml', 'id: no-parent\nname: Orphan\nextends: fcu-modbuss\n');
  write('sites/profiles/mqtt-fcu.yaml', 'id: mqtt-fcu\nname: Switched protocol\nextends: fcu-modbus\nprotocol: mqtt\n');
  write('sites/profiles/yaml-error.yaml', 'id: [unclosed\n');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a site profiles_dir, relative to the config file', () => {
  it('gives the site a profile that extends a built-in: its overrides and additions merged over the built-in, a null removing a point', () => {
    const file = write('sites/acme.yaml', site('acme', '{ name: hvac, profile: fcu-acme, modbus: { host: 127.0.0.1, unit: 1 } }'));
    const load = loadConfigFile(file);
    expect(load.errors).toEqual([]);
    const device = load.site!.rooms[0]!.devices[0]!;
    const builtin = loadProfiles().profiles.get('fcu-modbus')!;
    const point = (key: string) => device.points.find((p) => p.id === `hvac.${key}`);
    expect(point('setpoint')!.modbus!.address).toBe(7);
    // The rest of the overridden point, and every point not named, come from the built-in.
    expect(point('setpoint')!.def.safe).toEqual(builtin.points.setpoint!.safe);
    expect(point('setpoint')!.modbus!.type).toBe(builtin.points.setpoint!.modbus!.type);
    expect(point('temperature')!.def).toEqual(builtin.points.temperature);
    expect(point('filter_hours')!.modbus).toMatchObject({ table: 'input', address: 9 });
    expect(point('mode')).toBeUndefined();
    expect(device.profile).toMatchObject({ id: 'fcu-acme', kind: 'hvac', protocol: 'modbus' });
    expect(device.profile).not.toHaveProperty('extends');
  });

  it('makes validate fail a site that names a broken profile, with file: path: message, and only warn a site that does not', () => {
    const uses = write('sites/uses-broken.yaml', site('uses', '{ name: hvac, profile: broken-x, modbus: { host: 127.0.0.1, unit: 1 } }'));
    const other = write('sites/other.yaml', site('other', '{ name: door, profile: door-mqtt, mqtt: { base: o/door } }'));
    const bad = roomctl('validate', uses);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(new RegExp(`^\\S*broken-x\\.yaml: points\\.setpoint\\.type: expected one of "number", "boolean", "enum", "string", got "numbr"$`, 'm'));
    expect(bad.stderr).toContain('rooms[0].devices[0].profile: profile "broken-x" cannot be used: its file has problems (listed first)');
    // The folder's other broken files are not this site's errors.
    const orphanLines = bad.stderr.split('\n').filter((l) => l.includes('no-parent.yaml'));
    expect(orphanLines.length).toBeGreaterThan(0);
    expect(orphanLines.filter((l) => !l.startsWith('warning: '))).toEqual([]);

    const good = roomctl('validate', other);
    expect(good.status, good.stderr).toBe(0);
    expect(good.stdout).toContain('OK — site other, 1 room, 1 device');
    expect(good.stderr).toMatch(/^warning: \S*broken-x\.yaml: points\.setpoint\.type: .* \(no device of this site uses it\)$/m);
    expect(good.stderr).toMatch(/^warning: \S*yaml-error\.yaml: YAML: /m);
  });

  it('refuses a site file that takes a built-in id instead of extending it, naming both files', () => {
    const file = write('sites/shadow.yaml', site('shadow', '{ name: hvac, profile: fcu-modbus, modbus: { host: 127.0.0.1, unit: 1 } }'));
    const load = loadConfigFile(file);
    expect(load.skipped).toEqual(['device R1/hvac']);
    expect(load.errors.find((e) => e.includes('profiles/fcu-modbus.yaml: id:'))).toMatch(/sites\/profiles\/fcu-modbus\.yaml: id: profile id "fcu-modbus" is already used by \S*devices\/profiles\/fcu-modbus\.yaml; give this one its own id and `extends: fcu-modbus`$/);
  });

  it('reports an extends of no built-in with the ids there are, and marks a problem the built-in brings in as inherited', () => {
    const orphan = loadConfigFile(write('sites/orphan.yaml', site('orphan', '{ name: hvac, profile: no-parent, modbus: { host: 127.0.0.1, unit: 1 } }')));
    expect(orphan.errors.find((e) => e.includes('no-parent.yaml'))).toMatch(/no-parent\.yaml: extends: no built-in profile "fcu-modbuss" \(built-in: .*fcu-modbus.*\)$/);
    const switched = loadConfigFile(write('sites/switched.yaml', site('switched', '{ name: hvac, profile: mqtt-fcu, mqtt: { base: s/hvac } }')));
    expect(switched.errors).toContainEqual(expect.stringMatching(/mqtt-fcu\.yaml: points\.setpoint: a mqtt profile needs a mqtt mapping on every point \(inherited from fcu-modbus\)$/));
  });

  it('says where and why when profiles_dir cannot be read, and the built-in profiles still serve the site', () => {
    const file = write('sites/missing.yaml', site('missing', '{ name: door, profile: door-mqtt, mqtt: { base: m/door } }', 'profiles_dir: no-such-folder'));
    const load = loadConfigFile(file);
    expect(load.errors).toEqual([`profiles_dir: cannot read the profiles folder (ENOENT) (${join(dir, 'sites/no-such-folder')}) (line 3)`]);
    expect(load.site!.rooms[0]!.devices.map((d) => d.profile.id)).toEqual(['door-mqtt']);
    const run = roomctl('validate', file);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('profiles_dir: cannot read the profiles folder (ENOENT)');
  });
});
