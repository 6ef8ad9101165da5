import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../src/config/load.ts';

/**
 * Devices resolved from their profiles: what a point of a device is after its channels,
 * base, name and room are filled in. Devices of one profile share what does not depend
 * on the device (model/devices.ts keeps one "shape" per profile, device name and
 * channels); these guard that nothing of one device leaks into another.
 */
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'roomctl-resolve-'));
  mkdirSync(join(dir, 'profiles'));
  // A display whose topics, JSON path and command payload name its device and room too.
  writeFileSync(
    join(dir, 'profiles', 'display-named.yaml'),
    `id: display-named
name: Display that names itself
kind: display
protocol: mqtt
channels:
  input: { default: 2 }
points:
  power:
    type: boolean
    writable: true
    stale_after_s: 300
    mqtt:
      state: { topic: "{base}/state", path: "{device}.power" }
      command: { topic: "site/{room}/{device}/set", payload: { room: "{room}", power: "{value}", id: "{cmd_id}" } }
  "input.{input}.active":
    type: boolean
    writable: true
    stale_after_s: 300
    mqtt:
      state: { topic: "{base}/in/{input}", path: active }
      command: { topic: "{base}/in/{input}/set", payload: { input: "{input}", on: "{value}" } }
`,
  );
  const rooms = ['R1', 'R2']
    .map(
      (id) => `  - id: ${id}
    name: Room ${id}
    capacity: 8
    devices:
      - { name: audio, profile: dsp-mqtt, mqtt: { base: b/${id}/dsp }, channels: { mic: 2 } }
      - { name: screen, profile: display-named, mqtt: { base: b/${id}/screen }${id === 'R2' ? ', channels: { input: 3 }' : ''} }
      - { name: wall, profile: display-named, mqtt: { base: b/${id}/wall }, channels: { input: 1 } }`,
    )
    .join('\n');
  writeFileSync(join(dir, 'site.yaml'), `site: { id: t, name: T, timezone: UTC }\nprofiles_dir: profiles\nrooms:\n${rooms}\n`);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const loadSite = () => {
  const load = loadConfigFile(join(dir, 'site.yaml'), { env: {} });
  expect(load.errors).toEqual([]);
  return load.site!;
};

describe('devices resolved from their profiles', () => {
  it('fills each device’s own base, name, room and channels into its topics, paths and command payloads, and no other device’s', () => {
    const site = loadSite();
    const point = (room: string, id: string) => site.rooms.find((r) => r.id === room)!.devices.flatMap((d) => d.points).find((p) => p.id === id)!;
    expect(point('R2', 'screen.power').mqtt).toEqual({
      stateTopic: 'b/R2/screen/state',
      path: ['screen', 'power'],
      stateFormat: 'json',
      commandTopic: 'site/R2/screen/set',
      commandPayload: { room: 'R2', power: '{value}', id: '{cmd_id}' },
      commandFormat: 'json',
      map: undefined,
    });
    expect(point('R1', 'wall.power').mqtt).toMatchObject({ stateTopic: 'b/R1/wall/state', path: ['wall', 'power'], commandTopic: 'site/R1/wall/set', commandPayload: { room: 'R1' } });
    expect(point('R1', 'screen.input.2.active').mqtt).toMatchObject({ stateTopic: 'b/R1/screen/in/2', path: ['active'], commandTopic: 'b/R1/screen/in/2/set', commandPayload: { input: '2', on: '{value}' } });
    expect(point('R2', 'audio.mic.2.mute').mqtt).toMatchObject({ stateTopic: 'b/R2/dsp/mic/2', path: ['mute'], commandTopic: 'b/R2/dsp/mic/2/set', commandPayload: { mute: '{value}' } });
  });

  it('gives each device the points of its own channels: two inputs by default, one or three where the device says so, also under the same device name', () => {
    const site = loadSite();
    const ids = (room: string, device: string) => site.rooms.find((r) => r.id === room)!.devices.find((d) => d.name === device)!.points.map((p) => p.id);
    expect(ids('R1', 'screen')).toEqual(['screen.power', 'screen.input.1.active', 'screen.input.2.active']);
    expect(ids('R2', 'screen')).toEqual(['screen.power', 'screen.input.1.active', 'screen.input.2.active', 'screen.input.3.active']);
    expect(ids('R2', 'wall')).toEqual(['wall.power', 'wall.input.1.active']);
    expect(ids('R1', 'audio')).toEqual(['audio.mic.1.level', 'audio.mic.2.level', 'audio.mic.1.battery', 'audio.mic.2.battery', 'audio.mic.1.mute', 'audio.mic.2.mute', 'audio.mic.1.test', 'audio.mic.2.test', 'audio.master.mute']);
  });

  it('resolves every point of a room as a fresh load does, however many loads came before (nothing kept between loads leaks in)', () => {
    const first = loadSite();
    const again = loadSite();
    const mqttOf = (s: typeof first) => s.rooms.map((r) => r.devices.map((d) => d.points.map((p) => [p.room, p.device, p.id, p.mqtt])));
    expect(mqttOf(again)).toEqual(mqttOf(first));
    expect(first.rooms[1]!.devices[1]!.points.every((p) => p.room === 'R2' && p.mqtt!.stateTopic!.startsWith('b/R2/screen/'))).toBe(true);
  });
});
