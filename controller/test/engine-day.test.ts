import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimDay } from '../src/cli/sim-day.ts';
import { demoColumns } from '../src/cli/demo-columns.ts';
import type { ActivityEvent, AlertEvent, CheckOutcome, MeetingVerdict } from '../src/model/events.ts';
import type { PointValue } from '../src/model/points.ts';
import { siteFromYaml } from './helpers/site.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * A working morning of six small rooms, played on virtual time by the real service
 * (embedded broker, MQTT and Modbus adapters, schedule, readiness engine) beside the
 * simulated building over real sockets (sim-day.ts). The day is played once; each test
 * below asserts one procedure on what happened, as the bus, MQTT and the devices saw it.
 *
 *   R1  fault-free, two meetings back to back, then closed; lights switched on afterwards
 *   R2  vip2 (P11), the display will not power on; a window opened during the meeting
 *   R3  vip3 (P12), a dead microphone
 *   R4  vip1 (P10), the display drops off the network at 07:30
 *   R5  a no-show; afterwards its main lights stick on
 *   R6  an ad-hoc meeting booked at 09:10 for 09:20 (P13)
 */
const devices = (room: string, gw: string, mics: number, extra = '') => `
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { gateway: ${gw}, unit: 1, poll_ms: 15000 } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: day/${room}/lights } }
      - { name: audio, profile: dsp-mqtt, mqtt: { base: day/${room}/dsp }, channels: { mic: ${mics} } }
      - { name: door, profile: door-mqtt, mqtt: { base: day/${room}/door } }
      - { name: occupancy, profile: occupancy-mqtt, mqtt: { base: day/${room}/occupancy } }
      - { name: display, profile: display-mqtt, mqtt: { base: day/${room}/display } }${extra}
    scenes:
      meeting: { steps: [ { set: lights.main.on, value: true }, { set: lights.main.level, value: 80 } ] }`;

const YAML = `
site:
  id: day
  name: Engine day
  timezone: Asia/Shanghai
  routines: { opening: "07:00", end_of_day: "11:00", weekly_selftest: { day: 3, time: "06:30" } }
modbus:
  gateways:
${[1, 2, 3, 4, 5, 6].map((n) => `    - { id: gw${n}, tcp: { host: 127.0.0.1, port: ${15100 + n} } }`).join('\n')}
rooms:
  - id: R1
    name: Back to back
    capacity: 8${devices('R1', 'gw1', 2, `
      - { name: fresh_air, profile: fau-modbus, modbus: { gateway: gw1, unit: 2, poll_ms: 15000 } }
      - { name: boiler, profile: boiler-mqtt, mqtt: { base: day/R1/boiler } }`)}
  - id: R2
    name: Display fault
    capacity: 8${devices('R2', 'gw2', 2, `
      - { name: window, profile: window-mqtt, mqtt: { base: day/R2/window } }`)}
  - id: R3
    name: Dead mic
    capacity: 8${devices('R3', 'gw3', 2)}
  - id: R4
    name: VIP hall
    capacity: 8${devices('R4', 'gw4', 4)}
  - id: R5
    name: No-show
    capacity: 8${devices('R5', 'gw5', 2)}
  - id: R6
    name: Ad hoc
    capacity: 8${devices('R6', 'gw6', 2)}
simulation:
  seed: 11
  day: 2025-07-16
  start: "06:30"
  meetings:
    - { id: m1a, room: R1, start: "08:30", end: "09:15", attendees: 3, title: Secret budget talk, organizer: Minister Zhang }
    - { id: m1b, room: R1, start: "09:15", end: "10:00", attendees: 4 }
    - { id: m2, room: R2, start: "08:45", end: "09:45", level: vip2, attendees: 5 }
    - { id: m3, room: R3, start: "09:00", end: "10:00", level: vip3, attendees: 5 }
    - { id: m4, room: R4, start: "09:00", end: "10:00", level: vip1, attendees: 4, title: State visit rehearsal }
    - { id: m5, room: R5, start: "08:30", end: "09:30", attendees: 6, no_show: true }
    - { id: m6, room: R6, start: "09:20", end: "09:50", attendees: 4, booked_at: "09:10" }
`;

