import { loadConfigText, type Room, type Site } from '../../controller/src/config/load.ts';
import type { PointWriter, WriteResult } from '../../controller/src/model/adapter.ts';
import { resolveDevice } from '../../controller/src/model/devices.ts';
import type { ResolvedPoint } from '../../controller/src/model/devices.ts';
import type { PointValue } from '../../controller/src/model/points.ts';
import type { RoomStateStore } from '../../controller/src/model/room-state.ts';
import type { MeetingRequest } from '../../controller/src/model/meetings.ts';
import { mulberry32 as rng } from '../../devices/sim/random.ts';

/**
 * A month of a big site for the schedule bench: N rooms (display, lights, a two-mic DSP,
 * a door, a fan-coil unit; no occupancy sensor, so closes go by the clock) and M meetings
 * on working days between 08:00 and 18:00, none overlapping in a room, a few VIP ones.
 * Deterministic (a fixed-seed generator), so two runs book the same month.
 */
export const BENCH_TZ = 'Asia/Shanghai';

export function bigSite(rooms: number): Site {
  const base = loadConfigText(`
site: { id: bench, name: Bench, timezone: ${BENCH_TZ} }
rooms:
  - id: R0
    name: R0
    capacity: 8
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { host: 127.0.0.1, unit: 1 } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: b/R0/lights } }
      - { name: audio, profile: dsp-mqtt, mqtt: { base: b/R0/dsp }, channels: { mic: 2 } }
      - { name: door, profile: door-mqtt, mqtt: { base: b/R0/door } }
      - { name: display, profile: display-mqtt, mqtt: { base: b/R0/display } }
    scenes:
      meeting: { steps: [ { set: lights.main.on, value: true }, { set: lights.main.level, value: 80 } ] }
`).site!;
  const template = base.rooms[0]!;
  const list: Room[] = [];
  for (let i = 0; i < rooms; i++) {
    const id = `R${i}`;
    const devices = template.devices.map((d) =>
      resolveDevice(id, { name: d.name, profile: d.profile.id, required: true, ...(d.modbus ? { modbus: { host: '127.0.0.1', unit: 1 } } : { mqtt: { base: `b/${id}/${d.name}` } }), ...(d.name === 'audio' ? { channels: { mic: 2 } } : {}) }, d.profile, []),
    );
    list.push({ ...template, id, name: id, devices });
  }
  return { ...base, rooms: list };
}


/** Meetings on the working days of the month starting at `monthStart` (local midnight of day 1). */
export function monthOfMeetings(site: Site, total: number, monthStart: number, days: number): MeetingRequest[] {
  const random = rng(20250716);
  const workdays: number[] = [];
  for (let d = 0; d < days; d++) {
    const weekday = new Date(monthStart + d * 86_400_000 + 8 * 3600_000).getUTCDay();
    if (weekday !== 0 && weekday !== 6) workdays.push(d);
  }
  const perRoom = Math.ceil(total / site.rooms.length);
  const out: MeetingRequest[] = [];
  for (const room of site.rooms) {
    // Distinct (day, slot) pairs per room: slots of 30 min from 08:00, meetings 30–90 min inside their slot block.
    const used = new Set<string>();
    for (let k = 0; k < perRoom && out.length < total; k++) {
      let day = 0;
      let slot = 0;
      do {
        day = workdays[Math.floor(random() * workdays.length)]!;
        slot = Math.floor(random() * 6) * 3; // 8 blocks of 90 min → 08:00, 09:30, … (6 used)
      } while (used.has(`${day}:${slot}`));
      used.add(`${day}:${slot}`);
      const start = monthStart + day * 86_400_000 + (8 * 60 + slot * 30) * 60_000;
      const minutes = 30 + Math.floor(random() * 3) * 30;
      const r = random();
      const level = r < 0.002 ? 'vip1' : r < 0.007 ? 'vip2' : r < 0.02 ? 'vip3' : 'normal';
      out.push({ id: `${room.id}-m${k}`, room: room.id, start, end: start + minutes * 60_000, level, attendees: 4 });
    }
  }
  return out;
}

/**
 * The devices, as a stand-in that answers at once: every write shows in room state
 * immediately (a mic under test reports a level), every point starts fresh. It lets the
 * bench measure the engine's own work: planning, checks, proven writes, records.
 */
export class EchoBuilding implements PointWriter {
  private points = new Map<string, ResolvedPoint>();

  constructor(
    site: Site,
    private store: RoomStateStore,
  ) {
    for (const room of site.rooms) for (const d of room.devices) for (const p of d.points) this.points.set(`${room.id}\u0000${p.id}`, p);
    for (const room of site.rooms) for (const [id, v] of Object.entries(INITIAL)) this.set(room.id, id, v);
  }

  write(room: string, point: string, value: PointValue): Promise<WriteResult> {
    this.set(room, point, value);
    const mic = /^audio\.mic\.(\d+)\.test$/.exec(point);
    if (mic && value === true) this.set(room, `audio.mic.${mic[1]}.level`, -20);
    return Promise.resolve({ room, point, requested: value, sent: value, clamped: false, commandId: '' });
  }

  private set(room: string, point: string, value: PointValue): void {
    const p = this.points.get(`${room}\u0000${point}`);
    if (p) this.store.reading(p, value);
  }
}

const INITIAL: Record<string, PointValue> = {
  'hvac.temperature': 23,
  'hvac.setpoint': 23,
  'hvac.mode': 'cool',
  'hvac.power': false,
  'lights.main.on': false,
  'lights.main.level': 0,
  'audio.master.mute': true,
  'audio.mic.1.mute': true,
  'audio.mic.2.mute': true,
  'audio.mic.1.test': false,
  'audio.mic.2.test': false,
  'door.contact': 'closed',
  'door.locked': true,
  'display.power': false,
};
