import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimDay } from '../src/cli/sim-day.ts';
import { loadConfigFile } from '../src/config/load.ts';
import type { AlertEvent, CheckOutcome, MeetingVerdict } from '../src/model/events.ts';
import type { CommandRecord } from '../src/model/points.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * Kind contracts in the running engine (issue 12 item 2), on virtual time by the real
 * service beside the simulated building over real sockets, with the site's own
 * profiles from its profiles_dir:
 *   A  an FCU whose mode is fixed at the plant (`fcu-nomode`: fcu-modbus without its
 *      mode register): prepared with power and setpoint only — no mode write, no alert
 *   B  a water boiler with a fault relay contact and a scale alarm (`boiler-fault`:
 *      boiler-mqtt plus read-only `fault` and `scale_alarm` on their own topic),
 *      published by the boiler's own MQTT login as its relays would: the fault true at
 *      08:10 and false at 08:40, the scale alarm true from 08:10 on; meeting at 09:30
 */
const YAML = `
site:
  id: ff
  name: Fault flags
  timezone: Asia/Shanghai
  routines: { opening: "07:00", end_of_day: "12:00", weekly_selftest: { day: 7, time: "06:00" } }
profiles_dir: profiles
modbus:
  gateways:
    - { id: gwa, tcp: { host: 127.0.0.1, port: 15311 } }
    - { id: gwb, tcp: { host: 127.0.0.1, port: 15312 } }
rooms:
  - id: A
    name: Mode fixed at the plant
    capacity: 8
    devices:
      - { name: hvac, profile: fcu-nomode, modbus: { gateway: gwa, unit: 1 } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: ff/A/lights } }
  - id: B
    name: Boiler with a fault relay
    capacity: 8
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { gateway: gwb, unit: 1 } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: ff/B/lights } }
      - { name: boiler, profile: boiler-fault, mqtt: { base: ff/B/boiler } }
simulation:
  seed: 7
  day: 2025-07-16
  start: "07:30"
  meetings:
    - { id: ma, room: A, start: "09:00", end: "09:45", attendees: 4 }
    - { id: mb, room: B, start: "09:30", end: "10:15", attendees: 4 }
`;

let dir: string;
let day: SimDay;
let relay: MqttClient;
const alerts: AlertEvent[] = [];
const checks: CheckOutcome[] = [];
const commands: CommandRecord[] = [];
const verdicts = new Map<string, MeetingVerdict>();
let modeDesired: string[] = [];
let alarmBeforeStart: unknown;

async function setRelay(key: 'fault' | 'scale_alarm', value: boolean): Promise<void> {
  await relay.publishAsync(`ff/B/boiler/${key}`, JSON.stringify({ [key]: value }), { qos: 1, retain: true });
  // Delivery takes real I/O, not virtual time: wait until roomctl has the reading.
  await waitFor(async () => {
    await day.quiet();
    return day.service.state.goodValue('B', `boiler.${key}`) === value;
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'roomctl-fault-flag-'));
  mkdirSync(join(dir, 'profiles'));
  writeFileSync(join(dir, 'profiles/fcu-nomode.yaml'), 'id: fcu-nomode\nname: FCU, mode set at the plant\nextends: fcu-modbus\npoints: { mode: null }\n');
  writeFileSync(
    join(dir, 'profiles/boiler-fault.yaml'),
    // A relay publishes on change only: its reading stays good for two hours.
    `id: boiler-fault
name: Boiler with fault relay
extends: boiler-mqtt
points:
  fault: { type: boolean, stale_after_s: 7200, mqtt: { state: { topic: "{base}/fault", path: fault } } }
  scale_alarm: { type: boolean, stale_after_s: 7200, mqtt: { state: { topic: "{base}/scale_alarm", path: scale_alarm } } }
`,
  );
  writeFileSync(join(dir, 'site.yaml'), YAML);
  const load = loadConfigFile(join(dir, 'site.yaml'));
  expect(load.errors).toEqual([]);
  expect(load.warnings).toEqual(['profile fcu-nomode: no point mode: no heat/cool switching: the unit keeps the mode set at the plant']);
  // A fixed pre-start (P5's comparison strategy), so both FCUs are certainly driven before their meetings.
  day = await SimDay.open({ site: load.site!, engine: { hvac: { kind: 'fixed', minutesBeforeStart: 60 } } });
  day.service.bus.on('alert', (a) => alerts.push(a));
  day.service.bus.on('check', (c) => checks.push(c));
  day.service.bus.on('command', (c) => commands.push(c));
  day.service.bus.on('verdict', (v) => verdicts.set(v.meetingId, v));
  relay = mqtt.connect(day.service.mqttUrl, { clientId: 'ff-boiler-relay', ...day.service.logins!.device('B', 'boiler')! });
  await new Promise<void>((resolve, reject) => relay.once('connect', () => resolve()).once('error', reject));

  await day.advanceTo('08:10');
  await setRelay('fault', true);
  await setRelay('scale_alarm', true);
  await day.advanceTo('08:40');
  await setRelay('fault', false);
  await day.advanceTo('09:20');
  modeDesired = day.service.engine.reconciler.unconverged('A').map((d) => d.point).filter((p) => p === 'hvac.mode');
  alarmBeforeStart = day.service.state.goodValue('B', 'boiler.scale_alarm');
  await day.advanceTo('10:20');
}, 600_000);

