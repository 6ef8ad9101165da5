import type { Room } from '../../config/load.ts';
import type { ResolvedDevice } from '../../model/devices.ts';
import type { PointValue } from '../../model/points.ts';
import type { StateReader } from '../readiness/checks.ts';
import type { WriteRequest } from '../reconcile/enforcement.ts';

/**
 * The points of a room that the procedures act on, found by device kind and point
 * key (device profiles are data: a room with no display simply has no display
 * writes). Also the "is this device there at all" rule the engine uses before
 * writing: a device the adapters report offline is not written to — its silence is
 * the devices_online check's alert, not a string of failed-write alerts.
 */
const devices = (room: Room, kind: string): ResolvedDevice[] => room.devices.filter((d) => d.profile.kind === kind);
const has = (d: ResolvedDevice, key: string) => d.points.some((p) => p.id === `${d.name}.${key}`);
const ids = (room: Room, kind: string, key: string) => devices(room, kind).filter((d) => has(d, key)).map((d) => `${d.name}.${key}`);

export const hvacUnits = (room: Room) => devices(room, 'hvac');
export const displays = (room: Room) => ids(room, 'display', 'power');
export const freshAir = (room: Room) => ids(room, 'fresh_air', 'power');
export const freshAirSpeeds = (room: Room) => ids(room, 'fresh_air', 'speed');
export const boilers = (room: Room) => ids(room, 'boiler', 'power');
export const doorLocks = (room: Room) => ids(room, 'door', 'locked');
export const doorContacts = (room: Room) => ids(room, 'door', 'contact');
export const windowContacts = (room: Room) => ids(room, 'window', 'contact');
export const masterMutes = (room: Room) => ids(room, 'audio', 'master.mute');

/** Every light zone: its on/off point and, if dimmable, its level point. */
export function lightZones(room: Room): { on: string; level?: string }[] {
  return devices(room, 'lighting').flatMap((d) =>
    d.points
      .filter((p) => p.id.endsWith('.on'))
      .map((p) => {
        const level = `${p.id.slice(0, -'.on'.length)}.level`;
        return { on: p.id, level: d.points.some((q) => q.id === level) ? level : undefined };
      }),
  );
}

/** Every microphone channel with its points. */
export function mics(room: Room): { level: string; mute?: string; test?: string }[] {
  return devices(room, 'audio').flatMap((d) =>
    d.points.flatMap((p) => {
      const m = p.id.slice(d.name.length + 1).match(/^mic\.([^.]+)\.level$/);
      if (!m) return [];
      const base = `${d.name}.mic.${m[1]}`;
      return [{ level: p.id, mute: has(d, `mic.${m[1]}.mute`) ? `${base}.mute` : undefined, test: has(d, `mic.${m[1]}.test`) ? `${base}.test` : undefined }];
    }),
  );
}

/** The meeting scene's lighting writes (P4), else every zone on. */
export function meetingLights(room: Room): WriteRequest[] {
  const lighting = new Set(devices(room, 'lighting').map((d) => d.name));
  const scene = room.scenes[room.policy.meeting_scene];
  const fromScene = (scene?.steps ?? []).flatMap((s) => ('set' in s && lighting.has(s.set.split('.')[0]!) ? [{ set: s.set, value: s.value }] : []));
  return fromScene.length > 0 ? fromScene : lightZones(room).map((z) => ({ set: z.on, value: true }));
}

/** A device counts as present when its adapter says online or any of its points is fresh. */
export function deviceOnline(state: StateReader, room: Room, deviceName: string): boolean {
  if (state.deviceHealth(room.id, deviceName)?.online === true) return true;
  const d = room.devices.find((x) => x.name === deviceName);
  return !!d?.points.some((p) => state.get(room.id, p.id)?.quality === 'good');
}

/** The device a room point belongs to. */
export function deviceOf(room: Room, point: string): ResolvedDevice | undefined {
  return room.devices.find((d) => point.startsWith(`${d.name}.`));
}

/** A point's value if its quality is good. */
export function good(state: StateReader, room: Room, point: string): PointValue | undefined {
  const s = state.get(room.id, point);
  return s && s.quality === 'good' && s.value !== null ? s.value : undefined;
}

/** P16: the highest good CO2 reading of the room (room sensors, and duct sensors that are fitted: not 0). */
export function roomCo2(state: StateReader, room: Room): number | undefined {
  const values = [...ids(room, 'air_quality', 'co2'), ...ids(room, 'fresh_air', 'co2')].map((p) => good(state, room, p)).filter((v): v is number => typeof v === 'number' && v > 0);
  return values.length ? Math.max(...values) : undefined;
}

/** Mean of the good readings of the room's HVAC temperature sensors, if any. */
export function roomTemperature(state: StateReader, room: Room): number | undefined {
  const values = hvacUnits(room)
    .map((d) => good(state, room, `${d.name}.temperature`))
    .filter((v): v is number => typeof v === 'number');
  if (values.length === 0) return undefined;
  return Math.round((values.reduce((a, b) => a + b, 0) / values.length) * 10) / 10;
}

/** P15: the room's headcount from its occupancy sensors (counts only), if any reports one. */
export function roomCount(state: StateReader, room: Room): number | undefined {
  const values = ids(room, 'occupancy', 'count').map((p) => good(state, room, p)).filter((v): v is number => typeof v === 'number');
  return values.length ? Math.max(...values) : undefined;
}
