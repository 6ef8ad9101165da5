import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { profileSchema } from '../src/config/profile-schema.ts';
import { loadProfiles, SHIPPED_PROFILES_DIR } from '../src/config/profiles.ts';

const files = readdirSync(SHIPPED_PROFILES_DIR).filter((f) => f.endsWith('.yaml'));

describe('shipped device profiles', () => {
  it.each(files)('%s validates against the profile schema', (file) => {
    const parsed = profileSchema.safeParse(parse(readFileSync(join(SHIPPED_PROFILES_DIR, file), 'utf8')));
    expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
    expect(`${parsed.data!.id}.yaml`).toBe(file);
  });

  it('cover every device kind the issue names, with the protocols it names', () => {
    const { profiles, errors } = loadProfiles();
    expect(errors).toEqual([]);
    const kinds = [...profiles.values()].map((p) => `${p.kind}/${p.protocol}`).sort();
    expect(kinds).toEqual(
      expect.arrayContaining(['hvac/modbus', 'fresh_air/modbus', 'lighting/mqtt', 'audio/mqtt', 'door/mqtt', 'occupancy/mqtt', 'display/mqtt', 'boiler/mqtt', 'window/mqtt', 'air_quality/mqtt']),
    );
  });

  it('give every writable number point safe limits, so no command can leave them (P5 setpoints 16–30 °C)', () => {
    const { profiles } = loadProfiles();
    for (const profile of profiles.values())
      for (const [key, point] of Object.entries(profile.points))
        if (point.writable && point.type === 'number') expect({ key, limits: (point.safe ?? point.min) !== undefined && (point.safe ?? point.max) !== undefined }).toEqual({ key, limits: true });
    expect(profiles.get('fcu-modbus')!.points.setpoint!.safe).toEqual({ min: 16, max: 30 });
  });

  it('name the DSP per-mic points the readiness checks need (level dBFS, battery, mute, test) and the master mute', () => {
    const dsp = loadProfiles().profiles.get('dsp-mqtt')!;
    expect(Object.keys(dsp.points)).toEqual(expect.arrayContaining(['mic.{mic}.level', 'mic.{mic}.battery', 'mic.{mic}.mute', 'mic.{mic}.test', 'master.mute']));
    expect(dsp.points['mic.{mic}.level']!.unit).toBe('dBFS');
  });
});

describe('a bad profile file', () => {
  it('is reported with its file and path, and skipped while the good ones still load', () => {
    const dir = mkdtempSync(join(tmpdir(), 'roomctl-profiles-'));
    writeFileSync(join(dir, 'good.yaml'), readFileSync(join(SHIPPED_PROFILES_DIR, 'door-mqtt.yaml')));
    writeFileSync(
      join(dir, 'bad.yaml'),
      'id: bad\nname: Bad\nkind: hvac\nprotocol: modbus\npoints:\n  setpoint:\n    type: number\n    writable: true\n    stale_after_s: 30\n    modbus: { table: input, address: x }\n',
    );
    writeFileSync(join(dir, 'broken.yaml'), 'id: [unclosed\n');
    const { profiles, errors } = loadProfiles(dir);
    expect([...profiles.keys()]).toEqual(['door-mqtt']);
    expect(errors.some((e) => e.endsWith('bad.yaml: points.setpoint.modbus.address: expected a number, got "x"'))).toBe(true);
    expect(errors.some((e) => /broken\.yaml: YAML/.test(e))).toBe(true);
  });

  it('is refused when a writable point sits on a read-only Modbus table', () => {
    const result = profileSchema.safeParse({
      id: 'x', name: 'x', kind: 'hvac', protocol: 'modbus',
      points: { setpoint: { type: 'number', writable: true, stale_after_s: 30, modbus: { table: 'input', address: 1 } } },
    });
    expect(result.success).toBe(false);
    expect(result.error!.issues[0]!.message).toMatch(/input registers are read-only/);
  });
});