const FAULTS = [
  { room: 'R2', kind: 'display_no_power', at: '06:30' },
  { room: 'R2', kind: 'window_left_open', at: '09:00' },
  { room: 'R3', kind: 'dead_mic:2', at: '06:30' },
  { room: 'R4', kind: 'device_offline:display', at: '07:30' },
  { room: 'R5', kind: 'lights_stuck_on:main', at: '08:50' },
];

const SECRETS = ['Secret budget talk', 'Minister Zhang', 'State visit rehearsal'];

let day: SimDay;
let watcher: MqttClient;
const published: { topic: string; payload: string; retain: boolean }[] = [];
const snapshots: Record<string, Record<string, PointValue | undefined>> = {};
let checks: CheckOutcome[];
let alerts: AlertEvent[];
let activities: ActivityEvent[];
let verdicts: Map<string, MeetingVerdict>;
const MIN = 60_000;

const at = (hhmm: string) => day.at(hhmm);
const good = (room: string, point: string) => day.service.state.goodValue(room, point);
const raisedBefore = (meetingId: string, start: number) => alerts.filter((a) => a.meetingId === meetingId && a.state === 'raised' && a.ts < start);
const outcome = (meetingId: string, check: string, step: string) => checks.filter((c) => c.meetingId === meetingId && c.check === check && c.step === step).at(-1);

beforeAll(async () => {
  day = await SimDay.open({ site: siteFromYaml(YAML), faults: FAULTS });
  watcher = mqtt.connect(day.service.mqttUrl, { clientId: 'engine-day-watcher', ...day.service.logins!.roomctl }) // it also commands the lights (only roomctl's login may);
  watcher.on('message', (topic, payload, packet) => published.push({ topic, payload: payload.toString(), retain: packet.retain }));
  await watcher.subscribeAsync(['roomctl/day/alerts', 'roomctl/day/rooms/+/readiness', 'roomctl/day/rooms/+/scene', 'roomctl/day/rooms/+/state'], { qos: 1 });
  await day.advanceTo('07:05');
  snapshots.opened = { locked: good('R1', 'door.locked'), lights: good('R1', 'lights.main.on'), level: good('R1', 'lights.main.level'), boiler: good('R1', 'boiler.power') };
  await day.advanceTo('08:20');
  snapshots.preparing = { freshAir: good('R1', 'fresh_air.power'), speed: good('R1', 'fresh_air.speed'), display: good('R1', 'display.power'), unlocked: good('R1', 'door.locked') === false };
  const columns = demoColumns(day.service.engine);
  snapshots.demo = Object.fromEntries(['R1', 'R5'].flatMap((room) => columns.map((c) => [`${room} ${c.title}`, c.value({ id: room })])));
  await day.advanceTo('10:19');
  snapshots.afterClose = { lights: good('R1', 'lights.main.on'), locked: good('R1', 'door.locked'), display: good('R1', 'display.power'), hvac: good('R1', 'hvac.power') };
  // Someone switches the lights of the closed room on at the wall.
  await watcher.publishAsync('day/R1/lights/main/set', JSON.stringify({ on: true }), { qos: 1 });
  await day.advanceTo('10:21');
  snapshots.lightsPoked = { lights: good('R1', 'lights.main.on') };
  await day.advanceTo('11:05');
  await waitFor(() => published.some((p) => p.topic.endsWith('/alerts')), 10_000, 'alerts on MQTT');
  checks = day.recorder.checks;
  alerts = day.recorder.alerts;
  activities = day.recorder.activities;
  verdicts = day.recorder.verdicts;
}, 300_000);

afterAll(async () => {
  await watcher?.endAsync();
  await day?.close();
});

