import type { BusEvents, EventBus } from '../../src/model/bus.ts';
import type { MeetingLevel } from '../../src/model/events.ts';
import type { PointValue, Quality } from '../../src/model/points.ts';
import type { VirtualClock } from '../../src/model/virtual-clock.ts';
import { localDate, zonedTime } from '../../src/model/local-time.ts';

/**
 * A working day of a small building as the controller emits it on the bus: telemetry,
 * device health, meetings with their steps, checks, verdicts, alerts, scenes,
 * commands, no-shows and the daily routines. Deterministic, so a test knows exactly
 * what InfluxDB must hold afterwards. The day is yesterday (site time), so every
 * point lies inside the retention policies.
 */
export const DAY_SITE_YAML = `
site: { id: hq, name: Test Headquarters, timezone: Asia/Shanghai }
rooms:
${['3F-301', '3F-302', '5F-501']
  .map(
    (room, i) => `  - id: ${room}
    name: Room ${room}
    capacity: 12
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { host: 127.0.0.1, port: 1502, unit: ${i + 1} } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: d/${room}/lights } }
      - { name: audio, profile: dsp-mqtt, mqtt: { base: d/${room}/dsp }, channels: { mic: 2 } }
      - { name: door, profile: door-mqtt, mqtt: { base: d/${room}/door } }
      - { name: occupancy, profile: occupancy-mqtt, mqtt: { base: d/${room}/occ } }
      - { name: display, profile: display-mqtt, mqtt: { base: d/${room}/display } }`,
  )
  .join('\n')}
`;

export type DayEvent = { [K in keyof BusEvents]: { at: number; name: K; payload: BusEvents[K] } }[keyof BusEvents];

export interface SimulatedDay {
  day: string;
  timezone: string;
  start: number;
  end: number;
  rooms: string[];
  events: DayEvent[];
  /** Meetings held (one `meeting` row each), and how many were no-shows / ready at T-15 / at start. */
  meetings: { total: number; noShows: number; readyT15: number; readyAtStart: number; late: number };
  /** Failing check outcomes per check name. */
  failures: Record<string, number>;
  count(name: keyof BusEvents): number;
}

const MIN = 60_000;
const READY_CHECKS = ['temperature_in_band', 'lights_on', 'display_on', 'mic_test', 'devices_online'];