afterAll(async () => {
  await relay?.endAsync();
  await day?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('an hvac profile without mode', () => {
  it('gets its room prepared with power and setpoint only: no mode write, no write alert, ready at the start', () => {
    const a = commands.filter((c) => c.room === 'A' && c.device === 'hvac');
    expect(a.filter((c) => c.point === 'hvac.power' && c.sent === true).length).toBeGreaterThanOrEqual(1);
    expect(a.filter((c) => c.point === 'hvac.setpoint').length).toBeGreaterThanOrEqual(1);
    expect(a.filter((c) => c.point === 'hvac.mode')).toEqual([]);
    expect(modeDesired).toEqual([]);
    expect(alerts.filter((x) => x.room === 'A' && x.check.startsWith('write:'))).toEqual([]);
    expect(verdicts.get('ma')?.readyAtStart, JSON.stringify(verdicts.get('ma'))).toBe(true);
    // The same day, the full FCU next door is switched by mode: the difference is the profile, not the season.
    expect(commands.filter((c) => c.room === 'B' && c.point === 'hvac.mode').length).toBeGreaterThanOrEqual(1);
  });
});

describe("a device's own fault flag", () => {
  it('raises one alert naming the device while it reads true, and clears it with the reason when it reads false', () => {
    const mine = alerts.filter((x) => x.room === 'B' && x.check === 'fault:boiler');
    expect(mine.map((x) => x.state)).toEqual(['raised', 'cleared']);
    const [raised, cleared] = mine as [AlertEvent, AlertEvent];
    expect(raised.ts).toBeGreaterThanOrEqual(day.at('08:10'));
    expect(raised.ts).toBeLessThan(day.at('08:40'));
    expect(raised.message).toBe('B: boiler (boiler-fault) reports a fault: boiler.fault=true; meeting mb at 09:30 (in 80 min) depends on it');
    expect(raised.meetingId).toBe('mb');
    expect(cleared.ts).toBeGreaterThanOrEqual(day.at('08:40'));
    expect(cleared.reason).toBe('boiler.fault=false: boiler no longer reports a fault');
  });

  it('fails devices_online while it reads true, without a second alert for the same fault, and the meeting is ready once it clears', () => {
    const during = checks.filter((c) => c.room === 'B' && c.check === 'devices_online' && c.ts >= day.at('08:10') && c.ts < day.at('08:40'));
    expect(during.some((c) => c.status === 'fail' && JSON.stringify(c.observed).includes('boiler: fault (boiler.fault=true)')), JSON.stringify(during)).toBe(true);
    expect(alerts.filter((x) => x.room === 'B' && x.check === 'devices_online')).toEqual([]);
    expect(verdicts.get('mb')?.readyAtStart, JSON.stringify(verdicts.get('mb'))).toBe(true);
  });

  it('alerts a maintenance alarm flag as a warning of its own that does not stop the room being ready', () => {
    const alarm = alerts.filter((x) => x.room === 'B' && x.check === 'alarm:boiler.scale_alarm');
    expect(alarm.map((x) => `${x.state} ${x.severity}`)).toEqual(['raised warning']);
    expect(alarm[0]!.message).toBe('B: boiler (boiler-fault) reports boiler.scale_alarm (maintenance; the room can still be ready)');
    // Still set shortly before the start (09:30), and mb was ready then (previous test): the alarm failed no check.
    expect(alarmBeforeStart).toBe(true);
    // Its reading went stale at 10:10: that clears nothing.
    expect(day.service.engine.activeAlerts('B').map((a) => a.check)).toEqual(['alarm:boiler.scale_alarm']);
  });
});