describe('a simulated working morning', () => {
  it('P4, P5: fault-free rooms are ready at T-15 with the temperature in the comfort band, and ready at the start', () => {
    for (const id of ['m1a', 'm1b', 'm5']) {
      const v = verdicts.get(id)!;
      expect(v, id).toBeDefined();
      expect(outcome(id, 'temperature_in_band', 'ready')?.status, `${id} temperature at T-15`).toBe('pass');
      expect(v.readyAtReadyCheck, `${id} ready at T-15: ${JSON.stringify(day.recorder.failingOf(id))}`).toBe(true);
      expect(v.minutesReadyBeforeStart, id).toBeGreaterThanOrEqual(15);
      expect(raisedBefore(id, v.start), id).toEqual([]);
    }
    expect(verdicts.get('m1a')!.readyAtStart).toBe(true);
    expect(verdicts.get('m1a')!.minutesInBandBeforeStart).toBeGreaterThanOrEqual(15);
  });

  it('P2, P3, P10–P12, P14: each injected fault gives the right failing check and exactly one alert before the start', () => {
    const expected: [string, string][] = [
      ['m2', 'display_on'], // the display takes the command and stays dark
      ['m3', 'mic_test'], // mic 2 is under test and gives no level
      ['m4', 'devices_online'], // the display left the network
    ];
    for (const [id, check] of expected) {
      const v = verdicts.get(id)!;
      expect(v.readyAtReadyCheck, id).toBe(false);
      expect(v.failingChecks, id).toContain(check);
      // One alert per fault, keyed by room and condition: raised before the start (by the
      // meeting's own checks, or already by the morning self-test), and nothing else for it.
      const before = alerts.filter((a) => a.room === v.room && a.state === 'raised' && a.ts < v.start);
      expect(before.map((a) => a.check), id).toEqual([check]);
      expect(before[0]).toMatchObject({ room: v.room, id: `${v.room}/${check}` });
      expect(alerts.some((a) => a.id === before[0]!.id && a.state === 'cleared' && a.ts < v.end), `${id}: not cleared while the fault is there`).toBe(false);
    }
    expect(outcome('m3', 'mic_test', 'ready')!.observed).toContain('audio.mic.2.level: no signal under test');
    // The fault rooms are still comfortable: only the faulty equipment fails.
    for (const id of ['m2', 'm3', 'm4']) expect(outcome(id, 'temperature_in_band', 'ready')?.status, id).toBe('pass');
  });

  it('P10, P11, P12: VIP full equipment checks run ahead of time; vip3 gets AV on and its check two hours before', () => {
    const vipChecks = activities.filter((a) => a.kind === 'self_test' && a.name.startsWith('vip_check'));
    expect(vipChecks.map((a) => [a.meetingId, a.name])).toEqual(expect.arrayContaining([['m2', 'vip_check@2d'], ['m3', 'vip_check@120m'], ['m4', 'vip_check@1d']]));
    expect(outcome('m4', 'backup_mics', 'vip_check@1d')?.status).toBe('pass'); // P10: spares proven before the display fault
    expect(outcome('m2', 'display_on', 'vip_check@2d')?.status).toBe('fail');
    const avOn = checks.find((c) => c.meetingId === 'm3' && c.step === 'av_on')!;
    expect(avOn.ts - at('07:00')).toBeLessThan(3 * MIN); // T-2h
  });

  it('P13: the ad-hoc meeting is prepared at once when booked and reports how late it was booked', () => {
    const v = verdicts.get('m6')!;
    expect(v.minutesLate).toBe(20); // AV step was due 08:50, booking arrived 09:10
    // The readiness watch's own runs (step "watch") start with the booking; the first step is the AV step.
    const firstCheck = checks.filter((c) => c.meetingId === 'm6' && c.step !== 'watch').sort((a, b) => a.ts - b.ts)[0]!;
    expect(firstCheck.step).toBe('av_on');
    expect(firstCheck.ts - at('09:10')).toBeLessThan(3 * MIN);
    const ready = outcome('m6', 'lights_scene', 'ready')!;
    expect(ready.ts).toBeGreaterThanOrEqual(firstCheck.ts);
    expect(ready.ts).toBeLessThan(at('09:20'));
  });

  it('no-show: a meeting nobody attends is detected 15 minutes after its start, recorded, and its room released', () => {
    const v = verdicts.get('m5')!;
    expect(v.noShow).toBe(true);
    const noShow = activities.find((a) => a.kind === 'no_show' && a.meetingId === 'm5')!;
    expect(noShow.ts - at('08:45')).toBeLessThan(2 * MIN);
    expect(noShow.detail).toMatch(/released/);
    // Released: the room's HVAC stopped at the no-show (its run time ends there), and the readiness topic says so.
    expect(day.service.engine.hvacMinutes('R5')).toBeLessThan((at('08:47') - at('06:30')) / MIN);
    expect(published.some((p) => p.topic === 'roomctl/day/rooms/R5/readiness' && JSON.parse(p.payload).verdict?.noShow === true)).toBe(true);
  });

  it('P7: back-to-back meetings do not close the room in between; after the close the lights are off and the door locked', () => {
    const closes = activities.filter((a) => a.kind === 'close' && a.room === 'R1');
    expect(closes.map((c) => c.meetingId)).toEqual(['m1b']);
    expect(closes[0]!.ts).toBeGreaterThan(at('10:00'));
    expect(checks.filter((c) => c.room === 'R1' && c.step === 'close').map((c) => [c.check, c.status])).toEqual(
      expect.arrayContaining([['lights_off', 'pass'], ['display_off', 'pass'], ['door_locked', 'pass'], ['hvac_off', 'pass']]),
    );
    expect(snapshots.afterClose).toEqual({ lights: false, locked: true, display: false, hvac: false });
  });

  it('P7: a window left open at the close is an alert for the room', () => {
    const windowAlert = alerts.find((a) => a.room === 'R2' && a.check === 'window_closed' && a.state === 'raised')!;
    expect(windowAlert).toBeDefined();
    expect(windowAlert.meetingId).toBeUndefined();
    expect(windowAlert.observed).toEqual(['window.contact=open']);
  });

  it('lights switched on in a closed room with no meeting are switched off after the grace period', () => {
    expect(snapshots.lightsPoked!.lights).toBe(true);
    const release = activities.find((a) => a.kind === 'release' && a.room === 'R1' && a.name === 'lights_grace' && a.ts > at('10:20'))!;
    expect(release.result).toBe('ok');
    expect(release.ts - at('10:20')).toBeGreaterThanOrEqual(9 * MIN);
    expect(release.ts - at('10:20')).toBeLessThanOrEqual(12 * MIN);
    expect(good('R1', 'lights.main.on')).toBe(false);
  });

  it('P8: the end-of-day sweep reports what was left on or open, and alerts what it could not put right', () => {
    const sweeps = day.service.engine.routines.sweeps;
    expect(sweeps.get('R5')).toMatchObject({ leftOn: ['lights.main.on'], failed: ['lights_off'] }); // stuck relay
    expect(sweeps.get('R2')).toMatchObject({ leftOn: ['window.contact=open'], failed: ['window_closed'] });
    expect(sweeps.get('R1')).toMatchObject({ leftOn: [], failed: [] });
    const sweepActivity = activities.filter((a) => a.name === 'end_of_day');
    expect(sweepActivity).toHaveLength(6);
    expect(sweepActivity.find((a) => a.room === 'R5')!.detail).toMatch(/left on\/open: lights\.main\.on/);
    for (const room of ['R1', 'R3', 'R4', 'R6']) expect(good(room, 'door.locked'), room).toBe(true);
  });

  it('P1: the daily opening unlocks every door, sets the lights to a low level and switches the boilers on', () => {
    const openings = activities.filter((a) => a.name === 'opening');
    expect(openings).toHaveLength(6);
    expect(openings.every((a) => Math.abs(a.ts - at('07:00')) < 2 * MIN)).toBe(true);
    expect(openings.every((a) => a.result === 'ok')).toBe(true);
    expect(snapshots.opened).toEqual({ locked: false, lights: true, level: 30, boiler: true });
    expect(good('R1', 'boiler.power')).toBe(false); // and the sweep switched it off
  });

  it('P9: the weekly equipment self-test runs outside meeting hours and records each room', () => {
    const tests = day.service.engine.routines.selfTests;
    expect([...tests.keys()].sort()).toEqual(['R1', 'R2', 'R3', 'R4', 'R5', 'R6']);
    expect(tests.get('R1')!.ok).toBe(true);
    expect(tests.get('R2')!.outcomes.find((o) => o.check === 'display_on')!.status).toBe('fail');
    expect(tests.get('R3')!.outcomes.find((o) => o.check === 'mic_test')!.status).toBe('fail');
  });

  it('P6: in-session monitoring checks temperature, CO2 and devices every few minutes until the end', () => {
    const monitor = checks.filter((c) => c.meetingId === 'm1a' && c.step === 'monitor' && c.check === 'temperature_in_band');
    expect(monitor.length).toBeGreaterThanOrEqual(8);
    expect(Math.max(...monitor.map((c) => c.ts))).toBeLessThan(at('09:15'));
  });

  it('P4, P15: readiness and verdicts are published retained per room, alerts on the alerts topic, and no title or organizer reaches MQTT or the bus', () => {
    const readiness = published.filter((p) => p.topic === 'roomctl/day/rooms/R1/readiness');
    expect(readiness.length).toBeGreaterThan(0);
    const last = JSON.parse(readiness.at(-1)!.payload);
    expect(last).toMatchObject({ room: 'R1' });
    const withVerdict = readiness.map((p) => JSON.parse(p.payload)).find((p) => p.verdict?.meetingId === 'm1a');
    expect(withVerdict.verdict).toMatchObject({ readyAtReadyCheck: true, level: 'normal' });
    const alertMsgs = published.filter((p) => p.topic === 'roomctl/day/alerts').map((p) => JSON.parse(p.payload));
    expect(alertMsgs.some((a) => a.check === 'display_on' && a.room === 'R2' && a.state === 'raised')).toBe(true);
    expect(published.filter((p) => p.topic === 'roomctl/day/alerts').every((p) => !p.retain)).toBe(true);
    const everything = [...published.map((p) => p.payload), ...checks, ...alerts, ...activities, ...verdicts.values()].map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join('\n');
    for (const secret of SECRETS) expect(everything).not.toContain(secret);
    // The schedule file is the one place the confidential fields live.
    expect(readFileSync(join(day.service.dataDir, 'meetings.json'), 'utf8')).toContain('Secret budget talk');
  });

  it('P2, P16: AV on at T-30 switches the display and fresh air on and unlocks the door; the demo table shows phase and readiness', () => {
    expect(snapshots.preparing).toEqual({ freshAir: true, speed: 'medium', display: true, unlocked: true });
    expect(snapshots.demo).toEqual({ 'R1 phase': 'ready', 'R1 meeting · readiness': '08:30 ready ✓', 'R5 phase': 'ready', 'R5 meeting · readiness': '08:30 ready ✓' });
  });

  it('P4: the meeting scene is applied at the readiness step and its result is published retained on the scene topic', () => {
    const scene = published.filter((p) => p.topic === 'roomctl/day/rooms/R1/scene').map((p) => JSON.parse(p.payload));
    expect(scene.some((s) => s.scene === 'meeting' && s.ok === true && s.meetingId === 'm1a' && s.source === 'schedule')).toBe(true);
    expect(activities.some((a) => a.kind === 'scene' && a.room === 'R1' && a.result === 'ok')).toBe(true);
  });
});
