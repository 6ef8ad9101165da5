import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../src/config/load.ts';
import { checkKindContract } from '../src/config/kind-contracts.ts';
import { loadProfiles } from '../src/config/profiles.ts';

/**
 * Kind contracts (issue 12 item 2): what the engine needs and can use of each device
 * kind, checked by the real loader and by `roomctl validate` (spawned) against profiles
 * written to a site's profiles_dir. A profile lacking a needed point is an error and
 * its devices are skipped; one lacking an optional point works, and validate says what
 * the engine will not do without it.
 */
const root = join(import.meta.dirname, '../..');
const roomctl = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin/roomctl.js'), ...args], { cwd: root, encoding: 'utf8' });

let dir: string;
const profile = (name: string, text: string) => writeFileSync(join(dir, 'profiles', `${name}.yaml`), text);
const config = (name: string, devices: string[]) => {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `
site: { id: ${name}, name: Kinds, timezone: Asia/Shanghai }
profiles_dir: profiles
rooms:
  - id: R1
    name: Room 1
    capacity: 8
    devices:
${devices.map((d) => `      - ${d}`).join('\n')}
`);
  return file;
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'roomctl-kinds-'));
  mkdirSync(join(dir, 'profiles'));
  profile('fcu-nomode', 'id: fcu-nomode\nname: FCU, mode fixed at the plant\nextends: fcu-modbus\npoints: { mode: null }\n');
  profile('fcu-nosetpoint', 'id: fcu-nosetpoint\nname: FCU without a setpoint register\nextends: fcu-modbus\npoints: { setpoint: null }\n');
  profile('fcu-noauto', 'id: fcu-noauto\nname: FCU without auto\nextends: fcu-modbus\npoints: { mode: { values: [cool, heat, fan], modbus: { enum: { "0": fan, "1": cool, "2": heat } } } }\n');
  profile('display-ro', 'id: display-ro\nname: Display that only reports power\nextends: display-mqtt\npoints: { power: { writable: false, mqtt: { command: null } } }\n');
  profile('door-bool', 'id: door-bool\nname: Door with a boolean contact\nextends: door-mqtt\npoints: { contact: { type: boolean, values: null } }\n');
  profile('occupancy-none', `
id: occupancy-none
name: Occupancy sensor reporting only its battery
kind: occupancy
protocol: mqtt
points:
  battery: { type: number, stale_after_s: 600, mqtt: { state: { topic: "{base}/state", path: battery } } }
  fault: { type: enum, values: [ok, failed], stale_after_s: 600, mqtt: { state: { topic: "{base}/state", path: fault } } }
`);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('kind contracts in validate', () => {
  it('fails a site whose hvac profile lacks setpoint, naming the profile, the kind and the point; start would skip the device', () => {
    const file = config('nosetpoint', ['{ name: hvac, profile: fcu-nosetpoint, modbus: { host: 127.0.0.1, unit: 1 } }', '{ name: door, profile: door-mqtt, mqtt: { base: k/door } }']);
    const run = roomctl('validate', file);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^rooms\[0\]\.devices\[0\]\.profile: profile fcu-nosetpoint: kind hvac needs point setpoint \(number, writable\): set to the comfort band for pre-conditioning \(P5\).* \(line 9\)$/m);
    const load = loadConfigFile(file);
    expect(load.skipped).toEqual(['device R1/hvac']);
    expect(load.site!.rooms[0]!.devices.map((d) => d.name)).toEqual(['door']);
  });

  it('passes an hvac profile without mode and warns that the engine will not switch heat and cool', () => {
    const file = config('nomode', ['{ name: hvac, profile: fcu-nomode, modbus: { host: 127.0.0.1, unit: 1 } }']);
    const run = roomctl('validate', file);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('OK — site nomode, 1 room, 1 device');
    expect(run.stderr.trim().split('\n')).toEqual(['warning: profile fcu-nomode: no point mode: no heat/cool switching: the unit keeps the mode set at the plant']);
  });

  it('refuses points the engine would write or compare with values they cannot hold: a mode without auto, a read-only display power, a boolean door contact', () => {
    const file = config('mismatch', [
      '{ name: hvac, profile: fcu-noauto, modbus: { host: 127.0.0.1, unit: 1 } }',
      '{ name: display, profile: display-ro, mqtt: { base: k/display } }',
      '{ name: door, profile: door-bool, mqtt: { base: k/door } }',
    ]);
    const load = loadConfigFile(file);
    expect(load.errors).toEqual([
      'rooms[0].devices[0].profile: profile fcu-noauto: kind hvac point mode lacks the value auto that the engine writes (no heat/cool switching: the unit keeps the mode set at the plant) (line 9)',
      'rooms[0].devices[1].profile: profile display-ro: kind display point power is read-only, the engine writes it (switched on from the AV step (P2), checked by display_on, off at closing) (line 10)',
      "rooms[0].devices[2].profile: profile door-bool: kind door point contact is boolean, the engine uses it as enum (no door_closed check at closing; a lock is sent without knowing the door is shut) (line 11)",
    ]);
    expect(load.skipped).toEqual(['device R1/hvac', 'device R1/display', 'device R1/door']);
  });

  it('needs one of present or count of an occupancy sensor, and says a fault point that is not a read-only boolean is not watched', () => {
    const run = roomctl('validate', config('occupancy', ['{ name: occupancy, profile: occupancy-none, mqtt: { base: k/occ } }']));
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('rooms[0].devices[0].profile: profile occupancy-none: kind occupancy needs one of the points present (boolean), count (number): presence guards door locking and detects no-shows (P15)');
    expect(run.stderr).toContain('warning: profile occupancy-none: point fault is not watched as a fault flag: it must be a read-only boolean');
  });

  it('is met by every shipped profile', () => {
    const { profiles, errors } = loadProfiles();
    expect(errors).toEqual([]);
    expect([...profiles.values()].map((p) => ({ id: p.id, ...checkKindContract(p) })).filter((f) => f.errors.length + f.warnings.length > 0)).toEqual([]);
  });
});
