import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimDay } from '../src/cli/sim-day.ts';
import type { ActivityEvent } from '../src/model/events.ts';
import type { PointValue } from '../src/model/points.ts';
import { siteFromYaml } from './helpers/site.ts';

/**
 * P7 and P5 together: a room is closed after its meeting while the next meeting's
 * pre-conditioning is already running (a pre-start long enough to open as soon as the
 * meeting before ends). The close must shut the room down but leave that HVAC running;
 * before, it switched it off and the next meeting met a cold room (bench:schedule, a fixed
 * 180-minute pre-start on a January day: three afternoon meetings out of band at T-15).
 * Played by the real service beside the simulated building over real sockets (sim-day.ts),
 * with a fixed 180-minute pre-start so when the pre-conditioning opens is known exactly.
 *
 *   R1  08:00–09:00, then 12:00: the 12:00 meeting's HVAC starts at 09:00 (its 180 min),
 *       before R1 is closed (vacant 10 min after its people leave)
 *   R2  08:00–09:00, then 15:00: nothing of the next meeting is under way at the close,
 *       which switches HVAC off (the gap is beyond hvac_off_horizon_minutes, 120)
 */
const room = (id: string, gw: string) => `
  - id: ${id}
    name: ${id}
    capacity: 8
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { gateway: ${gw}, unit: 1, poll_ms: 15000 } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: keep/${id}/lights } }
      - { name: door, profile: door-mqtt, mqtt: { base: keep/${id}/door } }
      - { name: occupancy, profile: occupancy-mqtt, mqtt: { base: keep/${id}/occupancy } }
    scenes:
      meeting: { steps: [ { set: lights.main.on, value: true }, { set: lights.main.level, value: 80 } ] }`;

const YAML = `
site:
  id: keep
  name: Close keeps pre-conditioning
  timezone: Asia/Shanghai
  routines: { opening: "07:00", end_of_day: "18:30", weekly_selftest: { day: 3, time: "06:30" } }
modbus:
  gateways:
    - { id: gw1, tcp: { host: 127.0.0.1, port: 15201 } }
    - { id: gw2, tcp: { host: 127.0.0.1, port: 15202 } }
rooms:${room('R1', 'gw1')}${room('R2', 'gw2')}
simulation:
  seed: 5
  day: 2026-01-14
  start: "07:30"
  meetings:
    - { id: r1-morning, room: R1, start: "08:00", end: "09:00", attendees: 4 }
    - { id: r1-noon, room: R1, start: "12:00", end: "13:00", attendees: 4 }
    - { id: r2-morning, room: R2, start: "08:00", end: "09:00", attendees: 4 }
    - { id: r2-afternoon, room: R2, start: "15:00", end: "16:00", attendees: 4 }
`;

let day: SimDay;
let seen: Record<string, PointValue | undefined> = {};
let activities: ActivityEvent[] = [];

beforeAll(async () => {
  day = await SimDay.open({ site: siteFromYaml(YAML), engine: { hvac: { kind: 'fixed', minutesBeforeStart: 180 } } });
  await day.advanceTo('09:45');
  const good = (r: string, p: string) => day.service.state.goodValue(r, p);
  seen = { r1Hvac: good('R1', 'hvac.power'), r1Lights: good('R1', 'lights.main.on'), r2Hvac: good('R2', 'hvac.power'), r2Lights: good('R2', 'lights.main.on') };
  activities = day.recorder.activities;
}, 300_000);

afterAll(async () => {
  await day?.close();
});

describe('P7 close while the next meeting is being pre-conditioned (P5)', () => {
  it('closes both rooms after their morning meetings (lights off)', () => {
    const closed = (r: string) => activities.filter((a) => a.kind === 'close' && a.room === r && a.meetingId === `${r.toLowerCase()}-morning`);
    expect(closed('R1')).toHaveLength(1);
    expect(closed('R2')).toHaveLength(1);
    expect(seen.r1Lights).toBe(false);
    expect(seen.r2Lights).toBe(false);
  });

  it('leaves the HVAC the next meeting\'s pre-conditioning started running, and switches it off where none has started', () => {
    expect(seen.r1Hvac).toBe(true);
    expect(seen.r2Hvac).toBe(false);
  });
});
