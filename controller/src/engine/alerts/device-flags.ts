import type { Room, Site } from '../../config/load.ts';
import { flagKind, type FlagKind } from '../../config/kind-contracts.ts';
import type { EventBus } from '../../model/bus.ts';
import type { Clock } from '../../model/clock.ts';
import type { ResolvedDevice, ResolvedPoint } from '../../model/devices.ts';
import { localTime } from '../../model/local-time.ts';
import type { Meeting } from '../../model/meetings.ts';
import type { PointUpdate } from '../../model/points.ts';
import type { StateReader } from '../readiness/checks.ts';
import type { AlertBook } from './alert-book.ts';

/**
 * A device's own fault and alarm flags (config/kind-contracts.ts: `fault`,
 * `<part>_fault`, `alarm`, `<part>_alarm`, read-only booleans) are facts the device
 * states, not predictions, so they are alerted whether or not a meeting is ahead:
 *   - `fault:<device>` while any fault flag of the device reads true; cleared once
 *     every one reads false, with the reason. The same flags fail devices_online
 *     (readiness/checks.ts), whose alert the readiness watch then leaves to this one.
 *   - `alarm:<point>` for each maintenance alarm (a dirty filter): a warning; the room
 *     can still be ready.
 * A flag that goes stale or offline changes nothing: the device's silence is its
 * devices_online alert, not a cleared fault.
 */
export interface DeviceFlagOptions {
  site: Site;
  state: StateReader;
  bus: EventBus;
  clock: Clock;
  alerts: AlertBook;
  /** The meeting a room's conditions are about now (the readiness watch's focus), to say what depends on it. */
  focus?: (room: string, now: number) => Meeting | undefined;
}

interface Flag {
  room: Room;
  device: ResolvedDevice;
  point: ResolvedPoint;
  kind: FlagKind;
}

const MIN = 60_000;

export const faultCheck = (device: string) => `fault:${device}`;
export const alarmCheck = (point: string) => `alarm:${point}`;

export class DeviceFlagWatch {
  private flags = new Map<string, Flag>();
  private off?: () => void;

  constructor(private o: DeviceFlagOptions) {
    for (const room of o.site.rooms)
      for (const device of room.devices)
        for (const point of device.points) {
          const kind = flagKind(device.profile.kind, point.id.slice(device.name.length + 1), point.def);
          if (kind) this.flags.set(`${room.id}\u0000${point.id}`, { room, device, point, kind });
        }
  }

  start(): void {
    if (this.flags.size === 0) return;
    this.off = this.o.bus.on('point', (e) => this.onPoint(e));
    // Readings that came before the engine started (and alerts restored from the last run) are judged now.
    for (const flag of this.flags.values()) {
      const s = this.o.state.get(flag.room.id, flag.point.id);
      if (s?.quality === 'good' && typeof s.value === 'boolean') this.judge(flag, s.value);
    }
  }

  stop(): void {
    this.off?.();
    this.off = undefined;
  }

  private onPoint(e: PointUpdate): void {
    const flag = this.flags.get(`${e.room}\u0000${e.point}`);
    if (flag && e.quality === 'good' && typeof e.value === 'boolean') this.judge(flag, e.value);
  }

  private judge(flag: Flag, value: boolean): void {
    if (flag.kind === 'alarm') this.alarm(flag, value);
    else this.fault(flag.room, flag.device);
  }

  private fault(room: Room, device: ResolvedDevice): void {
    const { alerts, state } = this.o;
    const check = faultCheck(device.name);
    const flags = [...this.flags.values()].filter((f) => f.kind === 'fault' && f.room === room && f.device === device);
    const readings = flags.map((f) => ({ id: f.point.id, s: state.get(room.id, f.point.id) }));
    const raised = readings.filter((r) => r.s?.quality === 'good' && r.s.value === true).map((r) => `${r.id}=true`);
    if (raised.length > 0) {
      alerts.raise({ room: room.id, check, expected: 'no fault reported', observed: raised, ...this.ahead(room), message: `${room.id}: ${device.name} (${device.profile.id}) reports a fault: ${raised.join(', ')}${this.dependsOn(room)}` });
    } else if (readings.every((r) => r.s?.quality === 'good' && r.s.value === false)) {
      alerts.clear(room.id, check, undefined, `${readings.map((r) => `${r.id}=false`).join(', ')}: ${device.name} no longer reports a fault`);
    }
  }

  private alarm(flag: Flag, on: boolean): void {
    const { room, device, point } = flag;
    const check = alarmCheck(point.id);
    if (!on) return void this.o.alerts.clear(room.id, check, undefined, `${point.id}=false: ${device.name} no longer reports it`);
    this.o.alerts.raise({ room: room.id, check, severity: 'warning', expected: `${point.id}=false`, observed: `${point.id}=true`, message: `${room.id}: ${device.name} (${device.profile.id}) reports ${point.id} (maintenance; the room can still be ready)` });
  }

  private ahead(room: Room): { meetingId?: string; minutesToStart?: number } {
    const now = this.o.clock.now();
    const m = this.o.focus?.(room.id, now);
    return m ? { meetingId: m.id, minutesToStart: (m.start - now) / MIN } : {};
  }

  private dependsOn(room: Room): string {
    const now = this.o.clock.now();
    const m = this.o.focus?.(room.id, now);
    if (!m) return '';
    const at = localTime(m.start, this.o.site.config.site.timezone);
    return m.start <= now ? `; meeting ${m.id} in session since ${at}` : `; meeting ${m.id} at ${at} (in ${Math.round((m.start - now) / MIN)} min) depends on it`;
  }
}
