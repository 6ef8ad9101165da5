import { describe, expect, it } from 'vitest';
import { roomIntent, type IntentInput } from '../src/engine/intent/intent.ts';
import { siteFromYaml } from './helpers/site.ts';

/**
 * The room's intent is a pure function of (room, its meeting, what of the preparation
 * was done, now): asked at any instant, it says the phase, what every driven point
 * should be, and which checks the meeting depends on. These are the values the
 * reconciler holds and the readiness watch runs (DESIGN.md, "The engine").
 */
const site = siteFromYaml(`
site: { id: t, name: Test, timezone: Asia/Shanghai }
rooms:
  - id: R1
    name: Room
    capacity: 8
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { host: 127.0.0.1, unit: 1 } }
      - { name: fresh_air, profile: fau-modbus, modbus: { host: 127.0.0.1, unit: 2 } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: t/R1/lights } }
      - { name: audio, profile: dsp-mqtt, mqtt: { base: t/R1/dsp }, channels: { mic: 2 } }
      - { name: door, profile: door-mqtt, mqtt: { base: t/R1/door } }
      - { name: display, profile: display-mqtt, mqtt: { base: t/R1/display } }
    scenes:
      meeting: { steps: [ { set: lights.main.on, value: true }, { set: lights.main.level, value: 80 } ] }
`);
const room = site.rooms[0]!;
const START = Date.parse('2026-07-16T10:00:00+08:00');
const MIN = 60_000;
const meeting = { id: 'M', start: START, end: START + 60 * MIN, level: 'normal' as const, status: 'scheduled' as const };
const at = (minutesFromStart: number, done: string[], extra: Partial<IntentInput> = {}) =>
  roomIntent({ room, meeting, done: new Set(done), now: START + minutesFromStart * MIN, season: 'summer', band: [22, 24], today: true, ...extra });
const desired = (i: ReturnType<typeof roomIntent>) => Object.fromEntries(i.desired.map((w) => [w.set, w.value]));

describe('room intent', () => {
  it('before anything is done, a meeting later today needs only its devices online and nothing driven', () => {
    expect(at(-120, [])).toEqual({ phase: 'idle', meetingId: 'M', desired: [], checks: ['devices_online'] });
    // No meeting ahead at all: nothing.
    expect(roomIntent({ room, done: new Set(), now: START, season: 'summer', band: [22, 24], today: true })).toEqual({ phase: 'idle', desired: [], checks: [] });
  });

  it('P5: once pre-conditioning started, every unit is wanted on in the season’s mode at the middle of the band', () => {
    const i = at(-50, ['hvac_precondition']);
    expect(i.phase).toBe('preconditioning');
    expect(desired(i)).toEqual({ 'hvac.power': true, 'hvac.mode': 'cool', 'hvac.setpoint': 23 });
    expect(desired(at(-50, ['hvac_precondition'], { season: 'winter', band: [18, 22] }))).toEqual({ 'hvac.power': true, 'hvac.mode': 'heat', 'hvac.setpoint': 20 });
  });

  it('P2/P16 from the AV step (T-30): displays, fresh air at medium, door unlocked, DSP and mics unmuted; the AV checks', () => {
    const i = at(-30, ['hvac_precondition', 'av_on']);
    expect(i.phase).toBe('av_prep');
    expect(desired(i)).toEqual({
      'hvac.power': true,
      'hvac.mode': 'cool',
      'hvac.setpoint': 23,
      'display.power': true,
      'fresh_air.power': true,
      'fresh_air.speed': 'medium',
      'door.locked': false,
      'audio.master.mute': false,
      'audio.mic.1.mute': false,
      'audio.mic.2.mute': false,
    });
    expect(i.checks).toEqual(['devices_online', 'display_on', 'audio_unmuted', 'fresh_air_on']);
    // The AV step is due but not done yet: not av_prep, nothing of it wanted.
    expect(at(-30, ['hvac_precondition']).phase).toBe('preconditioning');
  });

  it('P4 from the ready step (T-15): the meeting scene’s lights too, and every readiness check except the mic tests’ own', () => {
    const i = at(-15, ['hvac_precondition', 'av_on', 'ready']);
    expect(i.phase).toBe('ready');
    expect(desired(i)).toMatchObject({ 'lights.main.on': true, 'lights.main.level': 80 });
    expect(i.checks).toEqual(['devices_online', 'temperature_in_band', 'lights_scene', 'display_on', 'door_unlocked', 'audio_unmuted', 'fresh_air_on', 'co2_below_max']);
  });

  it('P6 in session: HVAC held on even if the pre-conditioning step never ran (a booking that arrived at its start), and the monitoring checks', () => {
    const i = at(5, []);
    expect(i.phase).toBe('in_session');
    expect(desired(i)).toMatchObject({ 'hvac.power': true, 'display.power': true });
    expect(i.checks).toEqual(['devices_online', 'temperature_in_band', 'co2_below_max']);
  });

  it('after the end, or for a cancelled meeting, the meeting wants nothing', () => {
    expect(at(60, ['hvac_precondition', 'av_on', 'ready'])).toEqual({ phase: 'idle', desired: [], checks: [] });
    expect(roomIntent({ room, meeting: { ...meeting, status: 'cancelled' }, done: new Set(['av_on']), now: START - 20 * MIN, season: 'summer', band: [22, 24], today: true }).phase).toBe('idle');
  });
});
