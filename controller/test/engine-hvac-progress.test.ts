import { describe, expect, it } from 'vitest';
import { AlertBook } from '../src/engine/alerts/alert-book.ts';
import { HvacProgress } from '../src/engine/hvac/hvac-progress.ts';
import { EventBus } from '../src/model/bus.ts';
import type { AlertEvent } from '../src/model/events.ts';
import type { Meeting } from '../src/model/meetings.ts';
import { RoomStateStore } from '../src/model/room-state.ts';
import { VirtualClock } from '../src/model/virtual-clock.ts';
import { siteFromYaml } from './helpers/site.ts';

/**
 * P5 watched while it happens: a room pre-conditioning for a meeting whose temperature
 * will not be in the band by T-15 is alerted with the predicted cause, minutes ahead,
 * on the meeting's temperature_in_band condition. The room state is the real store fed
 * readings as the Modbus adapter feeds them.
 */
const site = siteFromYaml(`
site: { id: t, name: Test, timezone: Asia/Shanghai }
rooms:
  - id: R1
    name: Room
    capacity: 8
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { host: 127.0.0.1, unit: 1 } }
`);
const room = site.rooms[0]!;
const T0 = Date.parse('2025-07-16T08:00:00+08:00');
const MIN = 60_000;
/** Meeting at 09:15: T-15 is 09:00, an hour after the HVAC starts at 08:00. */
const meeting = { id: 'M', room: 'R1', start: T0 + 75 * MIN, end: T0 + 135 * MIN, level: 'normal', status: 'scheduled', plannedAt: T0, attendees: 4 } as unknown as Meeting;

async function play(kPerMinute: number, minutes: number, from = 27) {
  const clock = VirtualClock.stepped(T0);
  const bus = new EventBus();
  const store = new RoomStateStore(site, bus, clock);
  const alerts: AlertEvent[] = [];
  bus.on('alert', (a) => alerts.push(a));
  const book = new AlertBook(bus, clock);
  const progress = new HvacProgress({ rooms: site.rooms, state: store, clock, alerts: book, preparing: () => 'M', meeting: () => meeting, band: () => [22, 24], timeZone: 'Asia/Shanghai' });
  const point = room.devices[0]!.points.find((p) => p.id === 'hvac.temperature')!;
  progress.start();
  for (let m = 0; m <= minutes; m++) {
    store.reading(point, Math.round((from + kPerMinute * m) * 10) / 10);
    await clock.advanceTo(T0 + m * MIN + 1);
  }
  progress.stop();
  return alerts;
}

describe('HVAC progress (P5)', () => {
  it('a room cooling fast enough to be in the band by T-15 raises nothing', async () => {
    // 27 °C, −0.1 K/min: 24 °C after 30 min, at 08:30, well before 09:00.
    expect(await play(-0.1, 40)).toEqual([]);
  });

  it('a room cooling too slowly is alerted ahead with the time it will reach the band', async () => {
    // 27 °C, −0.03 K/min: at 08:18 it is 26.5 °C, 2.5 K from the band = 83 min more: 09:41 — after T-15 (09:00).
    const alerts = await play(-0.03, 25);
    expect(alerts.map((a) => [a.id, a.state, a.meetingId])).toEqual([['R1/temperature_in_band', 'raised', 'M']]);
    // Followed from the first tick (08:01): 15 min of readings, then three late forecasts in a row (08:16–08:18).
    expect(alerts[0]!.ts).toBe(T0 + 18 * MIN);
    expect(alerts[0]!.message).toMatch(/^R1: at 1\.8 K\/h it will reach the band at 09:4[12], after T-15 \(09:00\); meeting M at 09:15$/);
    expect(alerts[0]!.minutesToStart).toBe(57);
  });

  it('a unit that runs but does not cool the room (it ignores its setpoint) is alerted with that cause', async () => {
    const alerts = await play(0, 25);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.message).toMatch(/^R1: HVAC on for 17 min but the room is not cooling \(27 °C, \+0\.0 K\/h\); meeting M at 09:15$/);
  });
});