export function simulatedDay(timezone = 'Asia/Shanghai', day = localDate(Date.now() - 24 * 3600_000, timezone)): SimulatedDay {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const at = (h: number, min = 0) => zonedTime(y, m, d, timezone, h, min);
  const events: DayEvent[] = [];
  const rooms = ['3F-301', '3F-302', '5F-501'];
  const meetings = { total: 0, noShows: 0, readyT15: 0, readyAtStart: 0, late: 0 };
  const failures: Record<string, number> = {};
  const last = new Map<string, { value: PointValue | null; quality: Quality }>();
  const point = (t: number, room: string, id: string, value: PointValue | null, quality: Quality = 'good') => {
    const key = `${room}/${id}`;
    const previous = last.get(key) ?? { value: null, quality: 'offline' as Quality };
    last.set(key, { value, quality });
    events.push({ at: t, name: 'point', payload: { room, point: id, device: id.split('.')[0]!, value, ts: t, quality, previous } });
  };

  rooms.forEach((room, r) => {
    const devices = ['hvac', 'lights', 'audio', 'door', 'occupancy', 'display'];
    for (const dev of devices) events.push({ at: at(7), name: 'device', payload: { room, device: dev, online: true, errors: 0, ts: at(7) } });
    // Modbus latency every 30 s (thinned by the recorder); a short outage of the display in 3F-302.
    for (let t = at(7, 1); t < at(19); t += 30_000) events.push({ at: t, name: 'device', payload: { room, device: 'hvac', online: true, latencyMs: 8 + ((t / 30_000) % 7), errors: 0, ts: t } });
    if (room === '3F-302') {
      events.push({ at: at(13, 10), name: 'device', payload: { room, device: 'display', online: false, errors: 1, lastError: 'no answer', ts: at(13, 10) } });
      events.push({ at: at(13, 40), name: 'device', payload: { room, device: 'display', online: true, errors: 1, ts: at(13, 40) } });
    }
    // Telemetry: temperature every 2 minutes, other points around the meetings.
    for (let t = at(7), i = 0; t <= at(19); t += 2 * MIN, i++) point(t, room, 'hvac.temperature', Math.round((23 + 1.5 * Math.sin(i / 20 + r)) * 10) / 10);
    point(at(7), room, 'hvac.setpoint', 23);
    point(at(7), room, 'hvac.power', false);
    point(at(7), room, 'lights.main.on', false);
    point(at(7), room, 'lights.main.level', 0);
    point(at(7), room, 'occupancy.present', false);
    point(at(7), room, 'occupancy.count', 0);
    point(at(7), room, 'door.contact', 'closed');
    point(at(7), room, 'display.power', false);
    for (let mic = 1; mic <= 2; mic++) point(at(7), room, `audio.mic.${mic}.level`, -90);
    events.push({ at: at(8), name: 'activity', payload: { room, kind: 'routine', name: 'opening', result: 'ok', ts: at(8) } });
    point(at(8), room, 'lights.main.on', true);
    point(at(8), room, 'lights.main.level', 20);
    point(at(8, 1), room, 'door.contact', 'open');

    const slots: [number, number, number, number][] = [
      [9, 0, 10, 0],
      [11, 0, 12, 0],
      [14, 0, 15, 30],
      [16, 0, 17, 0],
    ];
    slots.forEach(([sh, sm, eh, em], k) => {
      const start = at(sh, sm);
      const end = at(eh, em);
      const id = `${room}-${day}-${k + 1}`;
      const level: MeetingLevel = k === 2 ? 'vip3' : 'normal';
      const noShow = k === 3 && room !== '3F-301';
      const failing = room === '3F-302' && k === 1 ? ['temperature_in_band'] : room === '5F-501' && k === 0 ? ['mic_test'] : [];
      const step = (t: number, name: string) => events.push({ at: t, name: 'activity', payload: { room, kind: 'step', name, result: 'ok', meetingId: id, ts: t } });
      step(start - 45 * MIN, 'hvac_precondition');
      point(start - 45 * MIN, room, 'hvac.power', true);
      events.push({ at: start - 45 * MIN, name: 'command', payload: { room, device: 'hvac', point: 'hvac.power', requested: true, sent: true, clamped: false, commandId: `${id}-c1`, ts: start - 45 * MIN } });
      step(start - 30 * MIN, 'av_on');
      point(start - 30 * MIN, room, 'display.power', true);
      for (let mic = 1; mic <= 2; mic++) point(start - 30 * MIN + mic * 1000, room, `audio.mic.${mic}.level`, failing.includes('mic_test') && mic === 2 ? -80 : -20 - mic);
      const check = (t: number, stepName: string, name: string) => {
        const fails = failing.includes(name) && stepName === 'ready';
        if (fails) failures[name] = (failures[name] ?? 0) + 1;
        events.push({
          at: t,
          name: 'check',
          payload: { room, meetingId: id, level, check: name, status: fails ? 'fail' : 'pass', step: stepName, ts: t, ...(name === 'temperature_in_band' ? { observed: fails ? 25.2 : 23.1, expected: '22–24 °C' } : name === 'mic_test' ? { observed: fails ? [-21, -80] : [-21, -22], expected: '≥ -40 dBFS' } : {}) },
        });
      };
      check(start - 30 * MIN + 5000, 'av_on', 'mic_test');
      events.push({ at: start - 15 * MIN, name: 'activity', payload: { room, kind: 'scene', name: 'meeting', result: 'ok', meetingId: id, ts: start - 15 * MIN } });
      events.push({ at: start - 15 * MIN, name: 'command', payload: { room, device: 'lights', point: 'lights.main.level', requested: 120, sent: 100, clamped: true, commandId: `${id}-c2`, ts: start - 15 * MIN } });
      point(start - 15 * MIN, room, 'lights.main.level', 100);
      step(start - 15 * MIN, 'ready');
      for (const name of READY_CHECKS) check(start - 15 * MIN + 1000, 'ready', name);
      for (const f of failing) {
        events.push({ at: start - 15 * MIN + 1000, name: 'alert', payload: { id: `${room}/${f}/${id}`, room, meetingId: id, check: f, state: 'raised', severity: 'critical', message: `${room}: ${f} failed`, minutesToStart: 15, ts: start - 15 * MIN + 1000 } });
        // 3F-302's alert stays open to the end of the day (the overview shows it).
        if (room !== '3F-302') events.push({ at: start + 10 * MIN, name: 'alert', payload: { id: `${room}/${f}/${id}`, room, meetingId: id, check: f, state: 'cleared', severity: 'critical', message: `${room}: ${f} resolved`, ts: start + 10 * MIN } });
      }
      step(start - 5 * MIN, 'final_sound');
      check(start - 5 * MIN, 'final_sound', 'master_unmuted');
      if (!noShow) {
        point(start - 3 * MIN, room, 'occupancy.present', true);
        point(start - 3 * MIN, room, 'occupancy.count', 6 + k);
      }
      const ready = failing.length === 0;
      const verdict = { room, meetingId: id, level, start, end, readyAtReadyCheck: ready, readyAtStart: ready || room === '5F-501', minutesReadyBeforeStart: ready ? 16 : room === '5F-501' ? 2 : null, minutesLate: k === 1 && room === '3F-301' ? 7 : 0, minutesInBandBeforeStart: ready ? 20 : null, hvacMinutes: 45 + (end - start) / MIN, failingChecks: failing, noShow: false, ts: start };
      events.push({ at: start, name: 'verdict', payload: verdict });
      step(start, 'session_start');
      meetings.total++;
      if (verdict.readyAtReadyCheck) meetings.readyT15++;
      if (verdict.readyAtStart) meetings.readyAtStart++;
      if (verdict.minutesLate > 0) meetings.late++;
      if (noShow) {
        meetings.noShows++;
        const t = start + 15 * MIN;
        events.push({ at: t, name: 'verdict', payload: { ...verdict, noShow: true, ts: t } });
        events.push({ at: t, name: 'activity', payload: { room, kind: 'no_show', name: 'no_show', result: 'ok', meetingId: id, ts: t } });
        // Lights left on in the released room are switched off after the grace period.
        events.push({ at: t + 10 * MIN, name: 'activity', payload: { room, kind: 'release', name: 'lights_grace', result: 'ok', ts: t + 10 * MIN } });
      }
      const close = noShow ? start + 15 * MIN : end;
      point(close + MIN, room, 'occupancy.present', false);
      point(close + MIN, room, 'occupancy.count', 0);
      step(close + 5 * MIN, 'close');
      events.push({ at: close + 5 * MIN, name: 'activity', payload: { room, kind: 'close', name: 'close', result: 'ok', meetingId: id, ts: close + 5 * MIN } });
      point(close + 5 * MIN, room, 'display.power', false);
      point(close + 5 * MIN, room, 'lights.main.level', 20);
      point(close + 5 * MIN, room, 'hvac.power', false);
    });
    // P8: lights left on in an empty room until the evening sweep switches them off.
    events.push({ at: at(18, 30), name: 'activity', payload: { room, kind: 'routine', name: 'end_of_day', result: 'ok', ts: at(18, 30) } });
    events.push({ at: at(18, 30), name: 'command', payload: { room, device: 'lights', point: 'lights.main.on', requested: false, sent: false, clamped: false, commandId: `${room}-eod`, ts: at(18, 30) } });
    point(at(18, 30), room, 'lights.main.on', false);
    point(at(18, 30), room, 'lights.main.level', 0);
    point(at(18, 31), room, 'door.contact', 'closed');
  });
  events.sort((a, b) => a.at - b.at);
  return {
    day,
    timezone,
    start: at(7),
    end: at(19),
    rooms,
    events,
    meetings,
    failures,
    count: (name) => events.filter((e) => e.name === name).length,
  };
}

/** Emits the day's events at their times on a stepped virtual clock, letting I/O flow as it goes. */
export async function playDay(day: SimulatedDay, bus: EventBus, clock: VirtualClock, until = day.end + 10 * MIN): Promise<void> {
  let n = 0;
  for (const e of day.events) {
    if (e.at > clock.now()) await clock.advanceTo(e.at);
    (bus.emit as (name: string, payload: unknown) => void)(e.name, e.payload);
    if (++n % 200 === 0) await new Promise((r) => setImmediate(r));
  }
  await clock.advanceTo(until);
}
