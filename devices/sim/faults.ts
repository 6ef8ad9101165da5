import type { ResolvedDevice } from '../../controller/src/model/devices.ts';
import { channelsOf, type FaultView } from './sim-device.ts';

/**
 * Faults the simulated building can be given, from the CLI (`roomctl sim fault
 * ROOM KIND [--clear]`), its HTTP control API or a test. A kind may name its
 * target after a colon: `dead_mic:3`, `fcu_offline:hvac2`, `lights_stuck_on:board`;
 * without one it takes the default below. `device_reboot` also takes how long the
 * device stays dark, in seconds: `device_reboot:display:30`.
 */
export const FAULT_KINDS = {
  dead_mic: 'a microphone produces no level at all (target: mic channel; default the first)',
  low_mic_battery: 'a wireless microphone gets a worn, nearly flat battery (12 %) that takes no charge and runs out in use (target: mic channel; default the first wireless one); clearing swaps in a charged one',
  fcu_ignores_setpoint: 'a fan-coil unit acknowledges setpoints but keeps controlling to its old one (target: device; default the first FCU)',
  fcu_offline: 'a fan-coil unit stops answering Modbus (target: device; default the first FCU)',
  lights_stuck_on: 'a lighting relay is stuck on (target: zone; default every zone)',
  door_left_open: 'the door is propped open (target: device; default the door)',
  display_no_power: 'the display takes the power-on command but never comes on (target: device; default the display)',
  sensor_garbage: 'a sensor publishes garbage: broken JSON, wrong types, impossible values (target: device; default the CO2 sensor, else the occupancy sensor)',
  window_left_open: 'a window is left open (target: device; default the window)',
  device_offline: 'a device drops off the network: no Modbus answers, or its MQTT connection is lost (target: device; required)',
  device_reboot:
    'a device loses power: offline for a while (default 90 s, device_reboot:<device>:<seconds>), then back with its factory state: power off, factory setpoint, displays and lights off, DSP muted; clears itself once back (target: any device; default the first FCU)',
} as const;

/** How long a `device_reboot` keeps the device dark when no duration is given, ms of clock time. */
export const REBOOT_DEFAULT_MS = 90_000;

export type FaultKind = keyof typeof FAULT_KINDS;

export interface ActiveFault {
  room: string;
  kind: FaultKind;
  /** Device name, mic channel, light zone, or "*" (all zones). */
  target: string;
  /** Clock time it was injected. */
  since: number;
  /** Clock time it clears itself (device_reboot: the device is back). */
  until?: number;
}

export class FaultError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FaultError';
  }
}

export interface FaultRoom {
  id: string;
  devices: ResolvedDevice[];
  wirelessMics: string[];
}

export function isFaultKind(kind: string): kind is FaultKind {
  return Object.hasOwn(FAULT_KINDS, kind);
}

/** "dead_mic:3" → { kind: dead_mic, target: "3" }; "device_reboot:hvac:30" also → { durationMs: 30000 }. */
export function parseFault(text: string): { kind: FaultKind; target?: string; durationMs?: number } {
  const [kind = '', target, duration] = text.trim().split(':', 3);
  if (!isFaultKind(kind)) throw new FaultError(`unknown fault kind "${kind}" (known: ${Object.keys(FAULT_KINDS).join(', ')})`);
  if (kind !== 'device_reboot' || !duration) return { kind, target: target || undefined };
  const seconds = Number(duration);
  if (!/^\d+(\.\d+)?$/.test(duration) || !(seconds > 0) || seconds > 86_400)
    throw new FaultError(`device_reboot: "${duration}" is not a duration in seconds (device_reboot:<device>:<seconds>, 0 < seconds ≤ 86400)`);
  return { kind, target: target || undefined, durationMs: Math.round(seconds * 1000) };
}

export class FaultBook {
  private active: ActiveFault[] = [];
  private rooms: Map<string, FaultRoom>;

  constructor(rooms: FaultRoom[]) {
    this.rooms = new Map(rooms.map((r) => [r.id, r]));
  }

