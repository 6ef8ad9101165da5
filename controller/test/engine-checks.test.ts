import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../src/model/clock.ts';
import { EventBus } from '../src/model/bus.ts';
import { RoomStateStore } from '../src/model/room-state.ts';
import { seasonAt, type Season } from '../src/model/season.ts';
import type { PointValue } from '../src/model/points.ts';
import { applicableChecks, runCheck, runChecks, type CheckInput, type CheckName } from '../src/engine/readiness/checks.ts';
import { siteFromYaml } from './helpers/site.ts';

const site = siteFromYaml(`
site: { id: t, name: Test, timezone: Asia/Shanghai }
rooms:
  - id: R1
    name: Full room
    capacity: 20
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { host: 127.0.0.1, unit: 1 } }
      - { name: fresh_air, profile: fau-modbus, modbus: { host: 127.0.0.1, unit: 2 } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: t/R1/lights }, channels: { zone: [main, board] } }
      - { name: audio, profile: dsp-mqtt, mqtt: { base: t/R1/dsp }, channels: { mic: 4 } }
      - { name: door, profile: door-mqtt, mqtt: { base: t/R1/door } }
      - { name: display, profile: display-mqtt, mqtt: { base: t/R1/display } }
      - { name: air, profile: air-quality-mqtt, mqtt: { base: t/R1/air } }
      - { name: window, profile: window-mqtt, mqtt: { base: t/R1/window }, required: false }
    scenes:
      meeting:
        steps:
          - { set: lights.main.on, value: true }
          - { set: lights.main.level, value: 80 }
          - { set: lights.board.on, value: true }
          - { set: lights.board.level, value: 100 }
  - id: R2
    name: Small room
    capacity: 4
    devices:
      - { name: lights, profile: lighting-mqtt, mqtt: { base: t/R2/lights } }
      - { name: audio, profile: dsp-mqtt, mqtt: { base: t/R2/dsp }, channels: { mic: 2 } }
      - { name: fresh_air, profile: fau-modbus, modbus: { host: 127.0.0.1, unit: 3 } }
`);
const [r1, r2] = site.rooms as [(typeof site.rooms)[0], (typeof site.rooms)[0]];
const NOV = Date.parse('2026-11-23T09:00:00+08:00');

