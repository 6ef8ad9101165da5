import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimDay } from '../src/cli/sim-day.ts';
import type { AlertEvent, MeetingVerdict } from '../src/model/events.ts';
import type { CommandRecord } from '../src/model/points.ts';
import { siteFromYaml } from './helpers/site.ts';

/**
 * The engine is level-triggered (DESIGN.md, "The engine"): what was missed converges.
 * A small building played on virtual time by the real service beside the simulated
 * devices over real sockets, started *together* as on site — the engine's first steps
 * run before the first Modbus poll has answered:
 *   A  a meeting booked at 07:32 for 08:10 (P13: pre-conditioning due at once) while
 *      its FCU has not answered (offline 07:30–07:36): what a controller sees when it
 *      starts before its first poll, or a unit is late to come up
 *   B  a meeting at 09:00 whose FCU reboots at 08:50 (between T-15 and the start): it
 *      comes back with its factory state (power off, factory setpoint)
 */
const room = (id: string, gw: string) => `
  - id: ${id}
    name: Room ${id}
    capacity: 8
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { gateway: ${gw}, unit: 1 } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: rc/${id}/lights } }
      - { name: audio, profile: dsp-mqtt, mqtt: { base: rc/${id}/dsp }, channels: { mic: 2 } }
      - { name: door, profile: door-mqtt, mqtt: { base: rc/${id}/door } }
      - { name: occupancy, profile: occupancy-mqtt, mqtt: { base: rc/${id}/occupancy } }
      - { name: display, profile: display-mqtt, mqtt: { base: rc/${id}/display } }
    scenes:
      meeting: { steps: [ { set: lights.main.on, value: true }, { set: lights.main.level, value: 80 } ] }`;

const YAML = `
site:
  id: rc
  name: Reconcile day
  timezone: Asia/Shanghai
  routines: { opening: "07:00", end_of_day: "12:00", weekly_selftest: { day: 7, time: "06:00" } }
modbus:
  gateways:
    - { id: gwa, tcp: { host: 127.0.0.1, port: 15201 } }
    - { id: gwb, tcp: { host: 127.0.0.1, port: 15202 } }
rooms:${room('A', 'gwa')}${room('B', 'gwb')}
simulation:
  seed: 5
  day: 2025-07-16
  start: "07:30"
  meetings:
    - { id: ma, room: A, start: "08:10", end: "08:50", attendees: 4, booked_at: "07:32" }
    - { id: mb, room: B, start: "09:00", end: "09:45", attendees: 4 }
`;

let day: SimDay;
const alerts: AlertEvent[] = [];
const commands: CommandRecord[] = [];
const verdicts = new Map<string, MeetingVerdict>();
let hvacAfterFirstAdvance: { power: unknown; commandsBeforePoll: number; wanted: string[] };
let bAfterReboot: { power: unknown; setpoint: unknown } | undefined;

beforeAll(async () => {
  // A fixed pre-start (P5's comparison strategy) so the HVAC is certainly wanted at the booking, whatever optimal start would decide.
  day = await SimDay.open({ site: siteFromYaml(YAML), startTogether: true, engine: { hvac: { kind: 'fixed', minutesBeforeStart: 120 } }, faults: [
      { room: 'A', kind: 'device_offline:hvac', at: '07:30', clear_at: '07:36' },
      { room: 'B', kind: 'device_reboot:hvac:120', at: '08:50' },
    ],
  });
  day.service.bus.on('alert', (a) => alerts.push(a));
  day.service.bus.on('command', (c) => commands.push(c));
  day.service.bus.on('verdict', (v) => verdicts.set(v.meetingId, v));
  // 07:35: the booking has arrived and its pre-conditioning ran, with the FCU still silent.
  await day.advanceTo('07:35');
  hvacAfterFirstAdvance = { power: day.service.state.goodValue('A', 'hvac.power'), commandsBeforePoll: commands.filter((c) => c.room === 'A' && c.device === 'hvac' && c.ts >= day.at('07:32')).length,
    wanted: day.service.engine.reconciler.unconverged('A').filter((d) => d.point === 'hvac.power').map((d) => `${d.point}=${String(d.value)} ${d.state}`),
  };
  await day.advanceTo('08:56');
  bAfterReboot = { power: day.service.state.goodValue('B', 'hvac.power'), setpoint: day.service.state.goodValue('B', 'hvac.setpoint') };
  await day.advanceTo('09:20');
}, 600_000);

afterAll(async () => {
  await day?.close();
});

describe('level-triggered reconciliation over real sockets', () => {
  it('P5 start-up race: HVAC wanted before the first Modbus poll is sent once the unit answers, and the meeting is ready at T-15 and at the start', () => {
    // Nothing was sent to a unit that did not answer …
    expect(hvacAfterFirstAdvance.commandsBeforePoll).toBe(0);
    expect(hvacAfterFirstAdvance.wanted).toEqual(['hvac.power=true offline']);
    // … and once it answered, it got its commands and held them.
    const sent = commands.filter((c) => c.room === 'A' && c.device === 'hvac' && c.point === 'hvac.power' && c.ts >= day.at('07:36'));
    expect(sent.map((c) => c.sent)).toContain(true);
    expect(day.service.engine.reconciler.unconverged('A').filter((d) => d.point.startsWith('hvac.'))).toEqual([]);
    const v = verdicts.get('ma')!;
    expect(v.readyAtStart, JSON.stringify(v)).toBe(true);
    // No alert about HVAC writes: a unit that was not polled yet is not a fault.
    expect(alerts.filter((a) => a.room === 'A' && a.check.startsWith('write:hvac'))).toEqual([]);
  });

  it('an FCU rebooting between T-15 and the start is alerted at once, gets its commands again when it is back, and the meeting is ready at the start', () => {
    const reboot = day.at('08:50');
    const down = alerts.find((a) => a.room === 'B' && a.check === 'devices_online' && a.state === 'raised')!;
    expect(down, JSON.stringify(alerts)).toBeDefined();
    expect(down.ts).toBeGreaterThanOrEqual(reboot);
    expect(down.ts).toBeLessThan(day.at('09:00'));
    expect(down.message).toMatch(/hvac \(fcu-modbus\) offline since 08:5\d/);
    expect(down.meetingId).toBe('mb');
    // Back with factory state (power off): re-applied — power on again before the start.
    const reapplied = commands.filter((c) => c.room === 'B' && c.point === 'hvac.power' && c.sent === true && c.ts > reboot);
    expect(reapplied.length).toBeGreaterThanOrEqual(1);
    expect(bAfterReboot?.power).toBe(true);
    const cleared = alerts.find((a) => a.id === down.id && a.state === 'cleared')!;
    expect(cleared.ts).toBeGreaterThan(down.ts);
    expect(cleared.reason).toMatch(/devices_online passes again/);
    const v = verdicts.get('mb')!;
    expect(v.readyAtStart, JSON.stringify(v)).toBe(true);
  });
});