  /**
   * Injects (or with `clear`, removes) a fault; returns it with its target resolved, and
   * whether the book changed (false: it was already active, or there was nothing to clear).
   */
  set(roomId: string, kindText: string, clear: boolean, now: number): { fault: ActiveFault; changed: boolean } {
    const room = this.rooms.get(roomId);
    if (!room) throw new FaultError(`unknown room "${roomId}" (known: ${[...this.rooms.keys()].join(', ')})`);
    const { kind, target: given, durationMs } = parseFault(kindText);
    const target = resolveTarget(room, kind, given);
    const fault: ActiveFault = { room: roomId, kind, target, since: now };
    if (kind === 'device_reboot') fault.until = now + (durationMs ?? REBOOT_DEFAULT_MS);
    const index = this.active.findIndex((f) => f.room === roomId && f.kind === kind && f.target === target);
    const existing = index >= 0 ? this.active[index]! : undefined;
    if (clear && existing) this.active.splice(index, 1);
    else if (!clear && !existing) this.active.push(fault);
    return { fault: { ...(existing ?? fault) }, changed: clear ? !!existing : !existing };
  }

  list(): ActiveFault[] {
    return this.active.map((f) => ({ ...f }));
  }

  has(roomId: string, kind: FaultKind, target: string): boolean {
    return this.active.some((f) => f.room === roomId && f.kind === kind && (f.target === target || f.target === '*'));
  }

  view(roomId: string): FaultView {
    return { has: (kind, target) => isFaultKind(kind) && this.has(roomId, kind, target) };
  }
}

function byKind(room: FaultRoom, kinds: string[]): ResolvedDevice[] {
  return room.devices.filter((d) => kinds.includes(d.profile.kind));
}

function micChannels(room: FaultRoom): string[] {
  return byKind(room, ['audio']).flatMap((d) => channelsOf(d, /^mic\.([a-z0-9_]+)\.level$/));
}

function resolveTarget(room: FaultRoom, kind: FaultKind, given: string | undefined): string {
  const deviceOf = (kinds: string[], what: string): string => {
    const candidates = byKind(room, kinds);
    if (given !== undefined) {
      if (!candidates.some((d) => d.name === given))
        throw new FaultError(`room ${room.id} has no ${what} "${given}"${candidates.length ? ` (has: ${candidates.map((d) => d.name).join(', ')})` : ''}`);
      return given;
    }
    const first = candidates[0];
    if (!first) throw new FaultError(`room ${room.id} has no ${what}`);
    return first.name;
  };
  switch (kind) {
    case 'dead_mic':
    case 'low_mic_battery': {
      const mics = micChannels(room);
      const pool = kind === 'low_mic_battery' ? mics.filter((m) => room.wirelessMics.includes(m)) : mics;
      if (given !== undefined) {
        if (!pool.includes(given))
          throw new FaultError(`room ${room.id} has no ${kind === 'low_mic_battery' ? 'wireless ' : ''}microphone ${given}${pool.length ? ` (has: ${pool.join(', ')})` : ''}`);
        return given;
      }
      if (!pool[0]) throw new FaultError(`room ${room.id} has no ${kind === 'low_mic_battery' ? 'wireless ' : ''}microphone`);
      return pool[0];
    }
    case 'fcu_ignores_setpoint':
    case 'fcu_offline':
      return deviceOf(['hvac'], 'fan-coil unit');
    case 'lights_stuck_on': {
      const zones = byKind(room, ['lighting']).flatMap((d) => channelsOf(d, /^([a-z0-9_]+)\.on$/));
      if (zones.length === 0) throw new FaultError(`room ${room.id} has no lights`);
      if (given === undefined || given === '*') return '*';
      if (!zones.includes(given)) throw new FaultError(`room ${room.id} has no light zone "${given}" (has: ${zones.join(', ')})`);
      return given;
    }
    case 'door_left_open':
      return deviceOf(['door'], 'door');
    case 'display_no_power':
      return deviceOf(['display'], 'display');
    case 'window_left_open':
      return deviceOf(['window'], 'window');
    case 'sensor_garbage': {
      if (given !== undefined) return deviceOf(['air_quality', 'occupancy', 'door', 'window', 'boiler', 'fire_alarm'], 'MQTT sensor');
      const sensor = byKind(room, ['air_quality'])[0] ?? byKind(room, ['occupancy'])[0];
      if (!sensor) throw new FaultError(`room ${room.id} has no CO2 or occupancy sensor`);
      return sensor.name;
    }
    case 'device_reboot':
      if (given === undefined) return deviceOf(['hvac'], 'fan-coil unit (name the device to reboot: device_reboot:<name>)');
      return deviceOf(
        room.devices.map((d) => d.profile.kind),
        'device',
      );
    case 'device_offline':
      if (given === undefined) throw new FaultError(`device_offline needs a device: device_offline:<name> (room ${room.id} has: ${room.devices.map((d) => d.name).join(', ')})`);
      return deviceOf(
        room.devices.map((d) => d.profile.kind),
        'device',
      );
  }
}