describe('readiness checks', () => {
  let store: RoomStateStore;
  const feed = (room: typeof r1, values: Record<string, PointValue>) => {
    for (const [id, v] of Object.entries(values)) {
      const p = room.devices.flatMap((d) => d.points).find((x) => x.id === id);
      if (!p) throw new Error(`test: no point ${id} in ${room.id}`);
      store.reading(p, v);
    }
  };
  const input = (room = r1, extra: Partial<CheckInput> = {}): CheckInput => ({ room, state: store, season: 'transition', meeting: { id: 'M1', level: 'normal' }, ...extra });
  const check = (name: CheckName, extra: Partial<CheckInput> = {}, room = r1) => runCheck(name, input(room, extra));
  /** Everything of R1 as a ready room reports it. */
  const readyRoom = () => {
    for (const d of r1.devices) store.deviceStatus('R1', d.name, true);
    feed(r1, {
      'hvac.temperature': 22.4,
      'fresh_air.power': true,
      'fresh_air.co2': 0,
      'air.co2': 650,
      'lights.main.on': true,
      'lights.main.level': 79,
      'lights.board.on': true,
      'lights.board.level': 100,
      'audio.master.mute': false,
      'door.locked': false,
      'display.power': true,
      'window.contact': 'closed',
    });
    for (const n of [1, 2, 3, 4]) feed(r1, { [`audio.mic.${n}.level`]: -24, [`audio.mic.${n}.battery`]: 80 });
  };

  beforeEach(() => {
    vi.useFakeTimers({ now: NOV });
    store = new RoomStateStore(site, new EventBus(), systemClock);
    store.start();
  });
  afterEach(() => {
    store.stop();
    vi.useRealTimers();
  });

  it('passes every applicable check of a room that is ready (P4)', () => {
    readyRoom();
    const outcomes = runChecks('ready', input(), { ts: NOV, step: 'ready' });
    expect(outcomes.filter((o) => o.status !== 'pass')).toEqual([]);
    expect(outcomes.map((o) => o.check).sort()).toEqual(['audio_unmuted', 'co2_below_max', 'devices_online', 'display_on', 'door_unlocked', 'fresh_air_on', 'lights_scene', 'mic_test', 'temperature_in_band']);
  });

  it('P5: the temperature check uses the comfort band of the season, taken from the site months in the site time zone', () => {
    feed(r1, { 'hvac.temperature': 19 });
    // 1 December 07:30 in Shanghai is still 30 November in UTC: the site's zone decides.
    const season: Season = seasonAt(site.config.site, Date.parse('2026-11-30T23:30:00Z'));
    expect(season).toBe('winter');
    expect(check('temperature_in_band', { season })).toMatchObject({ status: 'pass', expected: '18–22 °C (winter)' });
    expect(seasonAt(site.config.site, NOV)).toBe('transition');
    expect(check('temperature_in_band', { season: 'transition' })).toMatchObject({ status: 'fail', observed: ['hvac.temperature=19 °C'], expected: '20–24 °C (transition)' });
  });

  it('never passes a check on a stale or offline point: it is unknown instead', () => {
    expect(check('temperature_in_band').status).toBe('unknown'); // never reported
    feed(r1, { 'hvac.temperature': 22 });
    expect(check('temperature_in_band').status).toBe('pass');
    vi.advanceTimersByTime(31_000); // fcu-modbus points go stale after 30 s without a reading
    expect(check('temperature_in_band')).toMatchObject({ status: 'unknown', observed: ['hvac.temperature: stale'] });
    feed(r1, { 'display.power': true });
    store.deviceStatus('R1', 'display', false);
    expect(check('display_on')).toMatchObject({ status: 'unknown', observed: ['display.power: offline'] });
    // One point failing outright still makes the check fail, whatever the stale ones say.
    feed(r1, { 'lights.main.on': false, 'lights.main.level': 80 });
    expect(check('lights_scene').status).toBe('fail');
  });

  it('P4: the lights check compares every zone with the meeting scene, within a small dimmer tolerance', () => {
    readyRoom();
    expect(check('lights_scene')).toMatchObject({ status: 'pass', expected: 'meeting: lights.main.on=true, lights.main.level=80, lights.board.on=true, lights.board.level=100' });
    feed(r1, { 'lights.board.level': 40 });
    expect(check('lights_scene')).toMatchObject({ status: 'fail', observed: ['lights.board.level=40'] });
    // A room without the scene: every zone must at least be on.
    feed(r2, { 'lights.main.on': true });
    expect(check('lights_scene', {}, r2)).toMatchObject({ status: 'pass', expected: 'meeting: lights.main.on=true' });
  });

  it('P2, P3: every mic must pass its test, level in range and battery above minimum where the mic reports one', () => {
    readyRoom();
    expect(check('mic_test').status).toBe('pass');
    feed(r1, { 'audio.mic.3.level': -80 });
    expect(check('mic_test')).toMatchObject({ status: 'fail', observed: ['audio.mic.3.level=-80 dBFS: level too low'], expected: 'level -50…-3 dBFS, battery ≥ 30%' });
    feed(r1, { 'audio.mic.3.level': -20, 'audio.mic.2.battery': 12 });
    expect(check('mic_test')).toMatchObject({ status: 'fail', observed: ['audio.mic.2.battery=12%: battery low'] });
    // R2's mics are wired: they never report a battery and are judged on level alone.
    feed(r2, { 'audio.mic.1.level': -30, 'audio.mic.2.level': -28 });
    expect(check('mic_test', {}, r2).status).toBe('pass');
  });

  it('P2: a mic under test, unmuted, that reports no level at all fails its test (a dead mic), while a muted or idle one without a level is unknown', () => {
    feed(r2, { 'audio.mic.1.level': -30, 'audio.mic.1.test': true, 'audio.mic.1.mute': false, 'audio.mic.2.test': false, 'audio.mic.2.mute': true });
    expect(check('mic_test', {}, r2)).toMatchObject({ status: 'unknown', observed: ['audio.mic.2.level: no reading'] });
    feed(r2, { 'audio.mic.2.test': true, 'audio.mic.2.mute': false });
    expect(check('mic_test', {}, r2)).toMatchObject({ status: 'fail', observed: ['audio.mic.2.level: no signal under test'] });
  });

  it('P10: a vip1 meeting needs its spare mics: the last two channels are held as backups and must pass too', () => {
    readyRoom();
    const vip1 = { meeting: { id: 'V', level: 'vip1' as const } };
    expect(applicableChecks('ready', input(r1, vip1))).toContain('backup_mics');
    expect(applicableChecks('ready', input(r1))).not.toContain('backup_mics');
    expect(check('backup_mics', vip1).status).toBe('pass');
    feed(r1, { 'audio.mic.4.level': -90 });
    expect(check('backup_mics', vip1)).toMatchObject({ status: 'fail', observed: ['audio.mic.4.level=-90 dBFS: level too low'] });
    expect(check('mic_test', vip1).status).toBe('pass'); // mic 4 is a spare, not one in use
    // Two channels in all cannot hold two spares and a mic in use.
    feed(r2, { 'audio.mic.1.level': -30, 'audio.mic.2.level': -28 });
    expect(check('backup_mics', vip1, r2)).toMatchObject({ status: 'fail', observed: '2 mic channel(s) in the room' });
  });

  it('P2, P4, P16: display on, door unlocked, fresh air on and master unmuted each fail with what was seen', () => {
    readyRoom();
    feed(r1, { 'display.power': false, 'door.locked': true, 'fresh_air.power': false, 'audio.master.mute': true });
    expect(check('display_on')).toMatchObject({ status: 'fail', observed: ['display.power=false'], expected: 'display on' });
    expect(check('door_unlocked')).toMatchObject({ status: 'fail', observed: ['door.locked=true'] });
    expect(check('fresh_air_on')).toMatchObject({ status: 'fail', observed: ['fresh_air.power=false'] });
    expect(check('audio_unmuted')).toMatchObject({ status: 'fail', observed: ['audio.master.mute=true'] });
  });

  it('P16: CO2 must be below the maximum where a sensor exists; a fresh-air unit reading 0 has no sensor fitted', () => {
    readyRoom();
    feed(r1, { 'air.co2': 1400 });
    expect(check('co2_below_max')).toMatchObject({ status: 'fail', observed: ['air.co2=1400 ppm'], expected: 'CO2 ≤ 1000 ppm' });
    feed(r2, { 'fresh_air.co2': 0 });
    expect(applicableChecks('ready', input(r2))).not.toContain('co2_below_max');
    feed(r2, { 'fresh_air.co2': 720 });
    expect(check('co2_below_max', {}, r2)).toMatchObject({ status: 'pass', observed: ['fresh_air.co2=720 ppm'] });
  });

  it('P14: every required device must be online; a device marked not required is not needed', () => {
    readyRoom();
    store.deviceStatus('R1', 'window', false);
    expect(check('devices_online').status).toBe('pass');
    store.deviceStatus('R1', 'audio', false, { error: 'availability: offline' });
    expect(check('devices_online')).toMatchObject({ status: 'fail', observed: ['audio: offline'] });
  });

  it('applies only the checks a room has devices for: a room with no display, door or HVAC skips those', () => {
    expect(applicableChecks('ready', input(r2))).toEqual(['devices_online', 'lights_scene', 'mic_test', 'audio_unmuted', 'fresh_air_on']);
    expect(applicableChecks('final_sound', input(r2))).toEqual(['mic_test', 'audio_unmuted']);
  });

  it('P15: outcomes carry room, meeting id, level and step, and nothing else about the meeting', () => {
    readyRoom();
    const [o] = runChecks(['display_on'], input(r1, { meeting: { id: 'M9', level: 'vip2' } }), { ts: NOV, step: 'av_on' });
    expect(o).toEqual({ room: 'R1', meetingId: 'M9', level: 'vip2', check: 'display_on', status: 'pass', observed: ['display.power=true'], expected: 'display on', step: 'av_on', ts: NOV });
  });
});
